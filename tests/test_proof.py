"""The proof of a fix: diagnosis scoring, the mitigation oracle, durability and collateral, on real
local targets (supervisor + app processes) where it matters."""

from __future__ import annotations

import time
import unittest

from openhands_driver import proof
from openhands_driver.incident import GroundTruth
from openhands_driver.target.local import LocalTarget
from target_service import faults

TRUTH = GroundTruth(fault_class="stale_lockfile", entity="var/lock/cart/instance.lock",
                    variant_seed=1, service="cart")


class DiagnosisTests(unittest.TestCase):
    def test_last_json_block_with_a_fault_class_is_the_diagnosis(self) -> None:
        message = ('Looked at {"status": "error"} first.\nFixed.\n```json\n{"fault_class": '
                   '"stale-lockfile", "entity": "/srv/root/var/lock/cart/instance.lock", '
                   '"evidence": ["cannot acquire lock"]}\n```')
        scored = proof.score_diagnosis(message, TRUTH)
        self.assertTrue(scored["class_correct"])
        self.assertTrue(scored["entity_correct"])
        self.assertTrue(scored["correct"])
        self.assertEqual(scored["reported"]["evidence"], ["cannot acquire lock"])

    def test_wrong_class_or_entity_or_none_is_not_correct(self) -> None:
        wrong_class = '{"fault_class": "feature_flag", "entity": "var/lock/cart/instance.lock"}'
        wrong_entity = '{"fault_class": "stale_lockfile", "entity": "var/lock/cart/other.lock"}'
        self.assertFalse(proof.score_diagnosis(wrong_class, TRUTH)["correct"])
        self.assertFalse(proof.score_diagnosis(wrong_entity, TRUTH)["correct"])
        self.assertFalse(proof.score_diagnosis("Fixed it.", TRUTH)["correct"])
        self.assertIsNone(proof.score_diagnosis("Fixed it.", TRUTH)["reported"])
        suffix_only = '{"fault_class": "stale_lockfile", "entity": "instance.lock"}'
        self.assertFalse(proof.score_diagnosis(suffix_only, TRUTH)["entity_correct"])


class CollateralTests(unittest.TestCase):
    def test_only_the_fix_may_change(self) -> None:
        before = {"etc/a": "1", "var/lock/x.lock": "2", "var/lock/sup.lock": "3"}
        fixed = {"etc/a": "1", "var/lock/sup.lock": "3"}
        verdict = proof.compare_snapshots(before, fixed, may_change=["var/lock/x.lock"],
                                          decoys=["var/lock/sup.lock"])
        self.assertTrue(verdict["passed"])
        self.assertEqual(verdict["changed"], [{"path": "var/lock/x.lock", "change": "deleted"}])
        careless = {"etc/a": "1"}
        verdict = proof.compare_snapshots(before, careless, may_change=["var/lock/x.lock"],
                                          decoys=["var/lock/sup.lock"])
        self.assertFalse(verdict["passed"])
        self.assertEqual(verdict["decoys_changed"], ["var/lock/sup.lock"])
        sprawl = {**fixed, "etc/a": "edited", "etc/new": "9"}
        verdict = proof.compare_snapshots(before, sprawl, may_change=["var/lock/x.lock"], decoys=[])
        self.assertEqual({c["path"] for c in verdict["outside_fix"]}, {"etc/a", "etc/new"})

    def test_a_directory_may_change_as_a_whole(self) -> None:
        verdict = proof.compare_snapshots({}, {"etc/chaos/x.json": "1"}, may_change=["etc/chaos/"],
                                          decoys=[])
        self.assertTrue(verdict["passed"])


class ServiceToolTests(unittest.TestCase):
    def test_an_answer_that_is_not_json_is_retried_then_a_clear_error(self) -> None:
        from openhands_driver.proof.mitigation import run_service_tool
        from openhands_driver.target.base import CommandResult

        class Flaky:
            root = "/r"
            calls = 0
            answers = ["", '{"a": "1"}']

            def service_tool_argv(self):
                return ["faults.py"]

            def exec(self, argv, timeout_s=60.0):
                self.calls += 1
                return CommandResult(argv, 0, self.answers.pop(0), "", 0.01)

        flaky = Flaky()
        self.assertEqual(run_service_tool(flaky, ["snapshot"]), {"a": "1"})  # the second answer is used
        self.assertEqual(flaky.calls, 2)
        broken = Flaky()
        broken.answers = ["", "not json"]
        with self.assertRaisesRegex(RuntimeError, "snapshot on the target answered no JSON"):
            run_service_tool(broken, ["snapshot"])


