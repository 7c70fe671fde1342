"""Fault class resource_limit: generator, legacy params, units, oracle, live symptom and skill."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

from target_service import faults, supervisor
from tests.support import workload as wk
from tests.support.workload import inject_root

FAULT = "resource_limit"


def _p(v: dict) -> dict:
    return faults.fault_class(FAULT)._p(v["params"])


def _edit(root: Path, rel: str, change) -> None:
    data = json.loads((root / rel).read_text())
    change(data)
    (root / rel).write_text(json.dumps(data))


class ResourceLimitClassTests(wk.WorkloadClassTests):
    FAULT = FAULT
    LEGACY = ({},)

    def assert_refused(self, root: Path) -> None:  # started with a limit the app cannot live with
        _argv, env = supervisor.read_workload(root)
        self.assertLess(float(env["SERVICE_MEMORY_LIMIT_MB"]), 30)

    def fix(self, root: Path, v: dict) -> None:
        _edit(root, _p(v)["limits_file"], lambda d: d["resources"]["limits"].update(memory="0.25Gi"))

    def workarounds(self):
        def drop_the_limit(root: Path, v: dict) -> None:
            _edit(root, _p(v)["limits_file"], lambda d: d["resources"]["limits"].pop("memory"))

        def bump_everything(root: Path, v: dict) -> None:
            _edit(root, _p(v)["limits_file"], lambda d: d["resources"]["limits"].update(memory="512Mi", cpu="4"))

        def just_enough(root: Path, v: dict) -> None:  # 40Mi: starts today, no headroom
            _edit(root, _p(v)["limits_file"], lambda d: d["resources"]["limits"].update(memory="40Mi"))

        return {"drop the limit": drop_the_limit, "bump everything": bump_everything,
                "just enough": just_enough}

    def damage_decoy(self, root: Path, v: dict) -> None:
        _edit(root, v["decoys"][0], lambda d: d["resources"]["limits"].update(memory="256Mi"))

    def test_units(self) -> None:
        cases = {"256Mi": 256.0, "0.25Gi": 256.0, "262144Ki": 256.0, "16M": 16e6 / 1048576,
                 "1G": 1e9 / 1048576, 268435456: 256.0}
        for raw, mib in cases.items():
            self.assertAlmostEqual(supervisor.parse_quantity(raw), mib, places=3)
        for bad in ("lots", "-1Mi", "", None, True):
            self.assertIsNone(supervisor.parse_quantity(bad))
        units = {faults.make_variant(FAULT, s)["params"]["memory"].lstrip("0123456789.") for s in range(20)}
        self.assertGreaterEqual(len(units), 3)

    def test_flat_memory_mb_form_still_read(self) -> None:
        root = inject_root(self.tmp, None, None, "flat")
        (root / faults.LIMITS_JSON).write_text('{"memory_mb": 300}\n')
        self.assertEqual(supervisor.read_workload(root)[1]["SERVICE_MEMORY_LIMIT_MB"], "300")

    def test_bad_quantity_is_a_config_error(self) -> None:
        v = faults.make_variant(FAULT, 0)
        root = inject_root(self.tmp, FAULT, v["params"], "bad")
        _edit(root, _p(v)["limits_file"], lambda d: d["resources"]["limits"].update(memory="lots"))
        with self.assertRaises(supervisor.WorkloadError) as caught:
            supervisor.read_workload(root)
        self.assertEqual(caught.exception.state, "config_error")


class ResourceLimitLiveTests(wk.WorkloadLiveTests):
    FAULT = FAULT
    SKILL = "resource-limit"
    EVIDENCE = {0: "OOMKilled: working set", 1: "exceeds the memory limit", 2: "exited with code 137"}



class ResourceLimitDockerTests(wk.WorkloadDockerTests):
    FAULT = FAULT
    SKILL = "resource-limit"


if __name__ == "__main__":
    unittest.main()
