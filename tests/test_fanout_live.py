"""The fan-out's live terminal view (openhands_driver/fanout/live.py) in a pseudo-terminal and in a
pipe, and scripts/fanout_live_demo.py for real in a pseudo-terminal (a real incident through the
fan-out engine, the runbook brain, a real local target)."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import termios
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from pathlib import Path

from openhands_driver.fanout.live import LiveBoard, NARRATION_LINES
from openhands_driver.runrecord import _write_sidecar, sidecar_path

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 300


class PtyReader:
    """A pseudo-terminal whose output is drained by a thread (a full pty buffer would block)."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # 200 columns
        self.chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.chunks.append(data)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")

    def close(self) -> None:
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass
        self._thread.join(5)


def row(index: int, scenario: str, status: str, **extra) -> dict:
    return {"index": index, "scenario_id": scenario, "local_fault": scenario, "status": status,
            "skill_id": "stale-lockfile", "step_count": 5, "duration_s": 3.2, "run_id": f"r-{index}",
            "service_up": status == "fixed", **extra}


def drive(board: LiveBoard) -> None:
    board.queued(2)
    board.incident_queued(0, "stale_lockfile", "stale_lockfile")
    board.incident_queued(1, "port_mismatch", "port_mismatch")
    board.running()
    board.incident_started(0, "stale_lockfile", "stale_lockfile", "r-0")
    board.narrate("agents at work")
    board.tick()
    time.sleep(0.4)
    board.incident_row(row(0, "stale_lockfile", "fixed"))
    board.finished("fixed", "  FIXED       stale_lockfile")
    board.running()
    board.incident_started(1, "port_mismatch", "port_mismatch", "r-1")
    board.incident_row(row(1, "port_mismatch", "failed", skill_id="port-mismatch"))
    board.finished("failed", "  FAILED      port_mismatch")
    time.sleep(0.4)
    board.close()


class LiveBoardTest(unittest.TestCase):
    def test_in_a_pseudo_terminal_it_draws_a_live_table(self):
        term = PtyReader()
        self.addCleanup(term.close)
        stream = os.fdopen(os.dup(term.slave), "w", encoding="utf-8", buffering=1)
        self.addCleanup(stream.close)
        board = LiveBoard(stream, total=2, concurrency=2, label="fanout-t", trace_log="trace.jsonl",
                          refresh_per_second=20)
        self.assertTrue(board.tty)
        drive(board)
        stream.flush()
        time.sleep(0.3)
        out = term.text()
        self.assertIn("\x1b[", out)  # drawn with escape codes, in place
        for text in ("stale_lockfile", "port_mismatch", "fixed", "failed", "port-mismatch", "trace.jsonl#r-0",
                     "agents at work", "2/2 done"):
            self.assertIn(text, out)

    def test_full_screen_uses_the_alternate_screen_and_keeps_the_story(self):
        term = PtyReader()
        self.addCleanup(term.close)
        stream = os.fdopen(os.dup(term.slave), "w", encoding="utf-8", buffering=1)
        self.addCleanup(stream.close)
        board = LiveBoard(stream, total=2, concurrency=2, full_screen=True, refresh_per_second=20,
                          trace_url_template="https://lmnr.example/t/{run_id}")
        drive(board)
        time.sleep(0.3)
        out = term.text()
        self.assertIn("\x1b[?1049h", out)  # entered the alternate screen
        self.assertIn("\x1b[?1049l", out)  # and left it
        self.assertIn("https://lmnr.example/t/r-1", out)
        self.assertIn("story", out)
        self.assertIn("== agents at work", out.rsplit("\x1b[?1049l", 1)[1])  # printed after leaving

    def test_not_a_terminal_gives_plain_lines(self):
        stream = io.StringIO()
        board = LiveBoard(stream, total=2, concurrency=2, interval_s=0.0)
        self.assertFalse(board.tty)
        drive(board)
        out = stream.getvalue()
        self.assertNotIn("\x1b", out)
        lines = out.splitlines()
        self.assertIn("  START       stale_lockfile (stale_lockfile) r-0", lines)
        self.assertIn("  FIXED       stale_lockfile", lines)
        self.assertIn("== agents at work", lines)
        self.assertTrue(lines[-1].startswith("[fan-out] 2/2 done  queued 0  running 0  fixed 1  failed 1"), lines[-1])

    def test_running_incidents_show_steps_skill_and_risk_from_their_sidecar(self):
        run_id = f"live-test-{uuid.uuid4().hex[:8]}"
        path = sidecar_path(run_id)
        self.addCleanup(path.unlink, missing_ok=True)
        _write_sidecar(path, {"run_id": run_id, "actions": [
            {"command": "targetctl logs -n 60", "risk": "LOW"},
            {"command": "python3 .agents/skills/feature-flag/remediate.py", "risk": "MEDIUM"}]})
        board = LiveBoard(io.StringIO(), total=1)
        board.incident_started(3, "feature_flag", "feature_flag", run_id)
        board.tick()
        item = board.incidents[3]
        self.assertEqual((item.steps, item.skill, item.risk), (2, "feature-flag", "MEDIUM"))

    def test_narration_keeps_the_last_lines(self):
        board = LiveBoard(io.StringIO(), total=1)
        for n in range(NARRATION_LINES + 3):
            board.narrate(f"line {n}")
        self.assertEqual(board.narration[0], "line 3")
        self.assertEqual(len(board.narration), NARRATION_LINES)


@unittest.skipIf(shutil.which("bwrap") is None, "bubblewrap is missing: the agent's sandbox needs it")
class LiveDemoScriptTest(unittest.TestCase):
    def test_live_demo_in_a_pseudo_terminal(self):
        with tempfile.TemporaryDirectory(prefix="live-demo-") as tmp:
            term = PtyReader()
            self.addCleanup(term.close)
            env = {**os.environ, "COLUMNS": "160", "LINES": "40", "TERM": "xterm-256color"}
            proc = subprocess.Popen(
                [sys.executable, str(REPO / "scripts" / "fanout_live_demo.py"), "--scenarios", "stale_lockfile",
                 "--concurrency", "1", "--trace-log", str(Path(tmp) / "trace.jsonl"), "--log-dir", tmp,
                 "--output", str(Path(tmp) / "report.json")],
                cwd=REPO, env=env, stdin=term.slave, stdout=term.slave, stderr=term.slave, start_new_session=True)
            try:
                code = proc.wait(RUN_TIMEOUT_S)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, 15)
                    proc.wait(30)
            time.sleep(0.3)
            out = term.text()
            self.assertEqual(code, 0, out[-3000:])
            self.assertIn("\x1b[", out)
            for text in ("agent #0 takes stale_lockfile", "FIXED with skill stale-lockfile",
                         "== done: 1/1 fixed", "stale-lockfile", "trace.jsonl#"):
                self.assertIn(text, out, out[-3000:])
            self.assertTrue((Path(tmp) / "report.json").is_file())


if __name__ == "__main__":
    unittest.main()
