"""The whole path, for real: ``scripts/serve.py --demo-targets`` as a process, alerts over HTTP,
``run_incident`` in the service's worker process (real local target, real OpenHands conversation
with the offline runbook brain, real verifier), then SIGTERM with a run in flight.

Needs no Docker and no model. The worker imports the SDK once (~8 s); each run takes ~10 s.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from openhands_driver.trace import read_rows

REPO = Path(__file__).resolve().parent.parent
TOKEN = "e2e-intake-token-0123456789abcdef"
RUN_TIMEOUT_S = 240


def _pg_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class IntakeEndToEndTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="intake-e2e-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)
        env = {**os.environ, "SRE_INTAKE_TOKEN": TOKEN}
        env.pop("SRE_ESCALATION_URL", None)
        with open(self.tmp / "service.err", "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", "0", "--demo-targets",
                 "--db", str(self.tmp / "intake.db"), "--trace-log", str(self.tmp / "trace.jsonl"),
                 "--concurrency", "1", "--shutdown-deadline-s", "1"],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                start_new_session=True)
        self.addCleanup(self._kill)
        ready = self._line(timeout_s=20)
        self.assertEqual(ready["event"], "listening", ready)
        self.port = int(ready["url"].rsplit(":", 1)[1])

    def _kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc.stdout.close()

    def _line(self, timeout_s: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:
            self.fail(f"no output from serve.py within {timeout_s}s; stderr: {self._stderr()}")
        line = self.proc.stdout.readline()
        if not line:
            self.fail(f"serve.py exited ({self.proc.poll()}); stderr: {self._stderr()}")
        return json.loads(line)

    def _stderr(self) -> str:
        return (self.tmp / "service.err").read_text(encoding="utf-8", errors="replace")[-3000:]

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                         headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def wait_status(self, execution_id: str, statuses: tuple[str, ...], timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status, data = self.call("GET", f"/executions/{execution_id}")
            self.assertEqual(status, 200, data)
            if data["status"] in statuses:
                return data
            time.sleep(0.25)
        self.fail(f"{execution_id} not in {statuses} within {timeout_s}s: {data['status']}; "
                  f"stderr: {self._stderr()}")

    def test_alert_to_verified_fix_then_sigterm_cancels_the_run_in_flight(self):
        began = time.monotonic()
        status, health = self.call("GET", "/healthz")
        self.assertEqual((status, health), (200, {"status": "ok"}))
        am = json.loads((REPO / "tests" / "fixtures" / "intake" / "alertmanager_firing.json").read_text())
        am["alerts"] = am["alerts"][:1]  # checkout-api, scenario stale_lockfile, critical
        status, accepted = self.call("POST", "/webhook/alertmanager", am)
        self.assertEqual((status, accepted["status"]), (202, "queued"), accepted)
        fixed = self.wait_status(accepted["execution_id"], ("fixed", "failed", "escalated"), RUN_TIMEOUT_S)
        first_s = time.monotonic() - began
        self.assertEqual(fixed["status"], "fixed", fixed)
        self.assertTrue(fixed["service_up"])
        self.assertTrue(fixed["verification"]["verified"])
        self.assertEqual(fixed["run"]["skill_id"], "stale-lockfile")
        phases = [a["phase"] for a in fixed["actions"]]
        for phase in ("diagnose", "remediate", "verify", "finalize"):
            self.assertIn(phase, phases)
        self.assertTrue(all(a["risk"] for a in fixed["actions"]))
        self.assertFalse(_pg_alive(fixed["run"]["target"].get("pid")), "the run's target must be gone")
        report = Path(fixed["report"]).read_text(encoding="utf-8")
        self.assertIn("Status:** fixed", report)
        self.assertIn("verifier: verified", report)
        rows = [r for r in read_rows(self.tmp / "trace.jsonl") if r["run_id"] == fixed["run"]["run_id"]]
        self.assertEqual(len(rows), 1)
        self.assertTrue((self.tmp / "logs" / f"{fixed['execution_id']}.log").stat().st_size > 0)

        # A second incident; SIGTERM once its target is up: the run is cancelled and cleaned up.
        status, second = self.call("POST", "/webhook/generic", {
            "title": "orders-api not ready", "service": "orders-api", "priority": "P2",
            "scenario": "readiness_probe_fail"})
        self.assertEqual(status, 202, second)
        log = self.tmp / "logs" / f"{second['execution_id']}.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "target local up" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.1)
        self.assertIn("target local up", log.read_text())
        self.proc.send_signal(signal.SIGTERM)  # `kill PID`, as a process manager stops a service
        self.assertEqual(self._line(timeout_s=60)["event"], "stopping")
        stopped = self._line(timeout_s=60)
        self.assertEqual(stopped["event"], "stopped", stopped)
        self.assertEqual(stopped["runs"]["cancelled"], [second["execution_id"]])
        self.assertEqual(self.proc.wait(30), 0)
        with sqlite3.connect(self.tmp / "intake.db") as db:
            rows = dict(db.execute("SELECT id, status FROM executions"))
            result = json.loads(db.execute("SELECT result FROM executions WHERE id=?",
                                           (second["execution_id"],)).fetchone()[0])
        self.assertEqual(rows, {fixed["execution_id"]: "fixed", second["execution_id"]: "cancelled"})
        self.assertEqual(result["status"], "interrupted", result.get("error"))
        self.assertFalse(_pg_alive(result["target"].get("pid")), "the cancelled run's target must be gone")
        print(f"\n[e2e] first alert fixed after {first_s:.1f}s (incl. SDK import in the worker); "
              f"total {time.monotonic() - began:.1f}s", flush=True)


if __name__ == "__main__":
    unittest.main()
