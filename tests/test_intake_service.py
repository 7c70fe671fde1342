"""The intake service over real HTTP on 127.0.0.1 (a free port), with the library's FakeRunner.

Each test starts its own service (own SQLite database in a temp dir) in this process and stops it
in cleanup; every wait is bounded. The real runner is exercised in test_intake_e2e.py.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.service import IntakeService
from openhands_driver.intake.testing import FakeRunner

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "intake"
TOKEN = "intake-test-token-0123456789"
TIMEOUT_S = 10
FINAL = ("fixed", "failed", "escalated", "expired", "cancelled")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def wait_for(predicate, timeout_s: float = TIMEOUT_S, interval_s: float = 0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


class IntakeCase(unittest.TestCase):
    """Start a service per test; talk to it with http.client (no proxies, no retries)."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="intake-test-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)

    def config(self, **overrides) -> IntakeConfig:
        values = {"port": 0, "db": self.tmp / "intake.db", "token": TOKEN, "demo_targets": True,
                  "trace_log": self.tmp / "trace.jsonl", "shutdown_deadline_s": 2.0, "cancel_grace_s": 2.0,
                  "escalation_backoff_s": 0.05}
        values.update(overrides)
        return IntakeConfig(**values)

    def start(self, runner=None, **overrides) -> IntakeService:
        self.runner = runner if runner is not None else FakeRunner()
        self.service = IntakeService(self.config(**overrides), runner=self.runner).start()
        self.addCleanup(self.service.stop, 2.0, 2.0)
        return self.service

    def call(self, method: str, path: str, body=None, *, token: str | None = TOKEN,
             raw: bytes | None = None, headers: dict | None = None, service=None):
        service = service or self.service
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=TIMEOUT_S)
        try:
            sent = {"Content-Type": "application/json", **(headers or {})}
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            payload = response.read()
            try:
                parsed = json.loads(payload)
            except json.JSONDecodeError:
                parsed = payload.decode()
            return response.status, parsed
        finally:
            conn.close()

    def post(self, source: str, body, **kw):
        return self.call("POST", f"/webhook/{source}", body, **kw)

    def alert(self, service_name: str, *, priority: str = "P3", key: str | None = None,
              scenario: str = "stale_lockfile", **kw) -> str:
        body = {"title": f"{service_name} down", "service": service_name, "priority": priority,
                "scenario": scenario, "dedupe_key": key or f"{service_name}-{priority}-{time.monotonic_ns()}"}
        status, data = self.post("generic", body, **kw)
        self.assertEqual(status, 202, data)
        return data["execution_id"]

    def execution(self, execution_id: str, service=None) -> dict:
        status, data = self.call("GET", f"/executions/{execution_id}", service=service)
        self.assertEqual(status, 200, data)
        return data

    def wait_status(self, execution_id: str, statuses=FINAL, timeout_s: float = TIMEOUT_S,
                    service=None) -> dict:
        statuses = (statuses,) if isinstance(statuses, str) else statuses

        def reached() -> dict | None:
            data = self.execution(execution_id, service)
            return data if data["status"] in statuses else None
        return wait_for(reached, timeout_s)

    def db_rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.tmp / "intake.db") as db:
            return db.execute(sql, args).fetchall()


