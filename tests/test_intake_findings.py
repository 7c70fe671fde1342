"""findings.derive: hypotheses, evidence, verifications and provenance from a run record (the
end-to-end path is in test_intake_servicenow.py)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

from openhands_driver.intake.findings import derive
from openhands_driver.intake.payloads import Incident
from openhands_driver.intake.phases import classify_actions
from openhands_driver.intake.store import Store


def action(tool: str, command: str, summary: str, exit_code: int | None = 0, output: str = "") -> dict:
    return {"tool": tool, "command": command, "summary": summary, "exit_code": exit_code, "output_excerpt": output,
            "risk": "LOW", "duration_s": 0.1}


ACTIONS = classify_actions([
    action("terminal", "targetctl status", "triage: gather symptoms", 1, "HTTP 503"),
    action("invoke_skill", json.dumps({"name": "feature-flag"}), "load the feature-flag runbook skill", None),
    action("terminal", "python3 .agents/skills/feature-flag/diagnose.py", "diagnose (skill feature-flag)", 0,
           '{"findings": []}'),
    action("invoke_skill", json.dumps({"name": "stale-lockfile"}), "load the stale-lockfile runbook skill", None),
    action("terminal", "python3 .agents/skills/stale-lockfile/diagnose.py", "diagnose (skill stale-lockfile)", 0,
           '{"stale": true}'),
    action("terminal", "python3 .agents/skills/stale-lockfile/remediate.py", "remediate: remove it", 0),
    action("finish", "Fixed.", "finish", None)])


def run(correct: bool = True, oracle: bool = True, verified: bool = True) -> dict:
    return {"run_id": "run-1", "status": "fixed" if verified else "not_fixed", "trace_log": "t.jsonl",
            "routing": {"skill_id": None, "method": "none", "reason": "no skill matched"},
            "diagnosis": {"correct": correct, "reported": {"fault_class": "stale_lockfile",
                                                            "entity": "var/lock/app.lock",
                                                            "evidence": ["app.lock names pid 7, not running"]}},
            "mitigation": {"passed": oracle, "checks": [{"check": "the lock is gone", "passed": oracle,
                                                         "detail": "var/lock/app.lock: absent"}]},
            "verification": {"verified": verified, "url": "http://127.0.0.1:9/",
                             "attempts": [{"attempt": 1, "ok": verified, "status_code": 200 if verified else 503}]},
            "durability": None, "collateral": {"passed": True, "changed": [{"path": "var/lock/app.lock"}]},
            "resolved": None, "brain": "runbook", "skills_used": ["feature-flag", "stale-lockfile"],
            "target": {"backend": "local", "url": "http://127.0.0.1:9/", "root": "/tmp/x"}}


INCIDENT = {"source": "servicenow", "priority": "P1", "title": "INC1: down", "dedupe_key": "servicenow:INC1",
            "labels": {"incident_number": "INC1"}}
PLAN = {"kind": "demo", "reason": "demo mode", "scenario": "stale_lockfile"}


class FindingsTest(unittest.TestCase):
    def test_the_runbook_left_for_another_is_refuted_and_the_proven_diagnosis_validated(self):
        found = derive(run(), ACTIONS, INCIDENT, PLAN)
        first, second, diagnosis = found.hypotheses
        self.assertEqual((first["fault_class"], first["status"], first["step"]), ("feature-flag", "refuted", 2))
        self.assertIn("moved on to runbook stale-lockfile", first["status_reason"])
        self.assertIn((3, None), [(e["step"], e["supports"]) for e in first["evidence"]])  # its diagnose step
        self.assertEqual((second["status"], second["confidence_score"]), ("validated", 1.0))
        self.assertEqual((diagnosis["status"], diagnosis["confidence_score"], diagnosis["step"]), ("validated", 1.0, 7))
        self.assertIn("var/lock/app.lock", diagnosis["hypothesis_text"])
        claims = [e for e in diagnosis["evidence"] if e["source"] == "agent"]
        self.assertEqual([(c["detail"], c["supports"]) for c in claims], [("app.lock names pid 7, not running", None)])

    def test_a_wrong_diagnosis_is_refuted_with_the_share_of_evidence_for_it(self):
        found = derive(run(correct=False), ACTIONS, INCIDENT, PLAN)
        diagnosis = found.hypotheses[-1]
        self.assertEqual(diagnosis["status"], "refuted")
        self.assertEqual(diagnosis["confidence_score"], round(2 / 3, 3))  # oracle and verifier for, ground truth against
        self.assertIn("ground_truth", diagnosis["status_reason"])

    def test_no_proof_leaves_it_inconclusive(self):
        record = run()
        record.update(diagnosis={"correct": None, "reported": record["diagnosis"]["reported"]}, mitigation=None,
                      verification=None)
        diagnosis = derive(record, ACTIONS, INCIDENT, PLAN).hypotheses[-1]
        self.assertEqual((diagnosis["status"], diagnosis["confidence_score"]), ("inconclusive", None))

    def test_verifications_and_provenance_are_the_runs_own(self):
        found = derive(run(verified=False), ACTIONS, INCIDENT, PLAN)
        self.assertEqual([(v["kind"], v["passed"]) for v in found.verifications],
                         [("verifier", False), ("verifier", False), ("oracle", True), ("collateral", True)])
        subjects = [(p["subject"], p["ref"]) for p in found.provenance]
        self.assertEqual(subjects[:3], [("alert", "INC1"), ("target_plan", "stale_lockfile"), ("run", "run-1")])
        self.assertIn(("skill", "feature-flag"), subjects)
        self.assertIn(("target", "http://127.0.0.1:9/"), subjects)


    def test_a_run_record_of_an_unexpected_shape_never_costs_the_verdict(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "intake.db")
            self.addCleanup(store.close)
            incident = Incident(source="generic", title="t", text="t", priority="P1", service="s", dedupe_key="d")
            [out] = store.accept("generic", {}, [(incident, PLAN)], 1.0, 60)
            store.transition(out["execution_id"], "running", "claimed", 2.0, ("queued",))
            with contextlib.redirect_stderr(io.StringIO()) as err:
                self.assertTrue(store.finish_run(out["execution_id"], "fixed", "ok", 3.0, actions=ACTIONS, phases=[],
                                                 run={"status": "fixed", "diagnosis": "not a record"}))
            self.assertIn("AttributeError", err.getvalue())
            self.assertEqual(store.execution(out["execution_id"])["status"], "fixed")
            found = store.findings(out["execution_id"])
            self.assertEqual(found["hypotheses"], [])
            self.assertIn("no findings derived: AttributeError", found["provenance"][0]["detail"])


if __name__ == "__main__":
    unittest.main()
