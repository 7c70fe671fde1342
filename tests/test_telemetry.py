"""OpenTelemetry of the intake (openhands_driver/telemetry.py) against a local OTLP/HTTP receiver.

The receiver is a tiny http.server on 127.0.0.1 that decodes the protobuf bodies with
opentelemetry-proto's Export*ServiceRequest messages (and plays a PagerDuty endpoint for the
escalation). A real intake is started with the library's FakeRunner (no agent, no target), alerts are
posted over HTTP, the telemetry is flushed, and the named instruments, spans and logs must arrive.
Without OTEL_EXPORTER_OTLP_ENDPOINT nothing may be exported and nothing may be slow.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import json
import logging
import os
import tempfile
import threading
import time
import unittest
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest, ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

from openhands_driver.errors import UserError
from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.service import IntakeService
from openhands_driver.intake.testing import FakeRunner
from openhands_driver.records import ActionRecord
from openhands_driver.telemetry import Telemetry, action_times, program

TOKEN = "telemetry-test-token-0123456789"
ROUTING_KEY = "routing-key-secret-abcdef0123"
TIMEOUT_S = 15
INSTRUMENTS = ("sre_agent.webhooks.received", "sre_agent.alerts.accepted", "sre_agent.agent.run.duration",
               "sre_agent.agent.turns", "sre_agent.agent.tool_calls", "sre_agent.tokens.input",
               "sre_agent.tokens.output", "sre_agent.executions.completed", "sre_agent.escalations.sent",
               "sre_agent.intake.queue_depth", "sre_agent.intake.active_runs")
MESSAGES = {"/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
            "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
            "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse)}


class Receiver:
    """OTLP/HTTP (protobuf) on 127.0.0.1, plus a PagerDuty-like /v2/enqueue."""

    def __init__(self):
        self.requests: list[tuple[str, bytes]] = []
        self.decoded: dict[str, list] = {path: [] for path in MESSAGES}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.requests.append((self.path, body))
                if self.path in MESSAGES:
                    request_type, response_type = MESSAGES[self.path]
                    receiver.decoded[self.path].append(request_type.FromString(body))
                    payload, code, kind = response_type().SerializeToString(), 200, "application/x-protobuf"
                else:
                    payload, code, kind = b'{"status": "success"}', 202, "application/json"
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- decoded views ---------------------------------------------------------------------------

    def spans(self) -> list:
        return [span for request in self.decoded["/v1/traces"] for rs in request.resource_spans
                for ss in rs.scope_spans for span in ss.spans]

    def metrics(self) -> dict[str, list]:
        out: dict[str, list] = {}
        for request in self.decoded["/v1/metrics"]:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        out.setdefault(metric.name, []).append(metric)
        return out

    def logs(self) -> list:
        return [record for request in self.decoded["/v1/logs"] for rl in request.resource_logs
                for sl in rl.scope_logs for record in sl.log_records]

    def resources(self) -> list[dict]:
        out = []
        for path, field in (("/v1/traces", "resource_spans"), ("/v1/metrics", "resource_metrics")):
            for request in self.decoded[path]:
                for item in getattr(request, field):
                    out.append({a.key: a.value.string_value for a in item.resource.attributes})
        return out


def attrs(item) -> dict:
    values = {}
    for a in item.attributes:
        kind = a.value.WhichOneof("value")
        values[a.key] = getattr(a.value, kind) if kind else None
    return values


def sums(metrics: list) -> dict[tuple, float]:
    """Latest cumulative value per attribute set of a counter or gauge."""
    out: dict[tuple, float] = {}
    for metric in metrics:
        points = metric.sum.data_points if metric.HasField("sum") else metric.gauge.data_points
        for point in points:
            value = point.as_int if point.HasField("as_int") else point.as_double
            out[tuple(sorted(attrs(point).items()))] = value
    return out


class TimedRunner(FakeRunner):
    """FakeRunner whose runs take RUN_S and whose actions carry recorded end times (seconds after the
    run started), as the real runner's do."""

    RUN_S = 0.7

    def __init__(self, **kwargs):
        super().__init__(delay_s=self.RUN_S, **kwargs)

    def _result(self, request, status):
        result = super()._result(request, status)
        offset = 0.2
        for action in result.actions:
            action.duration_s = 0.05
            offset += 0.1
            action.ended_s = round(offset, 3)
        started = (datetime.now(UTC) - timedelta(seconds=self.RUN_S)).isoformat(timespec="milliseconds")
        return dataclasses.replace(result, duration_s=1.0, started_at=started)


