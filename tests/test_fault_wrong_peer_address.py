"""wrong_peer_address: generator, blind symptom, oracle (real fix, restart-only, editing the
registry instead, deleting the setting) and the wrong-peer-address skill's scripts."""

from __future__ import annotations

import unittest

from tests.support import service_faults as sf


class WrongPeerAddressTest(sf.ServiceFaultCase):
    FAULT = "wrong_peer_address"
    SKILL = "wrong-peer-address"
    SEEDS = (0, 2, 3)

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn("(%s=%s from etc/service.env)" % (variant["entity"], variant["params"]["value"]), logs)

    def test_itbench_params(self) -> None:
        target = sf.start(self.FAULT, {"variable": "QUOTE_ADDR", "value": "quote:0000"})
        self.addCleanup(target.cleanup)
        self.assertIn("HTTP 500", sf.ctl(target, "status")[1])
        self.assertIn("dial tcp quote:0000: connect: connection refused", sf.ctl(target, "logs", "-n", "40")[1])

    def test_every_breakage_is_drawn(self) -> None:
        values = [sf.faults.make_variant(self.FAULT, s)["params"]["value"] for s in range(20)]
        self.assertTrue(any(v.endswith(":0000") for v in values))
        self.assertTrue(any("-v2:" in v for v in values))

    def test_oracle(self) -> None:
        target, variant = self.target(0)
        p = variant["params"]
        env_path = target.root / "etc/service.env"
        registry = target.root / p["registry"]
        target.restart()  # restart only
        self.assertFalse(self.oracle(target, variant)["passed"])
        original_registry = registry.read_text()
        peer = variant["entity"][:-5].lower().replace("_", "-")
        # careless: make the registry agree with the wrong value
        registry.write_text(original_registry.replace('"%s"' % peer, '"%s-old"' % peer))
        self.assertFalse(self.oracle(target, variant)["passed"])
        registry.write_text(original_registry)
        lines = env_path.read_text().splitlines()
        env_path.write_text("\n".join(l for l in lines if not l.startswith(variant["entity"] + "=")) + "\n")
        self.assertFalse(self.oracle(target, variant)["passed"])  # deleting the setting
        from target_service.fault_wrong_peer_address import PEERS
        env_path.write_text("\n".join(lines + ["%s=%s:%d" % (variant["entity"], peer, PEERS[peer])]) + "\n")
        env_path.write_text("\n".join(l for l in env_path.read_text().splitlines()
                                      if l != "%s=%s" % (variant["entity"], p["value"])) + "\n")
        self.assertTrue(self.oracle(target, variant)["passed"], self.oracle(target, variant))
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 0)


if __name__ == "__main__":
    unittest.main()