class PayloadShapesTest(IntakeCase):
    def test_each_payload_shape_over_http_becomes_a_recorded_run(self):
        self.start()
        posted = {}
        for source, name in (("alertmanager", "alertmanager_firing"), ("gcp", "gcp_open"),
                             ("servicenow", "servicenow_incident"), ("servicenow", "servicenow_table_api"),
                             ("generic", "generic")):
            status, data = self.post(source, fixture(name))
            self.assertEqual(status, 202, data)
            self.assertEqual(data["status"], "queued")
            for item in data["incidents"]:
                posted[item["dedupe_key"]] = item["execution_id"]
        self.assertEqual(len(posted), 6)  # the Alertmanager group holds two alerts
        results = {key: self.wait_status(eid) for key, eid in posted.items()}
        expected = {"alertmanager:5b3f0c9d1e2a7f46": ("fixed", "checkout-api", "P1"),
                    "alertmanager:a81c44e07b9d3e12": ("fixed", "payments-api", "P3"),
                    "gcp:0.nt4k2qz8c1m7": ("fixed", "orders-api", "P1"),
                    "servicenow:INC0012345": ("fixed", "inventory-api", "P2"),
                    "servicenow:INC0010023": ("escalated", "billing-api", "P1"),  # no scenario, no registry
                    "search-api-slow-report-7731": ("fixed", "search-api", "P4")}
        for key, (status, service_name, priority) in expected.items():
            data = results[key]
            with self.subTest(key=key):
                self.assertEqual((data["status"], data["service"], data["priority"]),
                                 (status, service_name, priority))
        fixed = results["alertmanager:5b3f0c9d1e2a7f46"]
        self.assertTrue(fixed["service_up"])
        self.assertEqual([e["name"] for e in fixed["timeline"] if e["kind"] == "status"],
                         ["queued", "running", "fixed"])
        self.assertEqual([p["phase"] for p in fixed["phases"]],
                         ["analyze", "hypothesize", "diagnose", "remediate", "verify", "finalize"])
        self.assertEqual([a["phase"] for a in fixed["actions"]], ["diagnose", "remediate", "verify", "finalize"])
        self.assertEqual([a["risk"] for a in fixed["actions"]][:2], ["LOW", "MEDIUM"])
        self.assertEqual(fixed["actions"][0]["result"], "ok")
        self.assertTrue(fixed["verification"]["verified"])
        self.assertEqual(next(c for c in self.runner.calls if c.service == "checkout-api").scenario,
                         "stale_lockfile")
        report = Path(wait_for(lambda: self.execution(fixed["execution_id"])["report"]))
        text = report.read_text(encoding="utf-8")
        self.assertIn("Status:** fixed", text)
        self.assertIn("## Phases", text)
        self.assertIn("remediate.py", text)
        unrouted = results["servicenow:INC0010023"]
        self.assertIn("not in the service registry", unrouted["reason"])
        self.assertEqual(unrouted["escalations"][0]["reason"], "no_target")
        self.assertEqual(len(self.runner.calls), 5)
        stored = self.db_rows("SELECT payload FROM deliveries WHERE source='gcp'")[0][0]
        self.assertIn("0.nt4k2qz8c1m7", stored)


class AuthTest(IntakeCase):
    def test_bearer_token_required_everywhere_but_healthz(self):
        self.start()
        for method, path, body in (("POST", "/webhook/generic", fixture("generic")), ("GET", "/executions", None),
                                   ("GET", "/executions/ex-x", None), ("GET", "/ops/status", None),
                                   ("GET", "/ops/metrics", None), ("GET", "/no/such/path", None)):
            for token in (None, "wrong-token-0123456789", TOKEN + "x", ""):
                with self.subTest(path=path, token=token):
                    status, data = self.call(method, path, body, token=token)
                    self.assertEqual(status, 401, data)
                    self.assertIn("bearer token", data["error"])
        status, _ = self.call("GET", "/executions", headers={"Authorization": f"Basic {TOKEN}"}, token=None)
        self.assertEqual(status, 401)
        self.assertEqual(self.call("GET", "/healthz", token=None), (200, {"status": "ok"}))
        self.assertEqual(self.call("GET", "/executions")[0], 200)
        self.assertEqual(self.db_rows("SELECT COUNT(*) FROM deliveries")[0][0], 0, "401s are not recorded")

    def test_service_refuses_to_start_without_a_token(self):
        from openhands_driver.errors import UserError

        with self.assertRaises(UserError) as caught:
            IntakeService(self.config(token=None), runner=FakeRunner())
        self.assertIn("--insecure-no-auth", str(caught.exception))
        service = IntakeService(self.config(token=None, insecure_no_auth=True), runner=FakeRunner()).start()
        self.addCleanup(service.stop, 1.0, 1.0)
        self.assertEqual(self.call("GET", "/executions", token=None, service=service)[0], 200)


