"""OpenTelemetry for the intake: metrics, traces and logs through the official SDK.

A no-op unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (and ``OTEL_SDK_DISABLED`` is not true): then
the SDK exports over OTLP/HTTP (protobuf) to ``<endpoint>/v1/traces``, ``/v1/metrics`` and
``/v1/logs``, with the SDK's own ``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout, per-signal
endpoints) and ``OTEL_METRIC_EXPORT_INTERVAL`` honoured; ``service.name`` is ``OTEL_SERVICE_NAME`` or
``sre-agent-intake``. The providers belong to the :class:`Telemetry` object, never to the
process-global OpenTelemetry state (which Laminar may own), so several services in one process do
not interfere and :meth:`Telemetry.shutdown` flushes and ends exactly what it started.

What is recorded (instrument names of the seed runtime, ``sre_agent.*``):
- metrics: ``webhooks.received`` (source, HTTP status), ``alerts.accepted`` (source, outcome),
  ``agent.run.duration`` (s; status, skill), ``agent.turns``, ``agent.tool_calls`` (tool, outcome),
  ``tokens.input``/``tokens.output``, ``executions.completed`` (status), ``escalations.sent``
  (reason), and the observable gauges ``intake.queue_depth`` and ``intake.active_runs``;
- spans: ``sre_agent.alert`` per execution (from the webhook that created it to its final status),
  its child ``sre_agent.agent.run`` per run, and under the run one ``sre_agent.agent.turn`` per agent
  step with its ``sre_agent.tool_call`` -- derived from the run's recorded actions with their real
  times (an action ends ``ended_s`` after the run started and took ``duration_s``; a turn runs from
  the previous action's end to its own, i.e. the model's decision plus the tool call);
- logs: the OpenTelemetry logging handler on the root logger, so every log record carries the trace
  and span id of the alert or run it was written under.

No token, key, command text or payload goes into an attribute: executions, services, priorities,
statuses, tool names and the program a command ran (its first word) only.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from openhands_driver.errors import UserError

ENV_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_SERVICE_NAME = "OTEL_SERVICE_NAME"
DEFAULT_SERVICE_NAME = "sre-agent-intake"
SCOPE = "openhands_driver.intake"
FINAL = ("fixed", "failed", "escalated", "expired", "cancelled", "needs_human", "rejected")
REMEMBERED = 10_000  # finished executions / sent escalations remembered so none is counted twice
_PROGRAM = re.compile(r"[^A-Za-z0-9._-]")
log = logging.getLogger("openhands_driver.intake.telemetry")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _iso_s(value: object) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None


def program(command: str) -> str:
    """The program a command ran (its first word's basename), safe as an attribute."""
    first = (command or "").strip().split(maxsplit=1)[0] if (command or "").strip() else ""
    return _PROGRAM.sub("", first.rsplit("/", 1)[-1])[:40]


def action_times(actions: list, run_start_s: float, run_end_s: float) -> list[tuple[float, float, float]]:
    """(turn start, tool start, tool end) in epoch seconds for each action, within the run.

    Recorded actions end ``ended_s`` after the run started and took ``duration_s``; an action
    without ``ended_s`` (older rows, stand-in runners) follows the previous one. A turn starts where
    the previous action ended (the first at the run's start)."""
    out, cursor = [], run_start_s
    for action in actions:
        duration = max(float(getattr(action, "duration_s", None) or 0.0), 0.0)
        ended_s = getattr(action, "ended_s", None)
        end = run_start_s + float(ended_s) if ended_s is not None else cursor + duration
        end = min(max(end, run_start_s), run_end_s)
        start = min(max(end - duration, run_start_s), end)
        out.append((min(cursor, start), start, end))
        cursor = max(cursor, end)
    return out


class Telemetry:
    """The intake's instruments and spans; every method is cheap and safe when disabled."""

    def __init__(self, *, enabled: bool = False, service_name: str = DEFAULT_SERVICE_NAME,
                 endpoint: str | None = None, env: Mapping[str, str] | None = None):
        self.enabled, self.service_name, self.started_s = enabled, service_name, time.time()
        self._providers: list[Any] = []
        self._handler: logging.Handler | None = None
        self._restore_level: logging.Logger | None = None
        self._lock = threading.Lock()
        self._alerts: dict[str, Span] = {}                    # execution id -> its open alert span
        self._done: OrderedDict[str, None] = OrderedDict()    # executions/escalations already counted
        self._gauges: dict[str, Callable[[], int | None]] = {}
        if enabled:
            tracer, meter = self._start_sdk(endpoint or "", os.environ if env is None else env)
        else:
            tracer, meter = trace.NoOpTracer(), metrics.NoOpMeter(SCOPE)
        self.tracer = tracer
        counter = meter.create_counter
        self.webhooks = counter("sre_agent.webhooks.received", "{request}", "webhook deliveries by source")
        self.alerts = counter("sre_agent.alerts.accepted", "{alert}", "alerts by source and outcome")
        self.run_duration = meter.create_histogram("sre_agent.agent.run.duration", "s",
                                                   "one agent run, end to end")
        self.turns = counter("sre_agent.agent.turns", "{turn}", "agent steps")
        self.tool_calls = counter("sre_agent.agent.tool_calls", "{call}", "tool calls by tool and outcome")
        self.tokens_in = counter("sre_agent.tokens.input", "{token}", "model input tokens")
        self.tokens_out = counter("sre_agent.tokens.output", "{token}", "model output tokens")
        self.completed = counter("sre_agent.executions.completed", "{execution}", "final executions by status")
        self.escalations = counter("sre_agent.escalations.sent", "{escalation}", "escalations delivered")
        for name, description in (("sre_agent.intake.queue_depth", "executions waiting to run"),
                                  ("sre_agent.intake.active_runs", "runs in progress")):
            meter.create_observable_gauge(name, [self._observer(name)], "{execution}", description)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Telemetry:
        """Enabled when OTEL_EXPORTER_OTLP_ENDPOINT is set; a bad setting is a UserError (exit 2)."""
        env = os.environ if env is None else env
        endpoint = (env.get(ENV_ENDPOINT) or "").strip()
        if not endpoint or (env.get("OTEL_SDK_DISABLED") or "").strip().lower() == "true":
            return cls()
        if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).hostname:
            raise UserError(f"{ENV_ENDPOINT}={endpoint!r} is not an http(s) URL; set it to the OTLP/HTTP "
                            "receiver's base URL, e.g. http://127.0.0.1:4318, or unset it to turn telemetry off")
        protocol = (env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
        if protocol != "http/protobuf":
            raise UserError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: the intake exports OTLP over HTTP "
                            "with protobuf only; set it to http/protobuf or unset it")
        return cls(enabled=True, service_name=(env.get(ENV_SERVICE_NAME) or "").strip() or DEFAULT_SERVICE_NAME,
                   endpoint=endpoint, env=env)

    def _start_sdk(self, endpoint: str, env: Mapping[str, str]):
        import requests
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        def session() -> requests.Session:
            s = requests.Session()  # a receiver on this machine is never reached through a proxy
            s.trust_env = urlsplit(endpoint).hostname not in ("127.0.0.1", "localhost", "::1")
            return s

        def url(signal: str) -> str | None:  # a per-signal variable is read by the exporter itself
            return None if env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") else \
                f"{endpoint.rstrip('/')}/v1/{signal}"

        resource = Resource.create({"service.name": self.service_name})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url("traces"), session=session())))
        meter_provider = MeterProvider(resource=resource, metric_readers=[
            PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=url("metrics"), session=session()))])
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(OTLPLogExporter(endpoint=url("logs"), session=session())))
        self._providers = [tracer_provider, meter_provider, logger_provider]
        self._handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
        logging.getLogger().addHandler(self._handler)
        project = logging.getLogger("openhands_driver")
        if project.level == logging.NOTSET:  # our INFO records reach the handler (stderr still shows WARNING+)
            project.setLevel(logging.INFO)
            self._restore_level = project
        return tracer_provider.get_tracer(SCOPE), meter_provider.get_meter(SCOPE)

    # --- wiring ----------------------------------------------------------------------------------

    def bind_service(self, service) -> None:
        """The service's facts: the gauges' sources (read at each export, on the exporter's thread)
        and an execution's creation time (an alert span opened late starts there)."""
        def created_at(execution_id: str) -> float | None:
            rows = service.store.query("SELECT created_at FROM executions WHERE id=?", (execution_id,))
            return rows[0][0] if rows else None

        self.created_at = created_at
        self._gauges = {"sre_agent.intake.queue_depth": lambda: service.store.query(
                            "SELECT COUNT(*) FROM executions WHERE status='queued'")[0][0],
                        "sre_agent.intake.active_runs": lambda: len(service.queue.active())}

    def created_at(self, execution_id: str) -> float | None:  # replaced by bind_service()
        return None

    def _observer(self, name: str):
        def observe(options):
            source = self._gauges.get(name)
            try:
                value = source() if source else None
            except Exception:  # noqa: BLE001 - e.g. the store closed at shutdown: no sample
                value = None
            return [] if value is None else [metrics.Observation(int(value))]
        return observe

    def instrument_app(self, app) -> None:
        """Count webhook deliveries and open an alert span per new execution (Flask hooks)."""
        if not self.enabled:
            return
        from flask import g, request

        @app.before_request
        def _otel_started():
            g.otel_started_s = time.time()

        @app.after_request
        def _otel_webhook(response):
            rule = request.url_rule
            if rule is None or not rule.rule.startswith("/webhook/") or request.method != "POST":
                return response
            source = str((request.view_args or {}).get("source", ""))[:40]
            self.webhooks.add(1, {"source": source, "http.response.status_code": response.status_code})
            if response.status_code == 202 and response.is_json:
                for item in (response.get_json(silent=True) or {}).get("incidents") or []:
                    self.alert_accepted(source, item, g.get("otel_started_s", time.time()))
            return response

    def alert_accepted(self, source: str, item: dict, received_s: float) -> None:
        status, execution_id = str(item.get("status")), item.get("execution_id")
        self.alerts.add(1, {"source": source, "outcome": status})
        if not execution_id:
            return
        if status == "queued":  # (a fast run may have ended before this hook: then no new span)
            self._alert_span(execution_id, received_s, unless_finished=True, source=source)
        elif status == "cancelled":  # a resolve notification ended queued work
            self.execution_finished({"id": execution_id, "status": "cancelled", "finished_at": time.time()})
        else:
            with self._lock:
                span = self._alerts.get(execution_id)
            if span is not None:
                span.add_event(f"alert {status}", {"source": source})

    def _alert_span(self, execution_id: str, start_s: float, *, unless_finished: bool = False,
                    **attributes: Any) -> Span | None:
        with self._lock:
            span = self._alerts.get(execution_id)
            if span is None and unless_finished and f"execution:{execution_id}" in self._done:
                return None
            if span is None:
                span = self.tracer.start_span(
                    "sre_agent.alert", kind=SpanKind.SERVER, start_time=_ns(start_s),
                    attributes={"sre_agent.execution.id": execution_id,
                                **{f"sre_agent.alert.{k}": str(v) for k, v in attributes.items() if v is not None}})
                self._alerts[execution_id] = span
            return span

    def _once(self, key: str) -> bool:
        with self._lock:
            if key in self._done:
                return False
            self._done[key] = None
            while len(self._done) > REMEMBERED:
                self._done.popitem(last=False)
            return True

    def execution_finished(self, data: dict) -> None:
        """An execution record changed (the service's report hook): end its alert span and count it
        when it is final, count its newly sent escalations. Idempotent."""
        if not self.enabled:
            return
        execution_id, status = data.get("id"), data.get("status")
        for escalation in data.get("escalations") or []:
            if escalation.get("state") == "sent" and (escalation.get("sent_at") or 0) >= self.started_s \
                    and self._once(f"escalation:{escalation.get('id')}"):
                self.escalations.add(1, {"reason": str(escalation.get("reason"))})
        if not execution_id or status not in FINAL:
            return
        finished_s = data.get("finished_at") or time.time()
        with self._lock:
            span = self._alerts.pop(execution_id, None)
        if span is None:
            if finished_s < self.started_s or not self._once(f"execution:{execution_id}"):
                return  # finished before this process started, or already counted
            span = self._alert_span(execution_id, data.get("created_at") or finished_s)
            with self._lock:
                self._alerts.pop(execution_id, None)
        else:
            self._once(f"execution:{execution_id}")
        self.completed.add(1, {"status": status})
        span.set_attributes({k: str(v) for k, v in (("sre_agent.alert.service", data.get("service")),
                                                    ("sre_agent.alert.priority", data.get("priority")),
                                                    ("sre_agent.alert.source", data.get("source")),
                                                    ("sre_agent.execution.status", status)) if v is not None})
        if status != "fixed":
            span.set_status(Status(StatusCode.ERROR, f"{status}: {str(data.get('reason') or '')[:200]}"))
        span.end(end_time=_ns(finished_s))

    # --- runs ------------------------------------------------------------------------------------

    def wrap_runner(self, runner: Callable) -> Callable:
        """The queue's runner, with a run span (child of the alert span) and the run's metrics."""
        return runner if not self.enabled else _TracedRunner(runner, self)

    def record_run(self, run_span: Span, request, result: Any, started_s: float, ended_s: float) -> None:
        get = lambda name, default=None: getattr(result, name, default)  # noqa: E731
        status, skill = str(get("status", "error")), str(get("skill_id") or "")
        tokens = get("tokens") or {}
        labels = {"status": status, "skill": skill}
        self.run_duration.record(float(get("duration_s") or (ended_s - started_s)), labels)
        self.tokens_in.add(int(tokens.get("input", 0) or 0), {"skill": skill})
        self.tokens_out.add(int(tokens.get("output", 0) or 0), {"skill": skill})
        run_span.set_attributes({"sre_agent.run.id": str(get("run_id") or ""), "sre_agent.run.status": status,
                                 "sre_agent.run.skill": skill, "sre_agent.run.brain": str(get("brain") or ""),
                                 "sre_agent.run.service_up": str(get("service_up")),
                                 "sre_agent.run.steps": int(get("step_count") or 0),
                                 "sre_agent.run.model": str(get("model") or ""),
                                 "sre_agent.run.llm_calls": int(get("llm_calls") or 0),
                                 "sre_agent.run.cost_usd": float(get("cost_usd") or 0.0),
                                 "sre_agent.tokens.input": int(tokens.get("input", 0) or 0),
                                 "sre_agent.tokens.output": int(tokens.get("output", 0) or 0)})
        if status != "fixed":
            run_span.set_status(Status(StatusCode.ERROR, f"run ended {status}"))
        base = _iso_s(get("started_at")) or started_s
        base = min(max(base, started_s), ended_s)
        actions = list(get("actions") or [])
        context = trace.set_span_in_context(run_span)
        for number, (action, (turn_start, tool_start, tool_end)) in enumerate(
                zip(actions, action_times(actions, base, ended_s)), start=1):
            tool = str(getattr(action, "tool", "") or "")
            exit_code, gate = getattr(action, "exit_code", None), str(getattr(action, "gate", "") or "")
            outcome = "rejected" if gate == "rejected" else ("error" if exit_code not in (None, 0) else "ok")
            self.turns.add(1, {"skill": skill})
            self.tool_calls.add(1, {"tool": tool, "outcome": outcome})
            turn = self.tracer.start_span("sre_agent.agent.turn", context=context, start_time=_ns(turn_start),
                                          attributes={"sre_agent.turn.number": number})
            attributes = {"sre_agent.tool.name": tool, "sre_agent.tool.program": program(getattr(action, "command", "")),
                          "sre_agent.tool.risk": str(getattr(action, "risk", "") or ""),
                          "sre_agent.tool.gate": gate, "sre_agent.tool.outcome": outcome,
                          "sre_agent.tool.timing": "recorded" if getattr(action, "ended_s", None) is not None
                          else "sequential"}
            if exit_code is not None:
                attributes["sre_agent.tool.exit_code"] = int(exit_code)
            call = self.tracer.start_span("sre_agent.tool_call", context=trace.set_span_in_context(turn),
                                          start_time=_ns(tool_start), attributes=attributes)
            if outcome != "ok":
                call.set_status(Status(StatusCode.ERROR, outcome))
            call.end(end_time=_ns(tool_end))
            turn.end(end_time=_ns(tool_end))

    # --- lifecycle -------------------------------------------------------------------------------

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        return all(p.force_flush(int(timeout_s * 1000)) is not False for p in self._providers)

    def shutdown(self) -> None:
        """Flush and stop the exporters (before the store closes: the gauges read it once more).
        Alert spans of unfinished executions are dropped: the next process opens them again from
        the execution's creation time when it finishes them."""
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler = None
        if self._restore_level is not None:
            self._restore_level.setLevel(logging.NOTSET)
            self._restore_level = None
        with self._lock:
            self._alerts.clear()
        providers, self._providers = self._providers, []
        for provider in providers:
            try:
                provider.shutdown()
            except Exception:  # noqa: BLE001 - an unreachable receiver must not block the stop
                log.warning("telemetry shutdown of %s failed", type(provider).__name__, exc_info=True)


