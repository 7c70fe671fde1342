"""healthy: no fault; its oracle passes on an untouched root and notices a broken one; no
service-family skill finds anything on it."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

from target_service import faults
from tests.support import service_faults as sf


class HealthyTest(unittest.TestCase):
    def test_variant_and_oracle(self) -> None:
        variant = faults.make_variant("healthy", 3)
        self.assertEqual((variant["symptom"], variant["entity"], variant["decoys"], variant["may_change"]),
                         ("healthy", "", [], []))
        root = Path(tempfile.mkdtemp(prefix="svc-healthy-"))
        self.addCleanup(shutil.rmtree, root, True)
        faults.inject(root, "healthy", scenario_id="x", listen_port=18080, params=variant["params"])
        self.assertTrue(faults.run_oracle(root, "healthy", variant["params"])["passed"])
        self.assertTrue(faults.run_oracle(root, None, {})["passed"])
        values = faults.read_env(root)
        values["WORKER_THREADS"] = "0"
        faults.write_env(root, values)
        self.assertFalse(faults.run_oracle(root, "healthy", {})["passed"])

    def test_live_target_is_healthy_and_no_skill_fires(self) -> None:
        target = sf.start("healthy", faults.make_variant("healthy", 0)["params"])
        self.addCleanup(target.cleanup)
        code, status = sf.ctl(target, "status")
        self.assertEqual(code, 0, status)
        self.assertTrue(faults.run_oracle(target.root, "healthy", {})["passed"])
        for skill in ("stale-lockfile", "readiness-probe-fail", "port-mismatch", "bad-env-config"):
            code, found = sf.run_script(target, sf.SKILLS / skill / "diagnose.py")
            self.assertFalse(found["fault_present"], (skill, found))


if __name__ == "__main__":
    unittest.main()
