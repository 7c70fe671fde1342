"""The janitor on a real Docker engine: containers labelled as ours whose owning process is gone
are removed; a live owner's container and containers without our labels are never touched."""

from __future__ import annotations

import subprocess
import sys
import unittest
import uuid

from openhands_driver import janitor, ownership
from openhands_driver.target import docker_engine as engine


def _dead_owner() -> dict:
    """The owner record of a process that has exited (its pid may be reused: start time differs)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    owner = ownership.current(proc.pid)
    proc.wait()
    return owner


class DockerSweepTest(unittest.TestCase):
    def test_dead_owners_containers_go_live_and_foreign_ones_stay(self) -> None:
        from tests.test_target_docker import require_engine

        client = require_engine()["client"]
        run = f"test-janitor-{uuid.uuid4().hex[:8]}"
        made = {}
        for name, labels in (
                ("dead", {engine.LABEL_MANAGED: "true", engine.LABEL_RUN_ID: run,
                          engine.LABEL_OWNER: ownership.token(_dead_owner())}),
                ("live", {engine.LABEL_MANAGED: "true", engine.LABEL_RUN_ID: run,
                          engine.LABEL_OWNER: ownership.token(ownership.current())}),
                ("foreign", {"some.other.project": "true"})):
            made[name] = client.containers.create(engine.IMAGE_TAG, name=f"{run}-{name}",
                                                  entrypoint=["sleep", "60"], labels=labels)
            self.addCleanup(self._remove, client, made[name].id)
        report = janitor.SweepReport()
        janitor.sweep_containers(report)
        self.assertEqual(report.docker, "checked")
        self.assertIn(f"{run}-dead", report.removed_containers)
        names = {c.name for c in client.containers.list(all=True, filters={"name": run})}
        self.assertEqual(names, {f"{run}-live", f"{run}-foreign"})

    def test_dead_owners_networks_go_live_ones_stay(self) -> None:
        """The orchestrator's worker networks: removed after a crash, never while their owner runs."""
        from tests.test_target_docker import require_engine

        client = require_engine()["client"]
        run = f"test-janitor-net-{uuid.uuid4().hex[:8]}"
        for name, owner in (("dead", _dead_owner()), ("live", ownership.current())):
            network = client.networks.create(f"{run}-{name}", driver="bridge", labels={
                engine.LABEL_MANAGED: "true", engine.LABEL_RUN_ID: run, engine.LABEL_OWNER: ownership.token(owner)})
            self.addCleanup(self._remove_network, client, network.id)
        report = janitor.SweepReport()
        janitor.sweep_containers(report)
        self.assertIn(f"network {run}-dead", report.removed_containers)
        self.assertEqual({n.name for n in client.networks.list(names=[run])} & {f"{run}-dead", f"{run}-live"},
                         {f"{run}-live"})

    @staticmethod
    def _remove_network(client, network_id: str) -> None:
        try:
            client.networks.get(network_id).remove()
        except Exception:  # noqa: BLE001  (already removed by the janitor)
            pass

    @staticmethod
    def _remove(client, container_id: str) -> None:
        try:
            client.containers.get(container_id).remove(force=True)
        except Exception:  # noqa: BLE001  (already removed by the janitor)
            pass


if __name__ == "__main__":
    unittest.main()
