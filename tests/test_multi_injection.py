"""Incidents with several injections: provisioned together, judged on every fault.

Unit level: faults.inject/run_oracles with two injections, make_incident's ground truth, the
diagnosis score. End to end: a blind two-flag incident run by the runbook brain is resolved only
because the brain, after its first fix left the service unhealthy, gathered again and fixed the
second flag too; with only one flag fixed the oracle fails.
"""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.incident import GroundTruth, make_incident
from openhands_driver.proof import score_diagnosis
from openhands_driver.runner import run_incident
from openhands_driver.scenarios import Scenario
from target_service import faults

TWO_FLAGS = [{"fault_class": "feature_flag", "params": {"flag": "paymentUnreachable", "variant": "on"}},
             {"fault_class": "feature_flag", "params": {"flag": "adFailure", "variant": "on"}}]


class NullConsole:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def _scenario(local_faults: list[dict]) -> Scenario:
    return Scenario(scenario_id="itbench_15_two_flags", local_fault=local_faults[0]["fault_class"],
                    error_report="(imported)", title="two flags", extra={"local_faults": local_faults})


def _turn_off(root: Path, rel: str, flag: str) -> None:
    path = root / rel
    data = json.loads(path.read_text())
    data["flags"][flag]["defaultVariant"] = "off"
    path.write_text(json.dumps(data))


