"""service_routing: generator, blind symptom, oracle (real fix, restart-only, moving the instance,
relabelling it, deleting the route map) and the service-routing skill's scripts."""

from __future__ import annotations

import json
import unittest

from tests.support import service_faults as sf


class ServiceRoutingTest(sf.ServiceFaultCase):
    FAULT = "service_routing"
    SKILL = "service-routing"
    RESTART_AFTER_FIX = False
    SEEDS = (0, 1, 4)

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn(variant["entity"], logs)
        self.assertIn("GET / -> 503: no healthy upstream" if variant["params"]["breakage"] != "target_port"
                      else "GET / -> 503: upstream connect error", logs)

    def test_every_breakage_is_drawn(self) -> None:
        kinds = {sf.faults.make_variant(self.FAULT, s)["params"]["breakage"] for s in range(20)}
        self.assertEqual(kinds, {"target_port", "selector", "deleted"})

    def test_itbench_target_port(self) -> None:
        target = sf.start(self.FAULT, {"breakage": "target_port", "target_port": 8080})
        self.addCleanup(target.cleanup)
        self.assertIn("HTTP 503", sf.ctl(target, "status")[1])
        self.assertIn("upstream connect error", sf.ctl(target, "logs", "-n", "30")[1])

    def test_oracle(self) -> None:
        seed = next(s for s in range(20) if self.variant(s)["params"]["breakage"] == "selector")
        target, variant = self.target(seed)
        rel = target.root / variant["entity"]
        config_path = target.root / "etc/service.json"
        target.restart()  # restart only
        self.assertFalse(self.oracle(target, variant)["passed"])
        original_config = config_path.read_text()
        config = json.loads(original_config)
        routes = json.loads(rel.read_text())
        svc = variant["params"]["service"]
        wrong = next(r for r in routes["routes"] if r["service"] == svc)["selector"]
        config["labels"] = dict(wrong)  # careless: relabel the instance to match the selector
        config_path.write_text(json.dumps(config))
        self.assertEqual(sf.ctl(target, "status")[0], 0)  # traffic flows...
        self.assertFalse(self.oracle(target, variant)["passed"])  # ...but the instance changed
        config_path.write_text(original_config)
        original_routes = rel.read_text()
        rel.unlink()  # careless: delete the route map
        self.assertFalse(self.oracle(target, variant)["passed"])
        for r in routes["routes"]:
            if r["service"] == svc:
                r["selector"] = {"app": svc}
        rel.write_text(json.dumps(routes))
        self.assertTrue(self.oracle(target, variant)["passed"], self.oracle(target, variant))
        self.assertEqual(sf.ctl(target, "status")[0], 0)
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 0)
        self.assertTrue(original_routes)


if __name__ == "__main__":
    unittest.main()