class MalformedPayloadTest(IntakeCase):
    def test_bad_payloads_get_400_with_the_reason_and_nothing_is_queued(self):
        self.start()
        am = fixture("alertmanager_firing")
        half_good = json.loads(json.dumps(am))
        half_good["alerts"][1]["status"] = "exploded"  # the first alert alone would be fine
        cases = [("generic", None, b"{not json", "not valid JSON"),
                 ("generic", [1, 2], None, "must be a JSON object"),
                 ("alertmanager", dict(am, version="3"), None, 'version "4"'),
                 ("alertmanager", half_good, None, "alerts[1].status"),
                 ("gcp", {"version": "1.2", "incident": {"state": "open"}}, None, "incident_id"),
                 ("servicenow", dict(fixture("servicenow_incident"), priority="soonish"), None, "not a priority"),
                 ("generic", {"title": "x", "service": "y", "scenario": "no_such_fault"}, None,
                  "unknown scenario 'no_such_fault'")]
        for source, body, raw, fragment in cases:
            with self.subTest(fragment=fragment):
                status, data = self.post(source, body, raw=raw)
                self.assertEqual(status, 400, data)
                self.assertIn(fragment, data["error"])
        self.assertEqual(self.post("nagios", {"x": 1})[0], 404)
        status, data = self.post("generic", None, raw=b"{" + b" " * (1 << 20) + b"}")
        self.assertEqual(status, 413, data)
        self.assertEqual(self.db_rows("SELECT COUNT(*) FROM executions")[0][0], 0)
        self.assertEqual(self.db_rows("SELECT COUNT(*) FROM alerts")[0][0], 0)
        rejected = self.db_rows("SELECT reason FROM deliveries WHERE outcome='rejected'")
        self.assertEqual(len(rejected), len(cases))
        self.assertEqual(self.runner.calls, [])


