"""The ServiceNow execution API (intake/servicenow.py) over real HTTP on 127.0.0.1.

``ServiceNowEndToEndTest``: ``scripts/serve.py --demo-targets`` as a process, a ServiceNow trigger,
``run_incident`` in its worker (real local target, real OpenHands conversation with the offline
runbook brain, real verifier), then the execution, logs and active endpoints compared with the run's
own trace row. ``ServiceNowApiTest``: the same endpoints in-process with the library's FakeRunner
(payload checks, roles, registry targets, dedupe), fast.
"""

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
from pathlib import Path

from openhands_driver.intake import roles
from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.service import IntakeService
from openhands_driver.intake.testing import FakeRunner
from openhands_driver.trace import read_rows

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 240
ADMIN = "snow-admin-token-0123456789abcdef"
PHASES = {"hypothesize", "diagnose", "remediate", "verify", "finalize"}


def incident(number: str = "INC0010001", service: str = "stale_lockfile", **extra) -> dict:
    return {"incident_number": number, "short_description": "orders API returns 503 for every request",
            "description": "Monitoring: the health probe of the orders service answers 503 since 02:10.",
            "priority": "1 - Critical", "category": "Software", "assignment_group": "SRE On-Call",
            "state": "New", "target": {"ip_address": "127.0.0.1", "hostname": "orders-1", "service": service},
            **extra}


def http_call(port: int, method: str, path: str, body: dict | None = None, token: str | None = ADMIN,
              content_type: str = "application/json") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


class ServiceNowEndToEndTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="intake-snow-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)
        tokens = self.tmp / "tokens.json"
        self.viewer = roles.add_token(tokens, "dash", "viewer")
        self.operator = roles.add_token(tokens, "snow", "operator")
        env = {**os.environ, "SRE_INTAKE_TOKEN": ADMIN, "SRE_INTAKE_TOKENS": str(tokens)}
        env.pop("SRE_ESCALATION_URL", None)
        with open(self.tmp / "service.err", "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", "0", "--demo-targets",
                 "--db", str(self.tmp / "intake.db"), "--trace-log", str(self.tmp / "trace.jsonl"),
                 "--concurrency", "1", "--shutdown-deadline-s", "1"],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
        self.addCleanup(self._kill)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        self.assertTrue(ready, f"serve.py said nothing within 20 s: {self._stderr()}")
        line = json.loads(self.proc.stdout.readline() or "{}")
        self.assertEqual(line.get("event"), "listening", self._stderr())
        self.port = int(line["url"].rsplit(":", 1)[1])

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc.stdout.close()

    def _stderr(self) -> str:
        return (self.tmp / "service.err").read_text(encoding="utf-8", errors="replace")[-3000:]

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        return http_call(self.port, method, path, body, token or self.operator)

    def test_trigger_to_verified_fix_with_timeline_hypotheses_and_logs_from_the_run(self):
        began = time.monotonic()
        status, accepted = self.call("POST", "/api/v1/incident/trigger-agent", incident())
        self.assertEqual(status, 202, accepted)
        self.assertEqual(set(accepted), {"message", "execution_id", "incident_number", "status"})
        self.assertEqual((accepted["incident_number"], accepted["status"]), ("INC0010001", "queued"))
        execution_id = accepted["execution_id"]
        # the same incident again while it is worked on: the same execution
        status, again = self.call("POST", "/api/v1/incident/trigger-agent", incident())
        self.assertEqual((status, again["status"], again["execution_id"]), (202, "deduplicated", execution_id))
        status, active = self.call("GET", "/api/v1/incident/executions/active", token=self.viewer)
        self.assertEqual(status, 200, active)
        listed = {e["execution_id"]: e for e in active["executions"]}
        self.assertIn(execution_id, listed)
        self.assertEqual(listed[execution_id]["incident_number"], "INC0010001")
        self.assertIn(listed[execution_id]["status"], ("queued", "running"))
        # a viewer reads but may not trigger
        status, refused = self.call("POST", "/api/v1/incident/trigger-agent", incident("INC0010002"), token=self.viewer)
        self.assertEqual(status, 403, refused)
        self.assertIn("operator", refused["error"])

        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            status, execution = self.call("GET", f"/api/v1/incident/execution/{execution_id}", token=self.viewer)
            self.assertEqual(status, 200, execution)
            if execution["status"] not in ("queued", "running"):
                break
            self.assertLess(time.monotonic(), deadline, f"no verdict in {RUN_TIMEOUT_S}s: {self._stderr()}")
            time.sleep(0.5)
        print(f"[servicenow e2e] trigger to {execution['status']} in {time.monotonic() - began:.1f}s "
              "(incl. the worker's SDK import)", flush=True)
        self.assertEqual(execution["status"], "fixed", execution)
        self.assertTrue(execution["service_up"])
        self.assertEqual(execution["incident_number"], "INC0010001")
        [row] = [r for r in read_rows(self.tmp / "trace.jsonl") if r["run_id"] == execution["run_id"]]
        self.assertTrue(row["resolved"])
        self.assertIs(execution["resolved"], True)

        # timeline: one entry per action of the run, with the seed's fields
        timeline = execution["timeline"]
        self.assertEqual([t["step_number"] for t in timeline], list(range(1, len(row["actions"]) + 1)))
        for entry, action in zip(timeline, row["actions"]):
            self.assertTrue({"step_number", "action_type", "title", "status", "duration_seconds"} <= set(entry))
            self.assertIn(entry["action_type"], PHASES)
            self.assertEqual(entry["duration_seconds"], action["duration_s"])
            self.assertEqual(entry["status"], "completed" if action["exit_code"] in (0, None) else "failed")
        self.assertIn("remediate", [t["action_type"] for t in timeline])

        # logs: the commands the agent ran and what they printed
        status, logs = self.call("GET", f"/api/v1/incident/execution/{execution_id}/logs", token=self.viewer)
        self.assertEqual(status, 200, logs)
        self.assertEqual(len(logs["logs"]), len(row["actions"]))
        for entry, action in zip(logs["logs"], row["actions"]):
            self.assertTrue({"step", "action_type", "command_executed", "command_output", "status"} <= set(entry))
            self.assertEqual(entry["command_executed"], action["command"])
            self.assertEqual(entry["command_output"], action["output_excerpt"][-600:])
            self.assertEqual(entry["exit_code"], action["exit_code"])
        remediations = [e for e in logs["logs"] if e["action_type"] == "remediate"]
        self.assertTrue(any("stale-lockfile/remediate.py" in e["command_executed"] and e["status"] == "completed"
                            for e in remediations), remediations)

        # hypotheses: the router's, the runbook the agent loaded, its diagnosis; all proven by the run
        hypotheses = execution["hypotheses"]
        for hypothesis in hypotheses:
            self.assertTrue({"hypothesis_text", "confidence_score", "status"} <= set(hypothesis))
        self.assertEqual([h["source"] for h in hypotheses], ["router", "runbook", "diagnosis"])
        diagnosis = hypotheses[-1]
        self.assertEqual(diagnosis["fault_class"], row["diagnosis"]["reported"]["fault_class"])
        self.assertEqual(diagnosis["fault_class"], row["ground_truth"]["fault_class"])
        self.assertIn(row["diagnosis"]["reported"]["entity"], diagnosis["hypothesis_text"])
        self.assertEqual((diagnosis["status"], diagnosis["confidence_score"]), ("validated", 1.0))
        sources = {e["source"]: e["supports"] for e in diagnosis["evidence"]}
        self.assertEqual({k: sources.get(k) for k in ("ground_truth", "oracle", "verifier", "durability")},
                         {"ground_truth": True, "oracle": True, "verifier": True, "durability": True})
        runbook = hypotheses[1]
        self.assertEqual(runbook["fault_class"], row["skills_used"][0])
        self.assertEqual(runbook["status"], "validated")
        self.assertEqual(timeline[runbook["step_number"] - 1]["action_type"], "hypothesize")

        # verifications and provenance: the runner's proof and where everything came from
        checks = execution["verifications"]
        probes = [c for c in checks if c["kind"] == "verifier" and c["name"].startswith("probe")]
        self.assertEqual(len(probes), len(row["verification"]["attempts"]))
        self.assertEqual(len([c for c in checks if c["kind"] == "oracle"]), len(row["mitigation"]["checks"]))
        self.assertEqual({c["kind"]: c["passed"] for c in checks if c["kind"] in ("durability", "collateral",
                                                                                   "resolved")},
                         {"durability": True, "collateral": True, "resolved": True})
        provenance = {(p["subject"], p["ref"]) for p in execution["provenance"]}
        self.assertIn(("run", row["run_id"]), provenance)
        self.assertIn(("alert", "INC0010001"), provenance)
        self.assertIn(("skill", row["skills_used"][0]), provenance)

        status, active = self.call("GET", "/api/v1/incident/executions/active", token=self.viewer)
        self.assertNotIn(execution_id, [e["execution_id"] for e in active["executions"]])
        status, missing = self.call("GET", "/api/v1/incident/execution/ex-000000000000/logs", token=self.viewer)
        self.assertEqual(status, 404, missing)


class ServiceNowApiTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="intake-snow-api-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)

    def start(self, **overrides) -> IntakeService:
        values = {"port": 0, "db": self.tmp / "intake.db", "token": ADMIN, "demo_targets": True,
                  "trace_log": self.tmp / "trace.jsonl", "shutdown_deadline_s": 2.0, "cancel_grace_s": 2.0}
        self.runner = FakeRunner()
        service = IntakeService(IntakeConfig(**{**values, **overrides}), runner=self.runner).start()
        self.addCleanup(service.stop, 2.0, 2.0)
        self.port = service.port
        return service

    def wait_final(self, execution_id: str) -> dict:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status, data = http_call(self.port, "GET", f"/api/v1/incident/execution/{execution_id}")
            self.assertEqual(status, 200, data)
            if data["status"] not in ("queued", "running"):
                return data
            time.sleep(0.02)
        self.fail(f"{execution_id} did not finish: {data['status']}")

    def test_bad_payloads_are_refused_and_recorded(self):
        service = self.start()
        cases = [(incident(incident_number=""), 400, "incident_number"),
                 (incident(priority="whenever"), 400, "is not a priority"),
                 ({k: v for k, v in incident().items() if k != "target"}, 400, "target"),
                 (incident(scenario="no_such_scenario"), 400, "unknown scenario")]
        for body, code, words in cases:
            status, answer = http_call(self.port, "POST", "/api/v1/incident/trigger-agent", body)
            self.assertEqual(status, code, answer)
            self.assertIn(words, answer["error"])
        status, answer = http_call(self.port, "POST", "/api/v1/incident/trigger-agent", incident(),
                                   content_type="text/plain")
        self.assertEqual(status, 415, answer)
        self.assertEqual(service.store.counts()["deliveries"].get("rejected"), len(cases) + 1)
        self.assertEqual(http_call(self.port, "GET", "/api/v1/incident/executions/active", token=None)[0], 401)

    def test_target_service_names_a_registry_entry_of_any_backend(self):
        registry = self.tmp / "services.json"
        registry.write_text(json.dumps({"services": {
            "orders": {"url": "http://127.0.0.1:9/", "backend": "local", "handle": str(self.tmp / "orders-root"),
                       "scenario": "stale_lockfile"},
            "billing": {"url": "http://127.0.0.1:9/", "backend": "docker", "handle": "billing-1",
                        "scenario": "port_mismatch"}}}))
        self.start(services_file=registry)
        for number, name, field, handle in (("INC1", "orders", "target_root", self.tmp / "orders-root"),
                                            ("INC2", "billing", "target_container", "billing-1")):
            status, accepted = http_call(self.port, "POST", "/api/v1/incident/trigger-agent",
                                         incident(number, service=name))
            self.assertEqual((status, accepted["status"]), (202, "queued"), accepted)
            self.assertIn(f"attach to {'local' if name == 'orders' else 'docker'}", accepted["message"])
            data = self.wait_final(accepted["execution_id"])
            self.assertEqual((data["status"], data["target"]["kind"]), ("fixed", "attach"), data)
            config = next(r.config for r in self.runner.requests if r.execution_id == accepted["execution_id"])
            self.assertEqual(getattr(config, field), handle)
            self.assertEqual(config.incident_text.splitlines()[0], "orders API returns 503 for every request")

    def test_a_service_with_no_target_is_escalated_not_run(self):
        for demo, name in ((False, "stale_lockfile"), (True, "no-such-service")):
            with self.subTest(demo_targets=demo, service=name):
                self.tmp = Path(tempfile.mkdtemp(dir=self._tmp.name))
                self.start(demo_targets=demo)
                status, accepted = http_call(self.port, "POST", "/api/v1/incident/trigger-agent",
                                             incident(service=name))
                self.assertEqual(status, 202, accepted)
                self.assertIn("no agent runs", accepted["message"])
                data = self.wait_final(accepted["execution_id"])
                self.assertEqual(data["status"], "escalated", data)
                self.assertEqual((data["timeline"], data["hypotheses"]), ([], []))
                self.assertEqual(self.runner.requests, [])

    def test_fake_run_steps_and_logs_follow_its_actions(self):
        self.start()
        status, accepted = http_call(self.port, "POST", "/api/v1/incident/trigger-agent", incident())
        data = self.wait_final(accepted["execution_id"])
        self.assertEqual([(t["step_number"], t["action_type"], t["status"]) for t in data["timeline"]],
                         [(1, "diagnose", "completed"), (2, "remediate", "completed"), (3, "verify", "completed"),
                          (4, "finalize", "completed")])
        self.assertEqual([t["title"] for t in data["timeline"]], ["diagnose", "remediate: remediation steps of the skill x",
                                                                 "verify", "finish: Fixed."])
        status, logs = http_call(self.port, "GET", f"/api/v1/incident/execution/{accepted['execution_id']}/logs")
        self.assertEqual((status, logs["execution_id"], logs["incident_number"]),
                         (200, accepted["execution_id"], "INC0010001"))
        self.assertEqual([e["command_executed"] for e in logs["logs"]][:3],
                         ["python3 .agents/skills/x/diagnose.py", "python3 .agents/skills/x/remediate.py",
                          "targetctl status"])
        self.assertEqual(logs["logs"][2]["command_output"], "HTTP 200")
        # the fake run loaded no runbook and reported no diagnosis: only the router's hypothesis
        [router] = data["hypotheses"]
        self.assertEqual((router["source"], router["status"], router["confidence_score"]),
                         ("router", "inconclusive", None))


if __name__ == "__main__":
    unittest.main()
