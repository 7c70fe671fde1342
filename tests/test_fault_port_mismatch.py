"""port_mismatch: generator, blind symptom, oracle (real fix, restart-only, changing the load
balancer's side, a blanket port replace) and the port-mismatch skill's scripts."""

from __future__ import annotations

import json
import unittest

from tests.support import service_faults as sf


class PortMismatchTest(sf.ServiceFaultCase):
    FAULT = "port_mismatch"
    SKILL = "port-mismatch"
    SEEDS = (0, 1, 2, 5)

    def assert_evidence(self, logs: str, variant: dict) -> None:
        file, _, key = variant["entity"].partition(":")
        self.assertIn("(from %s in %s)" % (key, file), logs)

    def test_every_source_is_drawn(self) -> None:
        sources = {sf.faults.make_variant(self.FAULT, s)["params"]["source"] for s in range(20)}
        self.assertEqual(sources, {"listen_port", "server.port", "env", "dropin"})

    def test_oracle(self) -> None:
        seed = next(s for s in range(20) if self.variant(s)["params"]["source"] == "server.port")
        target, variant = self.target(seed)
        config_path = target.root / "etc/service.json"
        upstream = target.root / "etc/upstream.json"
        target.restart()  # restart only
        self.assertFalse(self.oracle(target, variant)["passed"])
        original = upstream.read_text()
        data = json.loads(original)
        data["backend"] = "127.0.0.1:%d" % target.wrong_port  # careless: move the load balancer
        upstream.write_text(json.dumps(data))
        self.assertEqual(sf.ctl(target, "status")[0], 1)  # the probe still fails
        upstream.write_text(original)
        config = json.loads(config_path.read_text())
        config["server"]["port"] = target.port
        config["metrics"]["port"] = target.port  # careless: every port replaced
        config_path.write_text(json.dumps(config))
        self.assertFalse(self.oracle(target, variant)["passed"])
        config["metrics"]["port"] = variant["params"]["metrics_port"]
        config_path.write_text(json.dumps(config))
        self.assertTrue(self.oracle(target, variant)["passed"])  # the real fix
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 0)


if __name__ == "__main__":
    unittest.main()
