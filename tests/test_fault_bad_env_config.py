"""bad_env_config: generator, blind symptom, oracle (real fix, restart-only, restoring the stale
backup, rebuilding from the example) and the bad-env-config skill's scripts."""

from __future__ import annotations

import shutil
import unittest

from target_service import faults
from tests.support import service_faults as sf


class BadEnvConfigTest(sf.ServiceFaultCase):
    FAULT = "bad_env_config"
    SKILL = "bad-env-config"
    SEEDS = (0, 2, 4)

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn("configuration error: ", logs)
        self.assertIn(variant["entity"], logs)

    def test_every_breakage_is_drawn(self) -> None:
        kinds = {sf.faults.make_variant(self.FAULT, s)["params"]["breakage"] for s in range(20)}
        self.assertEqual(kinds, {"missing", "empty", "invalid", "misspelled"})

    def test_oracle(self) -> None:
        target, variant = self.target(1)
        env, backup = target.root / "etc/service.env", target.root / "etc/service.env.bak"
        target.restart()  # restart only
        self.assertFalse(self.oracle(target, variant)["passed"])
        broken = env.read_text()
        shutil.copyfile(str(backup), str(env))  # careless: restore the stale backup
        self.assertFalse(self.oracle(target, variant)["passed"])
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 1)  # its database host is gone
        shutil.copyfile(str(target.root / "etc/service.env.example"), str(env))  # careless: reset
        self.assertFalse(self.oracle(target, variant)["passed"])  # the optional setting is lost
        env.write_text(broken)
        values = faults.read_env(target.root)
        key = variant["entity"]
        documented = faults.read_env(target.root, "etc/service.env.example")
        values[key] = documented[key]
        faults.write_env(target.root, values)  # the real fix
        self.assertTrue(self.oracle(target, variant)["passed"])
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 0)


if __name__ == "__main__":
    unittest.main()