def wait_for(predicate, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout_s}s")


class IntakeTelemetryCase(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="telemetry-test-")
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)

    def start(self, runner, env: dict[str, str]) -> IntakeService:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
            config = IntakeConfig(port=0, db=self.tmp / "intake.db", token=TOKEN, demo_targets=True,
                                  trace_log=self.tmp / "trace.jsonl", shutdown_deadline_s=2.0,
                                  cancel_grace_s=2.0, escalation_backoff_s=0.05,
                                  escalation_url=f"{self.receiver.url}/v2/enqueue", routing_key=ROUTING_KEY)
            service = IntakeService(config, runner=runner).start()
        self.addCleanup(service.stop, 2.0, 2.0)
        return service

    def post(self, service, body: dict) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=TIMEOUT_S)
        try:
            conn.request("POST", "/webhook/generic", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
            response = conn.getresponse()
            data = json.loads(response.read())
            self.assertEqual(response.status, 202, data)
            return data
        finally:
            conn.close()

    def final(self, service, execution_id: str) -> dict:
        return wait_for(lambda: (lambda d: d if d and d["status"] in ("fixed", "failed") and
                                 all(e["state"] == "sent" for e in d["escalations"]) else None)(
            service.store.execution(execution_id)))

    def test_export_to_a_local_otlp_receiver(self):
        runner = TimedRunner(tokens=600, outcome=lambda r: "fixed" if r.incident.service == "checkout" else "not_fixed")
        service = self.start(runner, {"OTEL_EXPORTER_OTLP_ENDPOINT": self.receiver.url,
                                      "OTEL_SERVICE_NAME": "intake-under-test",
                                      "OTEL_METRIC_EXPORT_INTERVAL": "600000"})
        self.assertTrue(service.telemetry.enabled)
        fixed = self.post(service, {"title": "checkout down", "service": "checkout", "scenario": "stale_lockfile",
                                    "priority": "P1"})["execution_id"]
        self.final(service, fixed)
        failed = self.post(service, {"title": "search slow", "service": "search", "scenario": "stale_lockfile",
                                     "priority": "P2"})["execution_id"]
        self.final(service, failed)
        self.assertTrue(service.telemetry.force_flush(10))

        metrics = self.receiver.metrics()
        self.assertEqual(sorted(set(INSTRUMENTS) - set(metrics)), [], f"missing instruments; got {sorted(metrics)}")
        self.assertEqual(sums(metrics["sre_agent.webhooks.received"]),
                         {(("http.response.status_code", 202), ("source", "generic")): 2})
        self.assertEqual(sums(metrics["sre_agent.tokens.input"]), {(("skill", "x"),): 1200})
        self.assertEqual(sums(metrics["sre_agent.executions.completed"]),
                         {(("status", "fixed"),): 1, (("status", "failed"),): 1})
        self.assertEqual(sums(metrics["sre_agent.escalations.sent"]), {(("reason", "unfixed"),): 1})
        self.assertEqual(sum(sums(metrics["sre_agent.agent.tool_calls"]).values()), 8)
        self.assertEqual(sums(metrics["sre_agent.intake.queue_depth"]), {(): 0})
        duration = [p for m in metrics["sre_agent.agent.run.duration"] for p in m.histogram.data_points]
        self.assertEqual(sum(p.count for p in duration), 2)
        self.assertAlmostEqual(sum(p.sum for p in duration), 2.0, places=3)  # the runs' own duration_s
        self.assertIn({"service.name": "intake-under-test"},
                      [{k: v for k, v in r.items() if k == "service.name"} for r in self.receiver.resources()])

        spans = self.receiver.spans()
        by_name: dict[str, list] = {}
        for span in spans:
            by_name.setdefault(span.name, []).append(span)
        self.assertEqual({k: len(v) for k, v in by_name.items()},
                         {"sre_agent.alert": 2, "sre_agent.agent.run": 2, "sre_agent.agent.turn": 8,
                          "sre_agent.tool_call": 8})
        alert = next(s for s in by_name["sre_agent.alert"] if attrs(s)["sre_agent.execution.id"] == fixed)
        self.assertEqual(attrs(alert)["sre_agent.execution.status"], "fixed")
        self.assertEqual(attrs(alert)["sre_agent.alert.service"], "checkout")
        run = next(s for s in by_name["sre_agent.agent.run"] if s.parent_span_id == alert.span_id)
        self.assertEqual(run.trace_id, alert.trace_id)
        self.assertTrue(alert.start_time_unix_nano <= run.start_time_unix_nano <= run.end_time_unix_nano
                        <= alert.end_time_unix_nano)
        turns = sorted((s for s in by_name["sre_agent.agent.turn"] if s.parent_span_id == run.span_id),
                       key=lambda s: attrs(s)["sre_agent.turn.number"])
        self.assertEqual(len(turns), 4)
        calls = [next(c for c in by_name["sre_agent.tool_call"] if c.parent_span_id == t.span_id) for t in turns]
        self.assertEqual([attrs(c)["sre_agent.tool.program"] for c in calls], ["python3", "python3", "targetctl", "Fixed."])
        self.assertEqual({attrs(c)["sre_agent.tool.timing"] for c in calls}, {"recorded"})
        # recorded times: each call took 0.05 s and they end 0.1 s apart; a turn starts where the last call ended
        for call in calls:
            self.assertAlmostEqual((call.end_time_unix_nano - call.start_time_unix_nano) / 1e9, 0.05, places=3)
        for before, after in zip(calls, calls[1:]):
            self.assertAlmostEqual((after.end_time_unix_nano - before.end_time_unix_nano) / 1e9, 0.1, places=3)
        for before, turn in zip(calls, turns[1:]):
            self.assertEqual(turn.start_time_unix_nano, before.end_time_unix_nano)
        failed_alert = next(s for s in by_name["sre_agent.alert"] if s is not alert)
        self.assertEqual(failed_alert.status.code, 2)  # STATUS_CODE_ERROR: the run did not fix it

        logs = [r for r in self.receiver.logs() if fixed in r.body.string_value]
        self.assertTrue(logs, "no log record of the run arrived")
        self.assertTrue(all(r.trace_id == alert.trace_id for r in logs), "logs not correlated with the alert trace")
        for path, body in self.receiver.requests:
            if path in MESSAGES:
                self.assertNotIn(TOKEN.encode(), body, path)
                self.assertNotIn(ROUTING_KEY.encode(), body, path)
        service.stop(2.0, 2.0)  # the handler leaves the root logger, the project logger's level is restored
        self.assertFalse([h for h in logging.getLogger().handlers if "opentelemetry" in type(h).__module__])
        self.assertEqual(logging.getLogger("openhands_driver").level, logging.NOTSET)

    def test_without_the_endpoint_nothing_is_exported_and_nothing_is_slow(self):
        threads_before = {t.name for t in threading.enumerate()}
        runner = FakeRunner(tokens=100)
        service = self.start(runner, {"OTEL_SERVICE_NAME": "not-exported"})
        self.assertFalse(service.telemetry.enabled)
        self.assertIs(service.queue.runner, runner)  # no wrapper in the run path
        execution_id = self.post(service, {"title": "checkout down", "service": "checkout",
                                           "scenario": "stale_lockfile", "priority": "P1"})["execution_id"]
        self.final(service, execution_id)
        service.telemetry.force_flush(1)
        self.assertEqual(self.receiver.requests, [])
        started = {t.name for t in threading.enumerate()} - threads_before
        self.assertFalse([n for n in started if "otel" in n.lower() or "export" in n.lower()], started)
        data = service.store.execution(execution_id)
        began = time.perf_counter()
        for _ in range(1000):
            Telemetry.from_environment({}).execution_finished(data)
        self.assertLess(time.perf_counter() - began, 1.0, "the disabled telemetry costs time")


class LateExecutionTest(unittest.TestCase):
    def test_an_execution_finished_without_an_open_span_is_traced_once(self):
        """After a restart the alert span is opened from the execution's creation time; repeated
        report hooks count nothing twice; what finished before this process started is left alone."""
        receiver = Receiver()
        self.addCleanup(receiver.close)
        telemetry = Telemetry.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})  # os.environ untouched
        self.addCleanup(telemetry.shutdown)
        now = time.time()
        sent = {"id": 7, "state": "sent", "reason": "needs_human", "sent_at": now}
        data = {"id": "ex-late", "status": "needs_human", "created_at": now - 5.0, "finished_at": now,
                "service": "checkout", "priority": "P1", "source": "generic", "escalations": [sent]}
        for _ in range(3):
            telemetry.execution_finished(data)
        telemetry.execution_finished({**data, "id": "ex-old", "finished_at": now - 3600, "escalations": [
            {**sent, "id": 8, "sent_at": now - 3600}]})
        self.assertTrue(telemetry.force_flush(10))
        spans = receiver.spans()
        self.assertEqual([attrs(s)["sre_agent.execution.id"] for s in spans], ["ex-late"])
        self.assertEqual(spans[0].start_time_unix_nano, int((now - 5.0) * 1e9))
        self.assertEqual(spans[0].end_time_unix_nano, int(now * 1e9))
        metrics = receiver.metrics()
        self.assertEqual(sums(metrics["sre_agent.executions.completed"]), {(("status", "needs_human"),): 1})
        self.assertEqual(sums(metrics["sre_agent.escalations.sent"]), {(("reason", "needs_human"),): 1})


