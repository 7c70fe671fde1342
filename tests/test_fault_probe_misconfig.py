"""probe_misconfig: generator, blind symptom, oracle (real fix, restart-only, deleting the probe
definition, restoring the old copy, touching the probe state) and the probe-misconfig skill."""

from __future__ import annotations

import json
import time
import unittest

from tests.support import service_faults as sf


class ProbeMisconfigTest(sf.ServiceFaultCase):
    FAULT = "probe_misconfig"
    SKILL = "probe-misconfig"
    RESTART_AFTER_FIX = False
    SEEDS = (0, 1, 2)

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn("Readiness probe failed", logs)
        self.assertIn("(probes defined in %s)" % variant["entity"], logs)

    def test_both_breakages_drawn_and_app_healthy_underneath(self) -> None:
        kinds = {sf.faults.make_variant(self.FAULT, s)["params"]["breakage"] for s in range(20)}
        self.assertEqual(kinds, {"port", "path"})
        target, _variant = self.target(1)
        import urllib.request
        with urllib.request.urlopen(target.url.rstrip("/") + "/healthz", timeout=5) as resp:
            self.assertEqual(resp.status, 200)  # the app itself is fine
        self.assertEqual(sf.ctl(target, "status")[0], 1)

    def wait_status(self, target, code: int) -> int:
        for _ in range(12):
            got = sf.ctl(target, "status")[0]
            if got == code:
                return got
            time.sleep(0.5)
        return got

    def test_oracle(self) -> None:
        seed = next(s for s in range(20) if self.variant(s)["params"]["breakage"] == "port")
        target, variant = self.target(seed)
        rel = target.root / variant["entity"]
        target.restart()  # restart only
        self.assertFalse(self.oracle(target, variant)["passed"])
        (target.root / "var/run/probe.json").write_text(json.dumps({"ready": True}))  # touch the state
        self.assertEqual(self.wait_status(target, 1), 1)  # the supervisor probes again
        original = rel.read_text()
        rel.unlink()  # delete the definition: traffic flows, but the probe is gone
        self.assertEqual(self.wait_status(target, 0), 0)
        self.assertFalse(self.oracle(target, variant)["passed"])
        backup = (target.root / (variant["entity"] + ".orig")).read_text()
        rel.write_text(backup)  # restore the old copy: wrong port again
        self.assertFalse(self.oracle(target, variant)["passed"])
        data = json.loads(original)
        data["readiness"]["port"] = target.port
        rel.write_text(json.dumps(data))
        self.assertTrue(self.oracle(target, variant)["passed"], self.oracle(target, variant))
        self.assertEqual(self.wait_status(target, 0), 0)
        target.restart()
        self.assertEqual(self.wait_status(target, 0), 0)


if __name__ == "__main__":
    unittest.main()
