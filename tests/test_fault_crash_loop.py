"""Fault class crash_loop: generator, legacy (ITBench) params, oracle, live symptom and skill."""

from __future__ import annotations

import json
import shutil
import time
import unittest
from pathlib import Path

from openhands_driver import targetctl
from openhands_driver.target.local import LocalTarget
from target_service import faults, supervisor
from tests.support import workload as wk
from tests.support.workload import http_get, inject_root

FAULT = "crash_loop"


def _p(v: dict) -> dict:
    return faults.fault_class(FAULT)._p(v["params"])


class CrashLoopClassTests(wk.WorkloadClassTests):
    FAULT = FAULT
    LEGACY = ({}, {"variant": "crash"}, {"variant": "invalid_command"}, {"variant": "hang"})

    def assert_refused(self, root: Path) -> None:  # the supervisor starts it; the start command fails
        argv, _env = supervisor.read_workload(root)
        entrypoint = json.loads((root / "etc/service.json").read_text())["entrypoint"]
        self.assertEqual(argv[:2], ["sh", entrypoint])

    def fix(self, root: Path, v: dict) -> None:
        p = _p(v)
        shutil.copyfile(root / p["packaged"], root / p["entrypoint"])

    def workarounds(self):
        def satisfy_the_step(root: Path, v: dict) -> None:  # create the awaited file / fix the input
            p = _p(v)
            (root / p["wait"][1]).parent.mkdir(parents=True, exist_ok=True)
            (root / p["wait"][1]).write_text("done\n")
            (root / p["file"]).parent.mkdir(parents=True, exist_ok=True)
            (root / p["file"]).write_text("{}\n")

        def drop_the_entrypoint(root: Path, v: dict) -> None:  # app started without init
            (root / _p(v)["entrypoint"]).unlink()

        def strip_all_init(root: Path, v: dict) -> None:
            self.fix(root, v)
            self.damage_decoy(root, v)

        return {"satisfy the step": satisfy_the_step, "drop the entrypoint": drop_the_entrypoint,
                "strip all init": strip_all_init}

    def damage_decoy(self, root: Path, v: dict) -> None:
        (root / _p(v)["hook_path"]).unlink()

    def test_variants(self) -> None:
        seen = {(self.variant(s)["params"]["variant"], self.variant(s)["params"]["step"]) for s in range(20)}
        self.assertEqual({variant for variant, _ in seen}, {"crash", "invalid_command", "hang"})
        self.assertGreaterEqual(len({step for variant, step in seen if variant == "crash"}), 3)
        root = inject_root(self.tmp, FAULT, {"variant": "invalid_command"}, "inv")
        self.assertIn('exec "$@" --workers auto', (root / faults.ENTRYPOINT).read_text())
        root = inject_root(self.tmp, FAULT, {"variant": "hang"}, "hang")
        self.assertIn("until test -e var/lib/db/schema.migrated", (root / faults.ENTRYPOINT).read_text())
        with self.assertRaisesRegex(ValueError, "variant"):
            inject_root(self.tmp, FAULT, {"variant": "nope"}, "nope")


class CrashLoopLiveTests(wk.WorkloadLiveTests):
    FAULT = FAULT
    SKILL = "crash-loop"


def _evidence(seed: int) -> str:
    variant = faults.make_variant(FAULT, seed)["params"]["variant"]
    return {"crash": "entrypoint: init step", "invalid_command": "unrecognized arguments",
            "hang": "init not finished"}[variant]


CrashLoopLiveTests.EVIDENCE = {seed: _evidence(seed) for seed in (0, 1, 2)}


class LegacyVariantsLiveTests(unittest.TestCase):
    """The ITBench-style params (crash / invalid_command / hang) on real processes."""

    def test_each_variant_fails_the_way_it_should_and_the_packaged_copy_heals_it(self) -> None:
        for variant, needle in (("crash", "JSONDecodeError"), ("invalid_command", "unrecognized arguments"),
                                ("hang", "waiting for var/lib/db/schema.migrated")):
            with self.subTest(variant=variant), \
                    LocalTarget(scenario_id="inst-l", fault=FAULT, fault_params={"variant": variant}) as target:
                self.assertIsNone(http_get(target.url)[0])
                deadline_logs = ""
                for _ in range(50):
                    deadline_logs = target.logs(100)
                    if needle in deadline_logs and (variant == "hang" or "; restarting in" in deadline_logs):
                        break
                    time.sleep(0.1)
                self.assertIn(needle, deadline_logs)
                if variant == "hang":
                    self.assertEqual(targetctl.read_state(target.root)["state"], "started")  # stuck in init
                else:
                    self.assertRegex(deadline_logs, r"app pid \d+ exited with code [12]; restarting in")
                shutil.copyfile(target.root / faults.ENTRYPOINT_DEFAULT, target.root / faults.ENTRYPOINT)
                target.restart()
                self.assertEqual(http_get(target.url)[0], 200)
                self.assertTrue(faults.run_oracle(target.root, FAULT, {"variant": variant})["passed"])



class CrashLoopDockerTests(wk.WorkloadDockerTests):
    FAULT = FAULT
    SKILL = "crash-loop"


if __name__ == "__main__":
    unittest.main()
