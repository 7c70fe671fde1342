"""readiness_probe_fail: generator, blind symptom, oracle (real fix, restart-only, touching the
readiness flag, damaging the shipped copy) and the readiness-probe-fail skill's scripts."""

from __future__ import annotations

import shutil
import unittest

from tests.support import service_faults as sf


class ReadinessProbeFailTest(sf.ServiceFaultCase):
    FAULT = "readiness_probe_fail"
    SKILL = "readiness-probe-fail"

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn("warm-up failed: data file %s" % variant["entity"], logs)
        self.assertIn("readiness check failed", logs)

    def test_every_damage_fails_the_warmup(self) -> None:
        damages = {sf.faults.make_variant(self.FAULT, s)["params"]["damage"] for s in range(20)}
        self.assertEqual(damages, {"missing", "empty", "truncated", "old_format"})

    def test_oracle(self) -> None:
        target, variant = self.target(5)
        data, seed = target.root / variant["entity"], target.root / variant["decoys"][0]
        target.restart()  # restart only
        self.assertEqual(sf.ctl(target, "status")[0], 1)
        self.assertFalse(self.oracle(target, variant)["passed"])
        (target.root / "var/run/ready").write_text("ready\n")  # symptom-only workaround
        self.assertEqual(sf.ctl(target, "status")[0], 0)  # the probe passes...
        self.assertFalse(self.oracle(target, variant)["passed"])  # ...the cause is still there
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 1)  # and the next start undoes it
        shutil.move(str(seed), str(data))  # careless: mv instead of cp
        self.assertFalse(self.oracle(target, variant)["passed"])
        shutil.copyfile(str(data), str(seed))  # the real fix: a copy
        self.assertTrue(self.oracle(target, variant)["passed"])
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 0)


if __name__ == "__main__":
    unittest.main()