class PipelineTest(IntakeCase):
    def test_dedupe_while_queued_or_running_then_a_new_run_after(self):
        runner = FakeRunner(hold=True)
        self.start(runner, concurrency=1)
        first = self.alert("checkout-api", key="dup-1")
        self.assertTrue(runner.wait_started(1))
        for _ in range(3):
            status, data = self.post("generic", {"title": "again", "service": "checkout-api",
                                                 "scenario": "stale_lockfile", "dedupe_key": "dup-1"})
            self.assertEqual((status, data["status"], data["execution_id"]), (202, "deduplicated", first))
        queued = self.alert("other-api", key="dup-2")
        status, data = self.post("generic", {"title": "x", "service": "other-api", "scenario": "healthy",
                                             "dedupe_key": "dup-2"})
        self.assertEqual((data["status"], data["execution_id"]), ("deduplicated", queued))
        runner.release()
        self.assertEqual(self.wait_status(first)["alert_count"], 4)
        self.wait_status(queued)
        again = self.alert("checkout-api", key="dup-1")
        self.assertNotEqual(again, first)
        self.assertEqual(self.wait_status(again)["status"], "fixed")
        self.assertEqual(len(runner.calls), 3)
        self.assertEqual(self.call("GET", "/ops/metrics")[1]["deduplicated"], 4)

    def test_priority_order_p1_first_fifo_within_a_priority(self):
        runner = FakeRunner(hold=True)
        self.start(runner, concurrency=1)
        blocker = self.alert("svc-blocker", priority="P4")
        self.assertTrue(runner.wait_started(1))
        order = [("svc-a", "P4"), ("svc-b", "P3"), ("svc-c", "P1"), ("svc-d", "P2"), ("svc-e", "P1"),
                 ("svc-f", "P3")]
        ids = [self.alert(name, priority=priority) for name, priority in order]
        runner.release()
        for execution_id in [blocker, *ids]:
            self.wait_status(execution_id)
        self.assertEqual([c.service for c in runner.calls],
                         ["svc-blocker", "svc-c", "svc-e", "svc-d", "svc-b", "svc-f", "svc-a"])

    def test_one_run_per_service_and_the_global_concurrency_limit(self):
        runner = FakeRunner(delay_s=0.05)
        self.start(runner, concurrency=3)
        ids = [self.alert(f"svc-{i % 3}") for i in range(12)] + [self.alert(f"solo-{i}") for i in range(4)]
        for execution_id in ids:
            self.assertEqual(self.wait_status(execution_id)["status"], "fixed")
        self.assertEqual(runner.overlaps, [], "two runs of one service overlapped")
        self.assertLessEqual(runner.max_concurrent, 3)
        self.assertGreaterEqual(runner.max_concurrent, 2, "runs of different services ran in parallel")
        for name in ("svc-0", "svc-1", "svc-2"):
            spans = sorted(self.db_rows("SELECT started_at, finished_at FROM executions WHERE service=?", (name,)))
            for (_, end), (start, _) in itertools.pairwise(spans):
                self.assertLessEqual(end, start, f"{name} runs overlap in the database")

    def test_queued_alerts_expire_after_the_ttl(self):
        runner = FakeRunner(hold=True)
        self.start(runner, concurrency=1, ttl_s=0.4)
        blocker = self.alert("svc-a")
        self.assertTrue(runner.wait_started(1))
        waiting = [self.alert("svc-b"), self.alert("svc-c", priority="P1")]
        for execution_id in waiting:
            data = self.wait_status(execution_id, "expired")
            self.assertIn("TTL passed", data["reason"])
            self.assertIsNotNone(data["finished_at"])
        runner.release()
        self.assertEqual(self.wait_status(blocker)["status"], "fixed")
        self.assertEqual([c.execution_id for c in runner.calls], [blocker])
        self.assertEqual(self.call("GET", "/ops/metrics")[1]["expired"], 2)
        self.assertTrue(Path(self.execution(waiting[0])["report"]).exists())

    def test_resolved_alerts_cancel_queued_work(self):
        runner = FakeRunner(hold=True)
        self.start(runner, concurrency=1)
        blocker = self.alert("svc-blocker", priority="P1")
        self.assertTrue(runner.wait_started(1))
        status, fired = self.post("alertmanager", fixture("alertmanager_firing"))
        checkout, payments = (i["execution_id"] for i in fired["incidents"])
        status, opened = self.post("gcp", fixture("gcp_open"))
        status, resolved = self.post("alertmanager", fixture("alertmanager_resolved"))
        self.assertEqual((status, resolved["status"], resolved["execution_id"]), (202, "cancelled", payments))
        status, closed = self.post("gcp", fixture("gcp_closed"))
        self.assertEqual((closed["status"], closed["execution_id"]), ("cancelled", opened["execution_id"]))
        status, nothing = self.post("gcp", fixture("gcp_closed"))
        self.assertEqual((nothing["status"], nothing["execution_id"]), ("no_match", None))
        runner.release()
        self.assertEqual(self.wait_status(checkout)["status"], "fixed")
        self.assertEqual(self.wait_status(payments)["status"], "cancelled")
        self.assertIn("resolved by alertmanager", self.execution(payments)["reason"])
        self.assertEqual(self.wait_status(blocker)["status"], "fixed")
        self.assertEqual({c.service for c in runner.calls}, {"svc-blocker", "checkout-api"})

    def test_per_incident_budget_escalates_instead_of_running(self):
        runner = FakeRunner()
        self.start(runner, incident_token_budget=100, token_estimate=500)
        data = self.wait_status(self.alert("svc-a"))
        self.assertEqual(data["status"], "escalated")
        self.assertIn("per-incident budget 100", data["reason"])
        self.assertEqual(data["escalations"][0]["reason"], "over_budget")
        self.assertEqual(runner.calls, [])

    def test_hourly_budget_counts_actual_tokens_of_earlier_runs(self):
        runner = FakeRunner(tokens=600)
        self.start(runner, concurrency=1, hourly_token_budget=1000)
        first = self.wait_status(self.alert("svc-a"))
        self.assertEqual(first["status"], "fixed")
        self.assertEqual(first["run"]["tokens_used"], 600)
        second = self.wait_status(self.alert("svc-b"))
        self.assertEqual(second["status"], "escalated")
        self.assertIn("600 tokens used in the last hour + estimated 600 > hourly budget 1000", second["reason"])
        self.assertEqual(len(runner.calls), 1)
        metrics = self.call("GET", "/ops/metrics")[1]
        self.assertEqual((metrics["tokens_last_hour"], metrics["tokens_total"]), (600, 600))

    def test_unfixed_run_fails_and_escalates(self):
        self.start(FakeRunner(outcome="not_fixed"))
        data = self.wait_status(self.alert("svc-a", priority="P1"))
        self.assertEqual(data["status"], "failed")
        self.assertFalse(data["service_up"])
        self.assertEqual(data["escalations"][0]["reason"], "unfixed")
        self.assertEqual(data["escalations"][0]["state"], "pending")  # no URL configured: kept
        self.assertIn("failed (exit 1)", [a["result"] for a in data["actions"]])
        self.assertEqual(self.call("GET", "/ops/metrics")[1]["success_rate"], 0.0)


