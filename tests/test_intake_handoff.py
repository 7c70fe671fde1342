"""The intake's pause / resume / reject flow across a restart, for real: ``scripts/serve.py
--demo-targets`` as a process, alerts labelled ``pause_after_diagnosis``, real runs with the runbook
brain in the worker; the service is stopped and started again on the same database between the
pause and the operator's decision. Tokens with roles (viewer may not resume; operator may)."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from openhands_driver.audit.verify import verify_db
from openhands_driver.intake import roles
from openhands_driver.trace import read_rows

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 300


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class IntakeHandoffTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="intake-handoff-")
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        self.tokens = self.tmp / "tokens.json"
        self.values = {role: roles.add_token(self.tokens, f"{role}-1", role) for role in roles.ROLES}
        self.proc = None
        self.start()

    def start(self) -> None:
        env = {**os.environ, roles.ENV_TOKENS: str(self.tokens)}
        env.pop("SRE_INTAKE_TOKEN", None)
        env.pop("SRE_ESCALATION_URL", None)
        self.err = open(self.tmp / "service.err", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", "0", "--demo-targets",
             "--db", str(self.tmp / "intake.db"), "--trace-log", str(self.tmp / "trace.jsonl"),
             "--concurrency", "1", "--shutdown-deadline-s", "1"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=self.err, text=True, start_new_session=True)
        self.addCleanup(self.kill, self.proc, self.err)
        ready = self.line()
        self.assertEqual(ready["event"], "listening", ready)
        self.port = int(ready["url"].rsplit(":", 1)[1])

    def kill(self, proc, err) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        err.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)

    def line(self, timeout_s: float = 30) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        self.assertTrue(ready, "no output from serve.py")
        return json.loads(self.proc.stdout.readline())

    def call(self, method: str, path: str, body: dict | None = None, role: str = "admin") -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                         headers={"Authorization": f"Bearer {self.values[role]}",
                                  "Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def wait_status(self, execution_id: str, statuses: tuple[str, ...]) -> dict:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        data = {}
        while time.monotonic() < deadline:
            _, data = self.call("GET", f"/executions/{execution_id}", role="viewer")
            if data.get("status") in statuses:
                return data
            time.sleep(0.5)
        self.fail(f"{execution_id} not in {statuses}: {data.get('status')}; "
                  f"{(self.tmp / 'service.err').read_text()[-3000:]}")

    def alert(self, service: str) -> str:
        status, accepted = self.call("POST", "/webhook/generic", {
            "title": f"{service} lock", "service": service, "priority": "P2", "scenario": "stale_lockfile",
            "labels": {"pause_after_diagnosis": "true"}}, role="operator")
        self.assertEqual(status, 202, accepted)
        return accepted["execution_id"]

    def test_pause_restart_resume_and_reject(self) -> None:
        first = self.alert("checkout")
        paused = self.wait_status(first, ("awaiting_operator", "fixed", "failed", "escalated"))
        self.assertEqual(paused["status"], "awaiting_operator", paused)
        url = paused["run"]["target"]["url"]
        self.assertEqual(http_status(url), 503)  # kept running and broken
        self.assertIn("remediate.py", json.dumps(paused["run"]["pause"]["proposed"]))

        self.stop()  # a restart: the paused execution and its target outlive the service
        self.start()
        _, again = self.call("GET", f"/executions/{first}", role="viewer")
        self.assertEqual(again["status"], "awaiting_operator")
        self.assertEqual(http_status(url), 503)

        self.assertEqual(self.call("POST", f"/executions/{first}/resume", {"note": "x"}, role="viewer")[0], 403)
        status, resumed = self.call("POST", f"/executions/{first}/resume",
                                    {"note": "lock owner confirmed dead"}, role="operator")
        self.assertEqual((status, resumed["resumed_by"]), (202, "operator-1"), resumed)
        done = self.wait_status(first, ("fixed", "failed", "escalated", "needs_human"))
        self.assertEqual(done["status"], "fixed", done)
        self.assertIn("resumed by token operator-1: lock owner confirmed dead",
                      json.dumps(done["timeline"]))
        rows = {r["run_id"]: r for r in read_rows(self.tmp / "trace.jsonl")}
        resumed_row = rows[done["run"]["run_id"]]
        paused_row = rows[resumed_row["resumed_from"]]
        self.assertEqual(paused_row["status"], "paused")
        self.assertEqual(paused_row["conversation_id"], resumed_row["conversation_id"])
        self.assertTrue(resumed_row["resolved"])
        self.assertEqual(self.call("POST", f"/executions/{first}/resume", {}, role="operator")[0], 409)

        second = self.alert("orders")
        waiting = self.wait_status(second, ("awaiting_operator", "fixed", "failed", "escalated"))
        self.assertEqual(waiting["status"], "awaiting_operator", waiting)
        target = waiting["run"]["target"]["url"]
        status, rejected = self.call("POST", f"/executions/{second}/reject", {"reason": "change freeze"},
                                     role="operator")
        self.assertEqual((status, rejected["status"]), (200, "rejected"), rejected)
        deadline = time.monotonic() + 20
        while http_status(target) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertIsNone(http_status(target), "the rejected run's target must be stopped")
        self.stop()
        report = verify_db(self.tmp / "intake.db")
        self.assertTrue(report.ok, report.summary())
        self.assertIn("operator-1", (self.tmp / "intake.db").read_bytes().decode("latin-1"))


if __name__ == "__main__":
    unittest.main()
