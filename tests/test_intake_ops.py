"""The intake's own /ops/* surface (openhands_driver/intake/ops.py, health.py, metrics.py) over real
HTTP on 127.0.0.1 against a started service (waitress), with the library's FakeRunner."""

from __future__ import annotations

import json
import logging
import socket
import unittest

from prometheus_client.parser import text_string_to_metric_families

from openhands_driver.intake import roles
from openhands_driver.intake.testing import FakeRunner
from tests.test_intake_service import TOKEN, IntakeCase, wait_for

PLANTED_KEY = "routing-key-planted-7f3a9c"
PLANTED_PASSWORD = "url-password-planted-51b2"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from the Prometheus text format (the official parser)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def failing_outcome(request) -> str:
    raise RuntimeError("planted runner failure")


class StatusAndHealthTest(IntakeCase):
    def test_healthy_then_degraded_when_draining_then_unhealthy_when_the_dispatcher_dies(self):
        self.start()
        code, status = self.call("GET", "/ops/status")
        self.assertEqual((code, status["status"], status["reasons"]), (200, "healthy", []), status)
        self.assertEqual(status["state"], "running")  # the service's own fields stay
        code, body = self.call("GET", "/ops/health")
        self.assertEqual((code, body["status"]), (200, "healthy"), body)
        self.assertEqual(set(body["checks"]), {"database", "workers", "skills", "escalation"})
        self.assertTrue(body["checks"]["database"]["ok"])
        self.assertIn("runbooks readable", body["checks"]["skills"]["detail"])
        self.assertTrue(body["checks"]["escalation"]["skipped"])  # no URL configured

        self.assertEqual(self.call("POST", "/ops/drain", {})[0], 200)
        status = self.call("GET", "/ops/status")[1]
        self.assertEqual(status["status"], "degraded")
        self.assertIn("draining", " ".join(status["reasons"]))

        queue = self.service.queue  # a dead dispatcher: alerts would never run
        queue._stop.set()
        queue.wake()
        queue._thread.join(5)
        code, body = self.call("GET", "/ops/health")
        self.assertEqual((code, body["status"]), (503, "unhealthy"), body)
        self.assertFalse(body["checks"]["workers"]["ok"])
        self.assertIn("workers: not running: dispatcher", body["reasons"])
        self.assertEqual(self.call("GET", "/ops/status")[1]["status"], "unhealthy")

    def test_escalation_reachability_is_checked_with_a_bounded_timeout(self):
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        self.start(escalation_url=f"http://127.0.0.1:{port}/v2/enqueue", routing_key=PLANTED_KEY)
        code, body = self.call("GET", "/ops/health")
        self.assertEqual((code, body["status"]), (200, "healthy"), body)
        self.assertIn(f"127.0.0.1:{port} accepts connections", body["checks"]["escalation"]["detail"])
        listener.close()  # now nothing listens there: optional dependency down -> degraded, not unhealthy
        code, body = self.call("GET", "/ops/health")
        self.assertEqual((code, body["status"]), (200, "degraded"), body)
        check = body["checks"]["escalation"]
        self.assertFalse(check["ok"])
        self.assertFalse(check["required"])
        self.assertLess(check["duration_ms"], 2500)
        self.assertTrue(any(r.startswith("escalation: ") for r in body["reasons"]))


class MetricsTest(IntakeCase):
    def test_prometheus_form_counts_requests_by_route_and_status_and_reads_the_store(self):
        runner = FakeRunner(tokens=600)
        self.start(runner)
        ids = [self.alert(f"svc-{n}") for n in range(3)]
        for execution_id in ids:
            self.wait_status(execution_id)
        self.assertEqual(self.post("generic", {"title": "no service"}, token="wrong-token-0123456789")[0], 401)
        code, text = self.call("GET", "/ops/metrics?format=prometheus")
        self.assertEqual(code, 200)
        found = samples(text)
        webhook = (("method", "POST"), ("route", "/webhook/<source>"))
        self.assertEqual(found[("sre_intake_http_requests_total", (*webhook, ("status", "202")))], 3)
        self.assertEqual(found[("sre_intake_http_requests_total", (*webhook, ("status", "401")))], 1)
        self.assertEqual(found[("sre_intake_http_request_duration_seconds_count",
                                (("route", "/webhook/<source>"),))], 4)
        self.assertEqual(found[("sre_intake_executions", (("kind", "fixed"),))], 3)
        self.assertEqual(found[("sre_intake_queue_depth", ())], 0)
        self.assertEqual(found[("sre_intake_tokens_total", ())], 1800)
        self.assertEqual(found[("sre_intake_http_requests_in_flight", ())], 1)  # this scrape itself
        # the JSON form: the same store numbers plus RED per route
        metrics = self.call("GET", "/ops/metrics")[1]
        self.assertEqual(metrics["tokens_total"], 1800)
        self.assertEqual(metrics["http"]["/webhook/<source>"]["by_status"], {"202": 3, "401": 1})
        self.assertEqual(metrics["http"]["/webhook/<source>"]["errors"], 0)
        self.assertEqual(metrics["http_in_flight"], 1)

    def test_each_service_has_its_own_registry(self):
        first = self.start()
        self.alert("svc-a")
        second_runner = FakeRunner()
        from openhands_driver.intake.service import IntakeService

        second = IntakeService(self.config(db=self.tmp / "second.db"), runner=second_runner).start()
        self.addCleanup(second.stop, 2.0, 2.0)
        text = self.call("GET", "/ops/metrics?format=prometheus", service=second)[1]
        self.assertNotIn('route="/webhook/<source>"', text)
        self.assertIsNot(first.request_metrics.registry, second.request_metrics.registry)