class RegistryTest(IntakeCase):
    def test_registry_attach_policy_and_verification_only(self):
        health = _HealthServer({"status": "error", "scenario": "stale_lockfile", "reason": "lock held"}, 500)
        self.addCleanup(health.stop)
        local_root = self.tmp / "local-api-root"  # a service root; its etc/service.json names the scenario
        (local_root / "etc").mkdir(parents=True)
        (local_root / "etc/service.json").write_text(json.dumps({"scenario": "port_mismatch"}), encoding="utf-8")
        registry = {"services": {
            "docker-api": {"url": "http://127.0.0.1:18080/", "backend": "docker", "handle": "docker-api-1",
                           "scenario": "stale_lockfile"},
            "local-api": {"url": "http://127.0.0.1:18081/", "backend": "local", "handle": str(local_root)},
            "nohandle-api": {"url": health.url, "backend": "local", "scenario": "stale_lockfile"},
            "frozen-api": {"url": "http://127.0.0.1:1/", "backend": "docker", "handle": "f",
                           "auto_remediate": False}}}
        path = self.tmp / "services.json"
        path.write_text(json.dumps(registry), encoding="utf-8")
        runner = FakeRunner()
        self.start(runner, services_file=path)
        attached = self.wait_status(self.alert("docker-api", scenario="port_mismatch"))
        self.assertEqual(attached["status"], "fixed")
        config = self.runner_config(runner, "docker-api")
        self.assertEqual((config.backend, config.target_container, config.target_url, config.scenario),
                         ("docker", "docker-api-1", "http://127.0.0.1:18080/", "stale_lockfile"))
        local = self.wait_status(self.alert("local-api", scenario="stale_lockfile"))
        self.assertEqual(local["status"], "fixed")
        config = self.runner_config(runner, "local-api")
        self.assertEqual((config.backend, config.target_root, config.target_url, config.target_container,
                          config.scenario),  # the service's own scenario beats the alert's
                         ("local", local_root, "http://127.0.0.1:18081/", None, "port_mismatch"))
        probed = self.wait_status(self.alert("nohandle-api"))
        self.assertEqual(probed["status"], "escalated")
        self.assertIn("registry entry nohandle-api has no 'handle' (the service root directory)",
                      probed["reason"])
        self.assertEqual(probed["verification"]["attempts"][0]["status_code"], 500)
        self.assertEqual(probed["escalations"][0]["reason"], "no_target")
        blocked = self.wait_status(self.alert("frozen-api"))
        self.assertEqual(blocked["status"], "escalated")
        self.assertEqual(blocked["escalations"][0]["reason"], "blocked_by_policy")
        self.assertEqual([c.service for c in runner.calls], ["docker-api", "local-api"])

    @staticmethod
    def runner_config(runner: FakeRunner, service: str):
        return next(r for r in runner.requests if r.incident.service == service).config


