"""The intake's service registry (openhands_driver/intake/registry.py): the per-service toolset."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.intake.registry import TargetPlan, load_registry, run_config


class RegistryToolsetTests(unittest.TestCase):
    def registry(self, services: dict) -> Path:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = Path(tmp.name) / "services.json"
        path.write_text(json.dumps({"schema_version": 1, "services": services}))
        return path

    def test_toolset_per_service_reaches_the_run_config(self) -> None:
        entries = load_registry(self.registry({
            "cart": {"url": "http://127.0.0.1:1/", "backend": "local", "handle": "/srv/cart", "toolset": "api"},
            "ledger": {"url": "http://127.0.0.1:2/", "backend": "local", "handle": "/srv/ledger"}}))
        self.assertEqual((entries["cart"].toolset, entries["ledger"].toolset), ("api", "shell"))
        plan = TargetPlan("attach", "registered", "healthy", entries["cart"])
        self.assertEqual(run_config(plan, run_id="r1", base={}).toolset, "api")
        plan = TargetPlan("attach", "registered", "healthy", entries["ledger"])
        self.assertEqual(run_config(plan, run_id="r2", base={}).toolset, "shell")
        self.assertEqual(TargetPlan.from_dict(plan.to_dict()), plan)

    def test_unknown_toolset_is_a_user_error(self) -> None:
        with self.assertRaisesRegex(UserError, "unknown toolset 'ssh'.*shell, api"):
            load_registry(self.registry({"cart": {"url": "http://127.0.0.1:1/", "toolset": "ssh"}}))


if __name__ == "__main__":
    unittest.main()