class TelemetryUnitTest(unittest.TestCase):
    def test_settings_are_checked(self):
        self.assertFalse(Telemetry.from_environment({}).enabled)
        self.assertFalse(Telemetry.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                                                     "OTEL_SDK_DISABLED": "true"}).enabled)
        with self.assertRaisesRegex(UserError, "not an http"):
            Telemetry.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"})
        with self.assertRaisesRegex(UserError, "http/protobuf"):
            Telemetry.from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                                        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})

    def test_action_times_recorded_and_sequential(self):
        recorded = [ActionRecord("terminal", "a", duration_s=1.0, ended_s=3.0),
                    ActionRecord("terminal", "b", duration_s=0.5, ended_s=5.0)]
        self.assertEqual(action_times(recorded, 100.0, 110.0), [(100.0, 102.0, 103.0), (103.0, 104.5, 105.0)])
        sequential = [ActionRecord("terminal", "a", duration_s=1.0), ActionRecord("terminal", "b", duration_s=2.0)]
        self.assertEqual(action_times(sequential, 100.0, 110.0), [(100.0, 100.0, 101.0), (101.0, 101.0, 103.0)])
        late = [ActionRecord("terminal", "a", duration_s=1.0, ended_s=30.0)]  # clamped into the run
        self.assertEqual(action_times(late, 100.0, 110.0), [(100.0, 109.0, 110.0)])

    def test_program_names_only_the_program(self):
        self.assertEqual(program("/usr/bin/curl -H 'Authorization: Bearer abc' http://x"), "curl")
        self.assertEqual(program("targetctl status"), "targetctl")
        self.assertEqual(program(""), "")


if __name__ == "__main__":
    unittest.main()
