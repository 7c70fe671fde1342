"""Fault class bad_credential (target_service/fault_bad_credential.py) and its skill bad-credential."""

from __future__ import annotations

import json
import shutil
import unittest
from pathlib import Path

from target_service import app as service_app
from target_service import faults
from tests.support.traffic_dependency_cases import FaultClassChecks


def _vault(root: Path) -> str:
    return json.loads((root / faults.SERVICE_JSON).read_text()).get(
        "db_password_vault_path", faults.VAULT_SECRET)


class BadCredentialTest(FaultClassChecks, unittest.TestCase):
    FAULT = "bad_credential"
    SKILL = "bad-credential"
    NEEDS_RESTART = True

    def fix(self, root: Path, variant: dict) -> None:  # restore from the vault copy
        shutil.copyfile(root / _vault(root), root / variant["entity"])

    def workaround(self, root: Path, variant: dict) -> None:  # read the vault copy directly
        config = json.loads((root / faults.SERVICE_JSON).read_text())
        config["db_password_file"] = _vault(root)
        (root / faults.SERVICE_JSON).write_text(json.dumps(config))

    def damage_decoy(self, root: Path, variant: dict) -> None:  # "clean up the old backup"
        (root / (variant["entity"] + ".old")).unlink()

    def test_the_old_backup_is_not_the_source(self) -> None:
        v = self.variant(5)
        root = self.root_for(v)
        self.assertIn(variant_old := v["entity"] + ".old", v["decoys"])
        shutil.copyfile(root / variant_old, root / v["entity"])
        self.assertFalse(self.oracle(root, v)["passed"])
        self.assertIn("password authentication failed",
                      service_app.health(root, service_app.load_config(root)))

    def test_corruptions_vary_and_never_reach_the_log(self) -> None:
        kinds = {self.variant(seed)["params"]["corruption"] for seed in range(20)}
        self.assertGreaterEqual(len(kinds), 3)
        for seed in range(6):
            v = self.variant(seed)
            root = self.root_for(v)
            reason = service_app.health(root, service_app.load_config(root))
            self.assertEqual(reason, 'connection to server at "db" failed: FATAL:  password '
                                     'authentication failed for user "app" (password file %s)'
                             % v["entity"])
            for rel in (v["entity"], _vault(root)):
                self.assertNotIn((root / rel).read_text().strip(), reason)

    def test_itbench_params_keep_working(self) -> None:
        root = self.root_for({"params": {}})
        self.assertIn("(password file etc/secrets/db_password)",
                      service_app.health(root, service_app.load_config(root)))
        self.fix(root, {"entity": faults.SECRET_FILE})
        self.assertIsNone(service_app.health(root, service_app.load_config(root)))


if __name__ == "__main__":
    unittest.main()