class _HealthServer:
    """A stand-in for a registered service's health endpoint."""

    def __init__(self, body: dict, code: int):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ReadEndpointsTest(IntakeCase):
    def test_lists_status_and_metrics(self):
        runner = FakeRunner(hold=True)
        self.start(runner, concurrency=1)
        running = self.alert("svc-a")
        self.assertTrue(runner.wait_started(1))
        queued = self.alert("svc-b")
        status, active = self.call("GET", "/executions?status=active")
        self.assertEqual(status, 200)
        self.assertEqual({e["execution_id"]: e["status"] for e in active["executions"]},
                         {running: "running", queued: "queued"})
        self.assertEqual(self.call("GET", "/executions?status=bogus")[0], 400)
        self.assertEqual(self.call("GET", "/executions/ex-nope")[0], 404)
        status, ops = self.call("GET", "/ops/status")
        self.assertEqual((status, ops["state"], ops["active_runs"]), (200, "running", [running]))
        self.assertIn("no escalation URL", " ".join(ops["warnings"]))
        metrics = self.call("GET", "/ops/metrics")[1]
        self.assertEqual((metrics["queue_depth"], metrics["active_runs"], metrics["alerts_received"]), (1, 1, 2))
        status, text = self.call("GET", "/ops/metrics?format=prometheus")
        self.assertIn("sre_intake_queue_depth 1", text)
        self.assertIn('sre_intake_executions{kind="running"} 1', text)
        runner.release()
        self.wait_status(queued)
        self.assertEqual(self.call("GET", "/executions?status=fixed")[1]["count"], 2)
        self.assertEqual(self.call("GET", "/ops/metrics")[1]["success_rate"], 1.0)


class BurstTest(IntakeCase):
    BURST = 200

    def test_burst_of_200_alerts_every_one_accounted_for(self):
        runner = FakeRunner(delay_s=0.002)
        self.start(runner, concurrency=4)
        sources = [("generic", lambda i: {"title": f"burst {i}", "service": f"svc-{i % 25}",
                                          "scenario": "healthy", "priority": f"P{i % 4 + 1}",
                                          "dedupe_key": f"burst-{i % 170}"}),
                   ("servicenow", lambda i: dict(fixture("servicenow_incident"), incident_number=f"INC9{i:06d}",
                                                 target=f"svc-{i % 25}"))]

        def send(i: int):
            source, make = sources[i % 5 == 0]
            return self.post(source, make(i))

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(pool.map(send, range(self.BURST)))
        accept_s = time.monotonic() - started
        self.assertTrue(all(status == 202 for status, _ in responses), [r for r in responses if r[0] != 202][:3])
        ids = {data["execution_id"] for _, data in responses}
        for execution_id in ids:
            self.assertIn(self.wait_status(execution_id, timeout_s=30)["status"], ("fixed",))
        alerts = self.db_rows("SELECT outcome, execution_id FROM alerts")
        self.assertEqual(len(alerts), self.BURST, "one alert row per alert")
        self.assertEqual({e for _, e in alerts}, ids)
        queued = sum(1 for outcome, _ in alerts if outcome == "queued")
        deduped = sum(1 for outcome, _ in alerts if outcome == "deduplicated")
        self.assertEqual(queued + deduped, self.BURST)
        self.assertEqual(self.db_rows("SELECT COUNT(*), SUM(alert_count) FROM executions")[0], (queued, self.BURST))
        self.assertEqual(len(runner.calls), queued)
        self.assertEqual(runner.overlaps, [])
        self.assertEqual(self.db_rows("SELECT COUNT(*) FROM deliveries")[0][0], self.BURST)
        print(f"\n[burst] {self.BURST} alerts accepted in {accept_s:.2f}s; {queued} runs, {deduped} deduplicated",
              flush=True)


