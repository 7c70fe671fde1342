"""Operator handoff (openhands_driver/handoff.py): pause after diagnosis, resume the same conversation.

The real-run test pauses a blind incident with the runbook brain (exit 3, the target still broken),
resumes it with an operator note (the agent sees the note, one conversation id on both rows,
``resumed_from``), and sees it resolved; then a second resume is refused. The refusals for a target
that is gone and a different scenario are checked on a written pause record.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from openhands_driver import handoff
from openhands_driver.errors import UserError
from openhands_driver.trace import read_rows

ROOT = Path(__file__).resolve().parent.parent
NOTE = "operator-note-7f3a: the lock owner is confirmed dead"


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class HandoffRecordTests(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.root = Path(tmp.name)

    def write(self, run_id: str = "p1", pid: int | None = None, **target) -> handoff.PauseRecord:
        state, conversation_id = handoff.new_state(run_id, self.root)
        service_root = self.root / f"sre-target-{run_id}"
        service_root.mkdir()
        record = handoff.PauseRecord(
            run_id=run_id, scenario="stale_lockfile", conversation_id=conversation_id, state_dir=str(state),
            workspace=str(state / "workspace"), persistence_dir=str(state / "conversation"),
            target={"root": str(service_root), "url": "http://127.0.0.1:9/", "pid": pid or os.getpid(), **target},
            incident={}, snapshot_before=None, started_at="now")
        handoff.write_pause(record)
        return record

    def test_resume_by_run_id_or_directory(self) -> None:
        record = self.write()
        self.assertEqual(handoff.load_for_resume("p1", None, self.root).conversation_id, record.conversation_id)
        self.assertEqual(handoff.load_for_resume(record.state_dir, "stale_lockfile", self.root).run_id, "p1")

    def test_unknown_run_lists_the_paused_ones(self) -> None:
        self.write("p1")
        with self.assertRaisesRegex(UserError, r"no paused run there .* Paused runs: p1"):
            handoff.load_for_resume("nope", None, self.root)

    def test_different_scenario_is_refused(self) -> None:
        self.write()
        with self.assertRaisesRegex(UserError, r"is scenario 'stale_lockfile', not 'port_mismatch'"):
            handoff.load_for_resume("p1", "port_mismatch", self.root)

    def test_gone_target_is_refused(self) -> None:
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
        self.write(pid=int(done.stdout))  # a process that has exited
        with self.assertRaisesRegex(UserError, r"the target of run p1 is gone .* not running"):
            handoff.load_for_resume("p1", None, self.root)

    def test_second_resume_is_refused(self) -> None:
        record = self.write()
        handoff.claim(record, "r1")
        with self.assertRaisesRegex(UserError, "already resumed by r1"):
            handoff.load_for_resume("p1", None, self.root)
        with self.assertRaisesRegex(UserError, "another resume"):
            handoff.claim(record, "r2")

    def test_resume_command_names_non_default_places(self) -> None:
        record = self.write()
        command = handoff.resume_command(record, str(self.root / "t.jsonl"))
        self.assertIn(f"--resume-from p1 --state-root {self.root}", command)
        self.assertIn(f"--trace-log {self.root / 't.jsonl'}", command)


class PauseResumeRunTest(unittest.TestCase):
    """Real runs: run_demo.py with the runbook brain on a blind incident (local target, sandbox auto)."""

    def run_demo(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "run_demo.py"), "--trace-log", str(self.trace),
                               "--state-root", str(self.state), "--verify-interval-s", "0.3", *args],
                              capture_output=True, text=True, timeout=600, cwd=ROOT)

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.trace = Path(tmp.name) / "trace.jsonl"
        self.state = Path(tmp.name) / "state"

    def test_pause_keep_broken_resume_with_note_resolved(self) -> None:
        paused = self.run_demo("--scenario", "stale_lockfile", "--blind", "--variant-seed", "11",
                               "--pause-after-diagnosis", "--run-id", "hp-1", "--json")
        self.assertEqual(paused.returncode, 3, paused.stderr[-2000:])
        first = json.loads(paused.stdout)
        self.addCleanup(lambda: handoff.stop_kept_target(handoff.PauseRecord(
            **json.loads((self.state / "hp-1" / handoff.PAUSE_FILE).read_text()))))
        self.assertEqual(first["status"], "paused")
        self.assertTrue(first["target"]["kept"])
        self.assertEqual(http_status(first["target"]["url"]), 503)  # still broken, still running
        proposed = first["pause"]["proposed"]
        self.assertTrue(proposed and all(p["risk"] in ("MEDIUM", "HIGH") for p in proposed), proposed)
        self.assertIn("--resume-from hp-1", first["pause"]["resume_with"])
        self.assertTrue(any("diagnose.py" in e["command"] for e in first["pause"]["evidence"]))

        wrong = self.run_demo("--resume-from", "hp-1", "--scenario", "port_mismatch")
        self.assertEqual(wrong.returncode, 2)
        self.assertIn("not 'port_mismatch'", wrong.stderr)

        resumed = self.run_demo("--resume-from", "hp-1", "--note", NOTE, "--run-id", "hp-1-r", "--json")
        self.assertEqual(resumed.returncode, 0, resumed.stderr[-3000:])
        second = json.loads(resumed.stdout)
        self.assertEqual((second["status"], second["resolved"]), ("fixed", True))
        self.assertTrue(second["diagnosis"]["correct"])
        self.assertEqual(second["conversation_id"], first["conversation_id"])
        self.assertEqual(second["resumed_from"], "hp-1")
        self.assertEqual(second["actions"][0]["gate"], "approved")
        self.assertEqual(second["actions"][0]["command"], proposed[0]["command"])

        rows = {r["run_id"]: r for r in read_rows(self.trace)}
        self.assertEqual(rows["hp-1"]["status"], "paused")
        self.assertEqual(rows["hp-1"]["conversation_id"], rows["hp-1-r"]["conversation_id"])
        self.assertEqual(rows["hp-1-r"]["resumed_from"], "hp-1")
        # one conversation: the paused run's events are intact, the note comes after the approved result
        events = [json.loads(Path(f).read_text()) for f in
                  sorted(glob.glob(str(self.state / "hp-1" / "conversation" / "*" / "events" / "*.json")))]
        kinds = [e.get("kind") for e in events]
        note_at = next(i for i, e in enumerate(events) if e.get("kind") == "MessageEvent" and NOTE in json.dumps(e))
        approved = proposed[0]["command"]
        action_at = next(i for i, e in enumerate(events) if e.get("kind") == "ActionEvent"
                         and (e.get("action") or {}).get("command") == approved)
        self.assertIn("ObservationEvent", kinds[action_at:note_at])
        self.assertGreater(kinds.count("ActionEvent"), len(second["actions"]))  # the paused run's are kept
        self.assertNotEqual(http_status_or_none(first["target"]["url"]), 503)  # the resumed run stopped it

        again = self.run_demo("--resume-from", "hp-1")
        self.assertEqual(again.returncode, 2)
        self.assertIn("already resumed by hp-1-r", again.stderr)
        self.assertNotIn("Traceback", again.stderr)


def http_status_or_none(url: str) -> int | None:
    try:
        return http_status(url)
    except OSError:
        return None


if __name__ == "__main__":
    unittest.main()
