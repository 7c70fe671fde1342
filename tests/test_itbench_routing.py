"""Text routing of imported ITBench incidents (openhands_driver/itbench/routing.py) and the trigger rules
that keep it general: triggers name causes, never symptom-level alert names or the sample's typos."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

from openhands_driver.itbench.routing import measure
from openhands_driver.skills import load_skills

REPO = Path(__file__).resolve().parent.parent
SYMPTOM_ALERTS = ("KubePodNotReady", "KubePodCrashLooping", "KubeContainerWaiting", "HighRequestErrorRate",
                  "HighRequestLatency", "NoRequestsReceived")


def record(sid: int, text: str, *classes: str) -> dict:
    return {"source": {"id": sid}, "error_report": text, "local_fault": classes[0] if classes else None,
            "local_faults": [{"fault_class": c, "params": {}} for c in classes]}


class TextRouting(unittest.TestCase):
    def test_right_none_wrong_split_by_reference(self) -> None:
        found = measure([record(1, "PAGE: the cart flagd feature flag was switched on", "feature_flag"),
                         record(2, "PAGE: service failing", "feature_flag"),
                         record(3, "PAGE: the image tag does not exist (ImagePullBackOff)", "crash_loop"),
                         record(4, "PAGE: chaos network delay", "chaos_schedule", "feature_flag"),
                         record(5, "unsupported", )], reference_ids={1, 2})
        self.assertEqual(found["reference"], {"right": 1, "none": 1, "wrong": 0, "total": 2})
        self.assertEqual(found["other"], {"right": 1, "none": 0, "wrong": 1, "total": 2})
        self.assertEqual([m["id"] for m in found["misses"]], [2, 3])

    def test_triggers_are_causes_not_alert_names(self) -> None:
        for name, skill in load_skills().items():
            lowered = {t.lower() for t in skill.triggers}
            with self.subTest(skill=name):
                self.assertFalse(lowered & {a.lower() for a in SYMPTOM_ALERTS}, skill.triggers)
                self.assertNotIn("partion", lowered)  # a typo copied from a sample description

    def test_no_trigger_fires_on_a_blind_incident_message(self) -> None:
        import tempfile

        from openhands_driver.config import RunConfig
        from openhands_driver.router import score_text
        from openhands_driver.runner import plan_incident
        from target_service import faults

        skills = load_skills()
        with tempfile.TemporaryDirectory() as tmp:
            catalog = Path(tmp) / "c.json"
            catalog.write_text(json.dumps({"schema_version": 1, "scenarios": [
                {"scenario_id": n, "local_fault": n, "error_report": "(blind)"} for n in faults.FAULT_CLASSES]}))
            for name in sorted(faults.FAULT_CLASSES):
                for seed in range(3):
                    plan = plan_incident(RunConfig(scenario=name, training_data=catalog, blind=True,
                                                   variant_seed=seed))
                    with self.subTest(fault=name, seed=seed):
                        self.assertEqual(score_text(plan.message, skills), {})

    def test_committed_sample_routes_somewhere_sensible(self) -> None:
        records = json.loads((REPO / "training_data/atlas_sre_scenarios.json").read_text())["scenarios"]
        found = measure(records)
        self.assertLessEqual(found["all"]["wrong"], 1, found["misses"])  # 23: a description copied from 16


if __name__ == "__main__":
    unittest.main()