class ConfigAndDependenciesTest(IntakeCase):
    def test_config_is_sanitized_and_admin_only(self):
        tokens = self.tmp / "tokens.json"
        viewer = roles.add_token(tokens, "viewer-1", "viewer")
        url = f"https://pd-user:{PLANTED_PASSWORD}@127.0.0.1:9/v2/enqueue?routing_key={PLANTED_KEY}"
        self.start(tokens_file=tokens, escalation_url=url, routing_key=PLANTED_KEY)
        code, raw = self.call("GET", "/ops/config")
        self.assertEqual(code, 200)
        text = json.dumps(raw)
        for planted in (TOKEN, PLANTED_KEY, PLANTED_PASSWORD, "pd-user", viewer):
            self.assertNotIn(planted, text)
        self.assertEqual(raw["escalation_url"], "https://127.0.0.1:9/v2/enqueue")
        self.assertEqual(raw["concurrency"], 2)
        self.assertEqual(sorted(raw["auth"]["principal_ids"]), ["default", "viewer-1"])
        self.assertEqual(self.call("GET", "/ops/config", token=viewer)[0], 403)
        self.assertEqual(self.call("GET", "/ops/status", token=viewer)[0], 200)
        deps = {d["name"]: d for d in self.call("GET", "/ops/dependencies", token=viewer)[1]["dependencies"]}
        self.assertEqual(deps["escalation"]["target"], "https://127.0.0.1:9/v2/enqueue")
        self.assertTrue(deps["audit-db"]["required"])
        self.assertEqual(deps["audit-db"]["target"], str(self.tmp / "intake.db"))
        self.assertIn("runbooks", deps)
        self.assertNotIn(PLANTED_PASSWORD, json.dumps(deps))


class ErrorsAndLogLevelTest(IntakeCase):
    def test_a_failed_run_is_in_the_error_ring_with_its_execution_id(self):
        self.start(FakeRunner(outcome=failing_outcome))
        execution_id = self.alert("svc-err")
        self.wait_status(execution_id)
        body = wait_for(lambda: (lambda b: b if b["errors"] else None)(self.call("GET", "/ops/errors")[1]))
        entry = body["errors"][-1]
        self.assertEqual((entry["level"], entry["trace_id"]), ("ERROR", execution_id), entry)
        self.assertEqual(entry["exception"], "RuntimeError: planted runner failure")
        status = self.call("GET", "/ops/status")[1]
        self.assertEqual(status["status"], "degraded")
        self.assertIn("error(s) logged", " ".join(status["reasons"]))
        self.assertEqual(self.call("GET", "/ops/errors?limit=x")[0], 400)

    def test_loglevel_is_admin_only_and_validated(self):
        root = logging.getLogger()
        before = root.level
        self.addCleanup(root.setLevel, before)
        tokens = self.tmp / "tokens.json"
        operator = roles.add_token(tokens, "operator-1", "operator")
        self.start(tokens_file=tokens)
        self.assertEqual(self.call("POST", "/ops/loglevel", {"level": "DEBUG"}, token=operator)[0], 403)
        code, body = self.call("POST", "/ops/loglevel", {"level": "debug"})
        self.assertEqual((code, body["level"], body["by"]), (200, "DEBUG", "default"), body)
        self.assertEqual(root.level, logging.DEBUG)
        code, body = self.call("POST", "/ops/loglevel", {"level": "LOUD"})
        self.assertEqual(code, 400)
        self.assertIn("use one of DEBUG, INFO, WARNING, ERROR, CRITICAL", body["error"])
        self.assertEqual(root.level, logging.DEBUG)


if __name__ == "__main__":
    unittest.main()
