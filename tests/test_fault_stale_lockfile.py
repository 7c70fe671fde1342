"""stale_lockfile: generator, blind symptom, oracle (real fix, restart-only, workaround, decoy)
and the stale-lockfile skill's scripts on real local targets."""

from __future__ import annotations

import unittest

from target_service import faults
from tests.support import service_faults as sf


class StaleLockfileTest(sf.ServiceFaultCase):
    FAULT = "stale_lockfile"
    SKILL = "stale-lockfile"
    RESTART_AFTER_FIX = False  # the lock is checked on every request

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn("cannot acquire lock %s: already held by pid" % variant["entity"], logs)

    def test_decoys_exist_after_inject(self) -> None:
        # the supervisor's lock is written by the live supervisor (take_own_lock), not at inject
        for seed in (0, 6):
            target, variant = self.target(seed)
            for rel in variant["decoys"]:
                self.assertTrue((target.root / rel).is_file(), (seed, rel))
            self.assertFalse(self.oracle(target, variant)["passed"])

    def test_oracle(self) -> None:
        target, variant = self.target(4)
        lock, decoy = target.root / variant["entity"], target.root / variant["decoys"][0]
        self.assertFalse(self.oracle(target, variant)["passed"])
        target.restart()  # restart only
        self.assertFalse(self.oracle(target, variant)["passed"])
        self.assertEqual(sf.ctl(target, "status")[0], 1)
        lock.write_text("%d\n" % __import__("os").getpid())  # workaround: claim it for a live pid
        self.assertTrue(self.oracle(target, variant)["passed"])  # a live owner is legitimate...
        lock.write_text("%d\n" % faults.dead_pid(4242))
        decoy_text = decoy.read_text()
        decoy.unlink()  # careless: rm <dir>/*.lock
        lock.unlink()
        self.assertFalse(self.oracle(target, variant)["passed"])
        decoy.write_text(decoy_text)
        self.assertTrue(self.oracle(target, variant)["passed"])  # the real fix
        self.assertEqual(sf.ctl(target, "status")[0], 0)


if __name__ == "__main__":
    unittest.main()