class _TracedRunner:
    """``runner(request)`` inside the alert's context, with a run span and the run's metrics."""

    def __init__(self, runner: Callable, telemetry: Telemetry):
        self._runner, self._telemetry = runner, telemetry

    def __getattr__(self, name: str) -> Any:  # warm, close, describe, ... of the real runner
        return getattr(self._runner, name)

    def __call__(self, request):
        t = self._telemetry
        try:
            created = t.created_at(request.execution_id)
        except Exception:  # noqa: BLE001 - then the span starts now
            created = None
        alert = t._alert_span(request.execution_id, created or time.time(),
                              source=getattr(request.incident, "source", None))
        alert.set_attributes({k: str(v) for k, v in (
            ("sre_agent.alert.service", getattr(request.incident, "service", None)),
            ("sre_agent.alert.priority", getattr(request.incident, "priority", None))) if v is not None})
        with trace.use_span(alert, end_on_exit=False):
            started = time.time()
            with t.tracer.start_as_current_span("sre_agent.agent.run", start_time=_ns(started),
                                                end_on_exit=False, record_exception=False,
                                                set_status_on_exception=False) as span:
                log.info("agent run of execution %s started", request.execution_id)
                try:
                    result = self._runner(request)
                except BaseException as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    span.end()
                    raise
                ended = time.time()
                try:
                    t.record_run(span, request, result, started, ended)
                    log.info("agent run of execution %s ended %s", request.execution_id,
                             getattr(result, "status", "?"))
                except Exception:  # noqa: BLE001 - telemetry never changes the run's outcome
                    log.warning("telemetry of execution %s failed", request.execution_id, exc_info=True)
                span.end(end_time=_ns(ended))
        return result
