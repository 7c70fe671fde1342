"""target_service/supervisor.py: what the supervisor writes about itself."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

from target_service.supervisor import SUPERVISOR_STATE, Supervisor


class StateFileTests(unittest.TestCase):
    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="supervisor-test-"))
        self.addCleanup(shutil.rmtree, self.root, True)
        self.supervisor = Supervisor(self.root)
        self.addCleanup(self.supervisor.log_file.close)

    def test_state_is_written_atomically_as_json(self) -> None:
        self.supervisor.write_state("running", "app started", app_pid=1234)
        data = json.loads((self.root / SUPERVISOR_STATE).read_text())
        self.assertEqual((data["state"], data["detail"], data["app_pid"]), ("running", "app started", 1234))
        self.assertEqual([p.name for p in (self.root / SUPERVISOR_STATE).parent.iterdir()], ["supervisor.state"])

    def test_a_removed_root_is_never_recreated(self) -> None:
        # the runner removes the service root after stopping the group; a supervisor still on its way
        # out must not leave a var/run/supervisor.state tree behind (an unowned dir in /tmp)
        shutil.rmtree(self.root)
        self.supervisor.write_state("stopped", "supervisor exited on signal 15")
        self.assertFalse(self.root.exists())


if __name__ == "__main__":
    unittest.main()