class InjectTogether(unittest.TestCase):
    def test_both_flags_injected_and_both_oracles_must_pass(self) -> None:
        incident = make_incident(_scenario(TWO_FLAGS), run_id="r", blind=True, seed=5)
        self.assertEqual([i["params"]["flag"] for i in incident.injections],
                         ["paymentUnreachable", "adFailure"])
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            self.assertTrue(faults.inject(root, None, scenario_id="i-x", listen_port=18080,
                                          faults=incident.injections))
            self.assertFalse(faults.inject(root, None, scenario_id="i-x", listen_port=18080,
                                           faults=incident.injections))  # once per root
            self.assertFalse(faults.run_oracles(root, incident.injections)["passed"])
            flags_file = incident.ground_truth.may_change[0]
            _turn_off(root, flags_file, "paymentUnreachable")
            half = faults.run_oracles(root, incident.injections)
            self.assertFalse(half["passed"])
            self.assertEqual([f["passed"] for f in half["by_fault"]], [True, False])
            _turn_off(root, flags_file, "adFailure")
            self.assertTrue(faults.run_oracles(root, incident.injections)["passed"])

    def test_single_fault_api_unchanged(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            faults.inject(Path(tmp), "feature_flag", scenario_id="i-y", listen_port=18081,
                          params={"flag": "cartFailure"})
            self.assertFalse(faults.run_oracle(Path(tmp), "feature_flag", {"flag": "cartFailure"})["passed"])

    def test_bad_spec_is_a_value_error(self) -> None:
        for bad in ([], [{"fault": "nope"}], [{"fault": "feature_flag", "params": [1]}], "x"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                faults.fault_specs(bad)

    def test_ground_truth_lists_every_fault(self) -> None:
        mixed = [{"fault_class": "crash_loop", "params": {"variant": "crash"}},
                 {"fault_class": "bad_release", "params": {"variant": "arch"}}]
        truth = make_incident(_scenario(mixed), run_id="r", blind=True, seed=2).ground_truth
        self.assertEqual([f["fault_class"] for f in truth.faults], ["crash_loop", "bad_release"])
        self.assertEqual(truth.fault_class, "crash_loop")  # old readers: the first
        self.assertEqual(truth.entity, truth.faults[0]["entity"])
        for fault in truth.faults:
            self.assertTrue(set(fault["may_change"]) <= set(truth.may_change))
        self.assertFalse(set(truth.decoys) & set(truth.may_change))

    def test_single_record_still_works(self) -> None:
        scenario = Scenario(scenario_id="feature_flag", local_fault="feature_flag", error_report="r")
        incident = make_incident(scenario, run_id="r", blind=True, seed=1)
        self.assertEqual(len(incident.injections), 1)
        self.assertEqual(len(incident.ground_truth.faults), 1)
        self.assertEqual(incident.fault, "feature_flag")


class DiagnosisOfSeveral(unittest.TestCase):
    truth = GroundTruth(fault_class="feature_flag", entity="paymentUnreachable", variant_seed=1,
                        service="cart", faults=[
                            {"fault_class": "feature_flag", "entity": "paymentUnreachable"},
                            {"fault_class": "feature_flag", "entity": "adFailure"}])

    def test_naming_one_is_correct_and_recorded(self) -> None:
        found = score_diagnosis('done {"fault_class": "feature_flag", "entity": "adFailure"}', self.truth)
        self.assertTrue(found["correct"])
        self.assertEqual(found["matched"], [{"index": 1, "fault_class": "feature_flag"}])
        self.assertFalse(found["all_named"])

    def test_naming_both(self) -> None:
        msg = ('{"fault_class": "feature_flag", "entity": "paymentUnreachable"} '
               '{"fault_class": "feature_flag", "entity": "adFailure"}')
        found = score_diagnosis(msg, self.truth)
        self.assertTrue(found["correct"] and found["all_named"])

    def test_naming_neither(self) -> None:
        found = score_diagnosis('{"fault_class": "feature_flag", "entity": "cartFailure"}', self.truth)
        self.assertFalse(found["correct"])
        self.assertEqual(found["matched"], [])


class TwoInjectionsEndToEnd(unittest.TestCase):
    """A real local target, the real SDK conversation, the runbook brain, blind."""

    def test_resolved_only_when_both_flags_are_fixed(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            catalog = Path(tmp) / "catalog.json"
            catalog.write_text(json.dumps({"schema_version": 2, "scenarios": [{
                "scenario_id": "itbench_15_two_flags", "local_fault": "feature_flag",
                "error_report": "(imported)", "local_faults": TWO_FLAGS,
                "fault_params": TWO_FLAGS[0]["params"]}]}))
            config = RunConfig(scenario="itbench_15_two_flags", training_data=catalog, blind=True,
                               variant_seed=7, trace_log=Path(tmp) / "trace.jsonl",
                               verify_interval_s=0.3, soak_s=1.0)
            result = run_incident(config, console=NullConsole())
        data = result.to_dict()
        detail = json.dumps({k: data.get(k) for k in ("status", "diagnosis", "mitigation", "collateral",
                                                       "agent_message", "error")}, default=str)[:3000]
        self.assertTrue(result.resolved, detail)
        self.assertTrue(result.mitigation["passed"], detail)
        self.assertEqual([f["passed"] for f in result.mitigation["by_fault"]], [True, True])
        self.assertTrue(result.diagnosis["correct"], detail)
        self.assertTrue(result.diagnosis["all_named"], detail)
        self.assertEqual(len(result.ground_truth["faults"]), 2)
        remediations = [a.command for a in result.actions if "remediate.py" in a.command]
        self.assertEqual(len(remediations), 2, remediations)  # one fix per flag


if __name__ == "__main__":
    unittest.main()


class CrashPlusBadReleaseEndToEnd(unittest.TestCase):
    """ITBench 60's shape: a crashing init step plus an image for the wrong architecture. The first
    fix's restart still fails (the other cause): the brain must verify, look again and fix the rest."""

    def test_resolved_with_both_fixed(self) -> None:
        mixed = [{"fault_class": "crash_loop", "params": {"variant": "crash"}},
                 {"fault_class": "bad_release", "params": {"variant": "arch"}}]
        with tempfile.TemporaryDirectory() as tmp:
            catalog = Path(tmp) / "catalog.json"
            catalog.write_text(json.dumps({"schema_version": 2, "scenarios": [{
                "scenario_id": "itbench_60_crash_and_arch", "local_fault": "crash_loop",
                "error_report": "(imported)", "local_faults": mixed}]}))
            result = run_incident(RunConfig(scenario="itbench_60_crash_and_arch", training_data=catalog,
                                            blind=True, variant_seed=1, trace_log=Path(tmp) / "t.jsonl",
                                            verify_interval_s=0.3, soak_s=1.0), console=NullConsole())
        self.assertTrue(result.resolved, (result.agent_message, result.mitigation))
        self.assertTrue(result.diagnosis["all_named"], result.diagnosis)
        self.assertTrue({"bad-release", "crash-loop"} <= set(result.skills_used or []), result.skills_used)


class TwoInjectionsDocker(unittest.TestCase):
    """The provisioning file carries every injection into the container; both must be fixed."""

    def test_two_flags_in_a_container(self) -> None:
        from openhands_driver.target import docker as dt
        from tests.support import service_faults as sf
        from tests.test_target_docker import new_run_id, require_engine

        client = require_engine()["client"]  # skips when no engine answers
        run_id = new_run_id("two-flags")
        self.addCleanup(dt.remove_run_containers, run_id, client)
        incident = make_incident(_scenario(TWO_FLAGS), run_id="r", blind=True, seed=5)
        target = dt.DockerTarget(scenario_id="inst-x", fault=None, run_id=run_id, client=client,
                                 injections=incident.injections)
        self.addCleanup(target.cleanup)
        target.start()

        def oracles() -> dict:
            done = target.exec(["python3", "/app/faults.py", "oracle", "--root", "/", "--faults",
                                json.dumps(incident.injections)])
            return json.loads(done.stdout)

        self.assertEqual([f["passed"] for f in oracles()["by_fault"]], [False, False])
        skill = sf.SKILLS / "feature-flag"
        self.assertEqual(sf.run_script(target, skill / "remediate.py")[0], 0)
        self.assertEqual(sf.ctl(target, "status")[0], 1)  # the other flag still fails requests
        self.assertFalse(oracles()["passed"])
        self.assertEqual(sf.run_script(target, skill / "remediate.py")[0], 0)
        self.assertEqual(sf.ctl(target, "status")[0], 0)
        self.assertTrue(oracles()["passed"])
