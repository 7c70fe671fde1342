"""The intake's metrics through the official Prometheus client, one registry per service.

RED per route (``sre_intake_http_requests_total{method,route,status}``, the latency histogram
``sre_intake_http_request_duration_seconds{route}``) and saturation (``..._http_requests_in_flight``)
are counted by the app's request hooks;
everything the audit database knows (queue depth, executions by status, alerts, escalations,
token usage) is read at scrape time by :class:`StoreCollector` from ``service.metrics()`` — the same
numbers as the JSON form of ``GET /ops/metrics``, so the two forms never disagree.
``route`` is the Flask rule (``/webhook/<source>``), never the raw path, so label values stay bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "sre_intake"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
UNMATCHED = "<unmatched>"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# service.metrics() key -> help text (numbers become gauges; dicts become one gauge labelled `kind`)
HELP = {
    "queue_depth": "executions queued and not yet started",
    "active_runs": "runs in progress in this process",
    "alerts_received": "alerts recorded (every outcome)",
    "deduplicated": "alerts folded into an active execution",
    "expired": "executions expired before they ran",
    "cancelled": "executions cancelled",
    "rejected_deliveries": "webhook deliveries refused (bad payload, content type)",
    "success_rate": "fixed / (fixed + failed) over all finished runs",
    "tokens_last_hour": "LLM tokens used by runs in the last hour (running runs: their estimate)",
    "tokens_total": "LLM tokens used by all recorded runs",
    "executions": "executions by status",
    "alerts": "alerts by outcome",
    "escalations": "escalations by state",
}


class StoreCollector:
    """A custom collector: gauges computed from ``source()`` on each scrape."""

    def __init__(self, source: Callable[[], dict]):
        self.source = source

    def describe(self):
        return []  # values come from the database at scrape time; nothing to pre-register

    def collect(self):
        for key, value in self.source().items():
            help_text = HELP.get(key, key.replace("_", " "))
            if isinstance(value, dict):
                family = GaugeMetricFamily(f"{PREFIX}_{key}", help_text, labels=["kind"])
                for kind, number in sorted(value.items()):
                    if isinstance(number, (int, float)) and not isinstance(number, bool):
                        family.add_metric([str(kind)], number)
                yield family
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                yield GaugeMetricFamily(f"{PREFIX}_{key}", help_text, value=value)


class IntakeMetrics:
    """One service instance's registry: request counters and latency, plus the store's gauges."""

    def __init__(self, source: Callable[[], dict]):
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(f"{PREFIX}_http_requests", "HTTP requests answered, by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(f"{PREFIX}_http_request_duration_seconds",
                                 "time from request start to response, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge(f"{PREFIX}_http_requests_in_flight", "requests being answered now (saturation)",
                               registry=self.registry)
        self.registry.register(StoreCollector(source))
        self.active = 0  # the gauge's value, readable without a scrape (the JSON form)
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            self.active += 1
        self.in_flight.inc()

    def end(self) -> None:
        with self._lock:
            self.active -= 1
        self.in_flight.dec()

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        route = route or UNMATCHED
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def red(self) -> dict:
        """Requests, errors and duration per route (the JSON form's ``http`` section)."""
        routes: dict[str, dict] = {}
        for family in self.registry.collect():
            if family.name == f"{PREFIX}_http_requests":
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        entry = routes.setdefault(sample.labels["route"], {"requests": 0, "errors": 0,
                                                                           "by_status": {}})
                        count = int(sample.value)
                        entry["requests"] += count
                        entry["by_status"][sample.labels["status"]] = \
                            entry["by_status"].get(sample.labels["status"], 0) + count
                        if sample.labels["status"].startswith("5"):
                            entry["errors"] += count
            elif family.name == f"{PREFIX}_http_request_duration_seconds":
                for sample in family.samples:
                    if sample.name.endswith("_sum"):
                        routes.setdefault(sample.labels["route"], {"requests": 0, "errors": 0, "by_status": {}}
                                          )["duration_s_sum"] = round(sample.value, 6)
        return routes

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
