"""Fault class dns_misconfig (target_service/fault_dns_misconfig.py) and its skill dns-misconfig."""

from __future__ import annotations

import json
import shutil
import unittest
from pathlib import Path

from target_service import app as service_app
from target_service import faults
from tests.support.traffic_dependency_cases import FaultClassChecks


class DnsMisconfigTest(FaultClassChecks, unittest.TestCase):
    FAULT = "dns_misconfig"
    SKILL = "dns-misconfig"
    NEEDS_RESTART = True

    def fix(self, root: Path, variant: dict) -> None:  # restore the packaged settings
        shutil.copyfile(root / (variant["entity"] + ".default"), root / variant["entity"])

    def workaround(self, root: Path, variant: dict) -> None:  # an IP address in DATABASE_URL
        env = root / faults.SERVICE_ENV
        env.write_text(env.read_text().replace("@db:5432", "@10.0.0.21:5432"))

    def damage_decoy(self, root: Path, variant: dict) -> None:  # "restore every resolver"
        other = next(rel for rel in variant["decoys"] if not rel.startswith(variant["entity"]))
        shutil.copyfile(root / (variant["entity"] + ".default"), root / other)

    def test_modes_vary(self) -> None:
        self.assertGreaterEqual(len({self.variant(s)["params"]["mode"] for s in range(20)}), 4)

    def test_editing_the_broken_line_is_an_equivalent_fix(self) -> None:
        for seed in range(8):
            v = self.variant(seed)
            with self.subTest(seed=seed, mode=v["params"]["mode"]):
                root = self.root_for(v)
                lines = [line for line in (root / v["entity"]).read_text().splitlines()
                         if not line.startswith(("nameserver", "search"))]
                lines += ["nameserver 10.96.0.10", "search svc.cluster.local"]
                (root / v["entity"]).write_text("\n".join(lines) + "\n")
                self.assertTrue(self.oracle(root, v)["passed"], self.oracle(root, v))
                self.assertIsNone(service_app.health(root, service_app.load_config(root)))

    def test_the_backup_is_not_the_source(self) -> None:
        v = self.variant(1)
        root = self.root_for(v)
        shutil.copyfile(root / (v["entity"] + ".bak"), root / v["entity"])
        self.assertFalse(self.oracle(root, v)["passed"])
        self.assertIn('could not translate host name "db" to address',
                      service_app.health(root, service_app.load_config(root)))

    def test_unknown_name_is_nxdomain(self) -> None:
        root = self.root_for({"params": {}})
        (root / faults.RESOLV_CONF).write_text("nameserver 10.96.0.10\nsearch example.org\n")
        self.assertIn('could not translate host name "db" to address: Name or service not known '
                      '(tried db.example.org, db via nameserver 10.96.0.10; resolver etc/dns/resolv.conf)',
                      service_app.health(root, service_app.load_config(root)))

    def test_itbench_params_keep_working(self) -> None:
        root = self.root_for({"params": {}})
        self.assertEqual(service_app.health(root, service_app.load_config(root)),
                         'could not translate host name "db" to address: Temporary failure in name '
                         'resolution (no answer from nameserver 192.0.2.53 within 5s; resolver '
                         'etc/dns/resolv.conf)')
        self.assertNotIn("resolv_conf", json.loads((root / faults.SERVICE_JSON).read_text()))


if __name__ == "__main__":
    unittest.main()