class ShutdownTest(IntakeCase):
    def test_graceful_stop_refuses_new_alerts_and_cancels_late_runs(self):
        runner = FakeRunner(hold=True)
        service = self.start(runner, concurrency=2)
        running = [self.alert("svc-a"), self.alert("svc-b")]
        self.assertTrue(runner.wait_started(2))
        queued = self.alert("svc-c")
        stopper = threading.Thread(target=lambda: setattr(self, "summary", service.stop(1.0, 3.0)))
        stopper.start()
        wait_for(lambda: self.call("GET", "/healthz", token=None)[0] == 503)
        status, data = self.post("generic", {"title": "late", "service": "svc-d"})
        self.assertEqual(status, 503, data)
        stopper.join(10)
        self.assertFalse(stopper.is_alive())
        self.assertEqual(sorted(self.summary["runs"]["cancelled"]), sorted(running))
        self.assertEqual(self.summary["queued_left"], 1)
        rows = dict(self.db_rows("SELECT id, status FROM executions"))
        self.assertEqual(rows, {running[0]: "cancelled", running[1]: "cancelled", queued: "queued"})
        reasons = [r[0] for r in self.db_rows("SELECT reason FROM executions WHERE status='cancelled'")]
        self.assertTrue(all("cancelled at shutdown" in r for r in reasons), reasons)

    def test_a_run_that_ignores_its_cancel_is_abandoned_with_a_final_record(self):
        runner = FakeRunner(hold=True, honour_cancel=False, stuck_s=1.0)
        service = self.start(runner)
        execution_id = self.alert("svc-a")
        self.assertTrue(runner.wait_started(1))
        summary = service.stop(0.1, 0.2)
        self.assertEqual(summary["runs"]["abandoned"], [execution_id])
        (status, reason), = self.db_rows("SELECT status, reason FROM executions")
        self.assertEqual(status, "cancelled")
        self.assertIn("abandoned at shutdown", reason)
        runner.release()
        time.sleep(1.2)  # the stuck run returns after the store closed: nothing may change
        self.assertEqual(self.db_rows("SELECT status FROM executions")[0][0], "cancelled")


