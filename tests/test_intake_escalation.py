"""Escalations over real HTTP: a local receiver that fails, then recovers; restarts lose nothing.

The receiver is a stdlib HTTP server on 127.0.0.1 that answers like the PagerDuty Events API v2
(202 {"status": "success", ...}) after a scripted number of failures.
"""

from __future__ import annotations

import json
import socket
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openhands_driver.intake.service import IntakeService
from openhands_driver.intake.testing import FakeRunner
from tests.test_intake_service import IntakeCase, wait_for

ROUTING_KEY = "R0UTINGKEY0123456789abcdef0123456"


class Receiver:
    """Answers ``failures`` requests with ``fail_code`` (500), then 202 like PagerDuty."""

    def __init__(self, failures: int = 0, fail_code: int = 500, port: int = 0):
        self.failures, self.fail_code = failures, fail_code
        self.events: list[dict] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.events.append(body)
                if len(receiver.events) <= receiver.failures:
                    code, answer = receiver.fail_code, {"status": "error", "message": "try later"}
                else:
                    code, answer = 202, {"status": "success", "message": "Event processed",
                                         "dedup_key": body.get("dedup_key")}
                receiver.codes.append(code)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v2/enqueue"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EscalationTest(IntakeCase):
    def escalation(self, execution_id: str, until, service=None) -> tuple[dict, dict] | None:
        """(execution, its first escalation) once ``until(escalation)`` holds, else None."""
        data = self.execution(execution_id, service)
        if data["escalations"] and until(data["escalations"][0]):
            return data, data["escalations"][0]
        return None

    def receiver(self, **kw) -> Receiver:
        receiver = Receiver(**kw)
        self.addCleanup(receiver.stop)
        return receiver

    def test_failed_escalation_is_retried_with_backoff_until_delivered(self):
        receiver = self.receiver(failures=2)
        self.start(FakeRunner(outcome="not_fixed"), escalation_url=receiver.url, routing_key=ROUTING_KEY)
        execution_id = self.alert("checkout-api", priority="P1")
        data, escalation = wait_for(lambda: self.escalation(execution_id, lambda e: e["state"] == "sent"))
        self.assertEqual((data["status"], escalation["reason"], escalation["attempts"]), ("failed", "unfixed", 3))
        self.assertEqual([(a["ok"], a["http_status"]) for a in escalation["attempt_log"]],
                         [(0, 500), (0, 500), (1, 202)])
        self.assertIn("HTTP 500", escalation["attempt_log"][0]["error"])
        self.assertEqual(receiver.codes, [500, 500, 202])
        event = receiver.events[-1]
        self.assertEqual(event["routing_key"], ROUTING_KEY)
        self.assertEqual(event["event_action"], "trigger")
        self.assertEqual(event["dedup_key"], escalation["dedup_key"])
        payload = event["payload"]
        self.assertEqual((payload["severity"], payload["source"], payload["class"]),
                         ("critical", "checkout-api", "unfixed"))
        self.assertIn("checkout-api down", payload["summary"])
        self.assertEqual(payload["custom_details"]["execution_id"], execution_id)
        self.assertFalse(payload["custom_details"]["service_up"])
        stored = self.db_rows("SELECT event FROM escalations")[0][0]
        self.assertNotIn(ROUTING_KEY, stored, "the routing key is added at send time, never stored")
        report = wait_for(lambda: self.execution(execution_id)["report"])
        wait_for(lambda: "| sent |" in Path(report).read_text(encoding="utf-8"))

    def test_an_event_the_receiver_rejects_is_kept_as_rejected(self):
        receiver = self.receiver(failures=5, fail_code=400)
        self.start(FakeRunner(outcome="not_fixed"), escalation_url=receiver.url, routing_key=ROUTING_KEY)
        execution_id = self.alert("svc-a")
        _, escalation = wait_for(lambda: self.escalation(execution_id, lambda e: e["state"] != "pending"))
        self.assertEqual((escalation["state"], escalation["attempts"]), ("rejected", 1))
        self.assertEqual(self.call("GET", "/ops/metrics")[1]["escalations"], {"rejected": 1})

    def test_pending_escalation_survives_a_restart_and_is_delivered(self):
        port = _free_port()  # nothing listens yet: connection refused
        url = f"http://127.0.0.1:{port}/v2/enqueue"
        service = self.start(FakeRunner(outcome="not_fixed"), escalation_url=url, routing_key=ROUTING_KEY,
                             escalation_backoff_s=0.05, escalation_backoff_max_s=0.2)
        execution_id = self.alert("svc-a")
        wait_for(lambda: self.escalation(execution_id, lambda e: e["attempts"] >= 2))
        service.stop(1.0, 1.0)
        (state, attempts, error), = self.db_rows("SELECT state, attempts, last_error FROM escalations")
        self.assertEqual(state, "pending")
        self.assertGreaterEqual(attempts, 2)
        self.assertIn("connection failed", error)
        receiver = self.receiver(port=port)
        restarted = IntakeService(self.config(escalation_url=url, routing_key=ROUTING_KEY), runner=FakeRunner())
        restarted.start()
        self.addCleanup(restarted.stop, 1.0, 1.0)
        _, escalation = wait_for(lambda: self.escalation(execution_id, lambda e: e["state"] == "sent", restarted))
        log = escalation["attempt_log"]
        self.assertEqual([a["ok"] for a in log], [0] * (len(log) - 1) + [1])
        self.assertEqual(len(receiver.events), 1)

    def test_without_a_url_escalations_stay_pending_and_are_reported(self):
        self.start(FakeRunner(outcome="not_fixed"))
        execution_id = self.alert("svc-a")
        _, escalation = wait_for(lambda: self.escalation(execution_id, lambda e: e["last_error"]))
        self.assertEqual((escalation["state"], escalation["attempts"]), ("pending", 0))
        self.assertIn("no escalation URL", escalation["last_error"])


if __name__ == "__main__":
    unittest.main()