class ChangeDiffTests(unittest.TestCase):
    def test_diffs_of_modified_created_and_deleted_files(self) -> None:
        changed = [{"path": "etc/flags.json", "change": "modified"}, {"path": "etc/new", "change": "created"},
                   {"path": "var/lock/x.lock", "change": "deleted"}, {"path": "etc/secrets/db", "change": "modified"}]
        before = {"etc/flags.json": '{\n  "on": true\n}', "var/lock/x.lock": "4242", "etc/secrets/db": None}
        after = {"etc/flags.json": '{\n  "on": false\n}', "etc/new": "hello", "etc/secrets/db": None}
        found = {d["path"]: d["diff"] for d in proof.diffs(changed, before, after)}
        self.assertIn('-  "on": true', found["etc/flags.json"])
        self.assertIn('+  "on": false', found["etc/flags.json"])
        self.assertIn("+hello", found["etc/new"])
        self.assertIn("-4242", found["var/lock/x.lock"])
        self.assertNotIn("etc/secrets/db", found)  # no text known: no diff

    def test_texts_leave_out_secrets_and_large_or_binary_files(self) -> None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "etc" / "secrets").mkdir(parents=True)
            (root / "etc" / "service.env").write_text("MODE=fast\nDB_PASSWORD=hunter2-value\n")
            (root / "etc" / "secrets" / "api").write_text("sk-live-secret")
            (root / "etc" / "big").write_text("x" * (faults.TEXT_LIMIT + 1))
            (root / "etc" / "bin").write_bytes(b"\xff\xfe\x00")
            found = faults.texts(root, ["etc/"])
        self.assertEqual(found["etc/service.env"], "MODE=fast\nDB_PASSWORD=<masked>\n")
        self.assertIsNone(found["etc/secrets/api"])
        self.assertIsNone(found["etc/big"])
        self.assertIsNone(found["etc/bin"])
        self.assertNotIn("hunter2", repr(found))


class LiveProofTests(unittest.TestCase):
    """A real target: the oracle and the snapshots run through the target's own exec."""

    def start(self, fault: str | None, params: dict) -> LocalTarget:
        target = LocalTarget(scenario_id="i-test", fault=fault, fault_params=params)
        self.addCleanup(target.cleanup)
        target.start()
        return target

    def test_oracle_real_fix_passes_restart_only_fails_decoy_damage_fails(self) -> None:
        variant = faults.make_variant("stale_lockfile", 5)
        target = self.start("stale_lockfile", variant["params"])
        before = proof.take_snapshot(target)
        self.assertFalse(proof.check_mitigation(target, "stale_lockfile", variant["params"])["passed"])
        target.restart()  # a symptom-only move: the cause survives
        self.assertFalse(proof.check_mitigation(target, "stale_lockfile", variant["params"])["passed"])
        self.assertTrue(target.exec(["rm", "-f", variant["entity"]]).ok)
        mitigation = proof.check_mitigation(target, "stale_lockfile", variant["params"])
        self.assertTrue(mitigation["passed"], mitigation)
        after = proof.take_snapshot(target)
        collateral = proof.compare_snapshots(before, after, may_change=variant["may_change"],
                                             decoys=variant["decoys"])
        self.assertTrue(collateral["passed"], collateral)
        durability = proof.check_durability(target, "i-test", soak_s=1.0, interval_s=0.25)
        self.assertTrue(durability["passed"], durability)
        self.assertTrue(durability["restarted"])
        # Removing the supervisor's own lock too (a careless `rm <dir>/*.lock`): caught twice.
        self.assertTrue(target.exec(["rm", "-f", variant["decoys"][0]]).ok)
        self.assertFalse(proof.check_mitigation(target, "stale_lockfile", variant["params"])["passed"])
        damaged = proof.compare_snapshots(before, proof.take_snapshot(target),
                                          may_change=variant["may_change"], decoys=variant["decoys"])
        self.assertEqual(damaged["decoys_changed"], variant["decoys"])

    def test_a_fix_that_does_not_survive_a_restart_fails_durability(self) -> None:
        target = self.start(None, {})
        # Healthy now, but the settings the next start reads are broken: recovery, not repair.
        self.assertTrue(target.exec(["sh", "-c", "echo CACHE_TTL_S=soon > etc/service.env"]).ok)
        durability = proof.check_durability(target, "i-test", soak_s=0.5, interval_s=0.25)
        self.assertFalse(durability["passed"])
        self.assertIn("did not come back", durability["error"])

    def test_durability_soak_fails_when_a_probe_fails(self) -> None:
        target = self.start(None, {})
        calls = []

        def break_midway(seconds: float) -> None:
            time.sleep(seconds)
            calls.append(seconds)
            if len(calls) == 2:  # during the soak, the lock is taken by someone else
                target.exec(["sh", "-c", "echo 1 > var/lock/service.lock"])

        durability = proof.check_durability(target, "i-test", soak_s=1.5, interval_s=0.25,
                                            sleep=break_midway)
        self.assertFalse(durability["passed"])
        self.assertTrue(any(not p["ok"] for p in durability["probes"]))


if __name__ == "__main__":
    unittest.main()