class RestartTest(IntakeCase):
    def test_restart_resumes_queued_work_and_expires_stale_work(self):
        runner = FakeRunner(hold=True)
        service = self.start(runner, concurrency=1)
        running = self.alert("svc-a", priority="P2")
        self.assertTrue(runner.wait_started(1))
        queued = [self.alert("svc-b", priority="P1"), self.alert("svc-c", priority="P3")]
        service.stop(0.1, 2.0)
        self.assertEqual(self.db_rows("SELECT status FROM executions WHERE id=?", (running,))[0][0], "cancelled")
        second = FakeRunner()
        restarted = IntakeService(self.config(concurrency=1), runner=second).start()
        self.addCleanup(restarted.stop, 1.0, 1.0)
        for execution_id in queued:
            self.assertEqual(self.wait_status(execution_id, service=restarted)["status"], "fixed")
        self.assertEqual([c.service for c in second.calls], ["svc-b", "svc-c"])
        restarted.stop(1.0, 1.0)
        # A third start long after the TTL: queued work left by a crash expires, recorded.
        stale = self.db_rows("SELECT COUNT(*) FROM executions")[0][0]
        with sqlite3.connect(self.tmp / "intake.db") as db:
            db.execute("UPDATE executions SET status='queued' WHERE id=?", (queued[1],))
        later = IntakeService(self.config(), runner=FakeRunner(), clock=lambda: time.time() + 7200).start()
        self.addCleanup(later.stop, 1.0, 1.0)
        self.assertEqual(later.recovered["expired"], [queued[1]])
        self.assertEqual(self.execution(queued[1], service=later)["status"], "expired")
        self.assertEqual(self.db_rows("SELECT COUNT(*) FROM executions")[0][0], stale)

    def test_a_run_lost_in_a_crash_past_its_attempts_fails_and_escalates(self):
        service = self.start(FakeRunner(hold=True), concurrency=1)
        execution_id = self.alert("svc-a")
        self.assertTrue(self.runner.wait_started(1))
        service.stop(0.1, 1.0)
        with sqlite3.connect(self.tmp / "intake.db") as db:  # as if the process had died mid-run
            db.execute("UPDATE executions SET status='running' WHERE id=?", (execution_id,))
        restarted = IntakeService(self.config(max_attempts=1), runner=FakeRunner()).start()
        self.addCleanup(restarted.stop, 1.0, 1.0)
        self.assertEqual(restarted.recovered["failed"], [execution_id])
        data = self.execution(execution_id, service=restarted)
        self.assertEqual(data["status"], "failed")
        self.assertIn("restarted during the run", data["reason"])
        self.assertEqual([(e["reason"], e["state"]) for e in data["escalations"]], [("unfixed", "pending")])

    def test_crash_mid_run_loses_nothing_the_run_is_requeued(self):
        """A service process killed with SIGKILL (no shutdown at all), restarted on the same DB."""
        db = self.tmp / "intake.db"
        program = ("import sys, time; from pathlib import Path; "
                   "from openhands_driver.intake.config import IntakeConfig; "
                   "from openhands_driver.intake.service import IntakeService; "
                   "from openhands_driver.intake.testing import FakeRunner; "
                   f"s = IntakeService(IntakeConfig(port=0, db=Path({str(db)!r}), token={TOKEN!r}, "
                   "demo_targets=True, concurrency=1), runner=FakeRunner(hold=True)).start(); "
                   "print(s.port, flush=True); time.sleep(60)")
        proc = subprocess.Popen([sys.executable, "-c", program], cwd=REPO, stdout=subprocess.PIPE,
                                text=True, start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        port = int(proc.stdout.readline())

        class Remote:
            pass
        remote = Remote()
        remote.port = port
        ids = []
        for name, priority in (("svc-a", "P3"), ("svc-b", "P1"), ("svc-c", "P2")):
            status, data = self.post("generic", {"title": f"{name} down", "service": name, "priority": priority,
                                                 "scenario": "stale_lockfile"}, service=remote)
            self.assertEqual(status, 202, data)
            ids.append(data["execution_id"])
            if len(ids) == 1:  # svc-a runs (and is held); the others queue behind it
                wait_for(lambda: self.execution(ids[0], service=remote)["status"] == "running")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        runner = FakeRunner()
        service = IntakeService(self.config(concurrency=1), runner=runner).start()
        self.addCleanup(service.stop, 1.0, 1.0)
        self.assertEqual(service.recovered["requeued"], [ids[0]])
        results = [self.wait_status(i, service=service) for i in ids]
        self.assertEqual([r["status"] for r in results], ["fixed", "fixed", "fixed"])
        self.assertEqual(results[0]["attempts"], 2)
        self.assertIn("requeued", " ".join(e["detail"] for e in results[0]["timeline"]))
        self.assertEqual([c.service for c in runner.calls], ["svc-b", "svc-c", "svc-a"])
        self.assertEqual(self.db_rows("SELECT COUNT(*) FROM alerts")[0][0], 3)


if __name__ == "__main__":
    unittest.main()
