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


class RegistrySshTests(unittest.TestCase):
    """Entries of kind ssh: a host the service's targets are provisioned on (--backend ssh)."""

    def setUp(self) -> None:
        import subprocess

        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.key = self.dir / "deploy_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        self.known = self.dir / "known_hosts"
        self.known.write_text("")

    def registry(self, entry: dict) -> Path:
        path = self.dir / "services.json"
        path.write_text(json.dumps({"services": {"payments": entry}}))
        return path

    def entry(self, **over) -> dict:
        return {"backend": "ssh", "host": "deploy@10.0.0.5:2222", "identity_file": str(self.key),
                "known_hosts": str(self.known), "scenario": "stale_lockfile", **over}

    def test_ssh_entry_plans_a_fresh_target_on_the_host(self) -> None:
        from openhands_driver.intake.payloads import Incident
        from openhands_driver.intake.registry import resolve

        entries = load_registry(self.registry(self.entry()))
        entry = entries["payments"]
        self.assertEqual((entry.backend, entry.ssh_host, entry.scenario), ("ssh", "deploy@10.0.0.5:2222",
                                                                           "stale_lockfile"))
        incident = Incident(source="generic", title="payments is down", text="payments is down", priority="P2",
                            service="payments", dedupe_key="k1")
        plan = resolve(incident, entries, demo_targets=False)
        self.assertEqual((plan.kind, plan.scenario, plan.runnable), ("ssh", "stale_lockfile", True))
        self.assertNotIn(str(self.key), plan.reason)
        self.assertEqual(TargetPlan.from_dict(json.loads(json.dumps(plan.to_dict()))), plan)
        config = run_config(plan, run_id="r1", base={})
        self.assertEqual(config.backend, "ssh")
        self.assertEqual(config.target_options, {"host": "deploy@10.0.0.5:2222", "identity_file": str(self.key),
                                                 "known_hosts": str(self.known)})

    def test_ssh_entry_problems_are_user_errors(self) -> None:
        cases = [(dict(host=None), "needs 'host'"), (dict(scenario=None), "needs 'scenario'"),
                 (dict(host="deploy@bad host"), "user@host"), (dict(identity_file=str(self.dir / "none")),
                                                                "bad identity file"),
                 (dict(known_hosts=str(self.dir / "none")), "--known-hosts"),
                 (dict(toolset="api"), "not supported over ssh")]
        for over, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                load_registry(self.registry(self.entry(**over)))


if __name__ == "__main__":
    unittest.main()
