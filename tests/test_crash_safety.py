"""Fault injection on purpose: SIGKILL real processes mid-run, tear trace lines, fill the disk.

Invariants checked after each fault: no orphan process (a /proc scan for the test's unique temp
root), no leftover incident directory after the janitor, exactly one final trace row per run (never
lost, never duplicated), and at most one remediation per intake incident. Kill points come from a
fixed seed list, so a failure reproduces. Every wait is bounded.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path
from unittest import mock

from openhands_driver import janitor, ownership, runrecord, trace
from openhands_driver.errors import UserError

REPO = Path(__file__).resolve().parents[1]
SEEDS = (13, 29)


def _procs_under(root: str) -> list[str]:
    """Processes whose command line, working directory or environment (TMPDIR) names ``root``:
    every process the test started, and everything those started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = (entry / "environ").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if state != "Z" and (root in cmdline or cwd.startswith(root) or root in environ):
            found.append(f"{entry.name}: {cmdline[:160]} (cwd {cwd})")
    return found


def _wait(predicate, timeout_s: float, step_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    return predicate()


class _TempRoot(unittest.TestCase):
    maxDiff = None
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="crash-test-")
        self.env = {**os.environ, "TMPDIR": self.root, "PYTHONUNBUFFERED": "1"}
        self.trace_log = Path(self.root) / "trace.jsonl"
        patcher = mock.patch.dict(os.environ, {"TMPDIR": self.root})
        patcher.start()
        tempfile.tempdir = None  # gettempdir() re-reads TMPDIR
        self.addCleanup(self._cleanup, patcher)

    def _cleanup(self, patcher):
        patcher.stop()
        tempfile.tempdir = None
        for line in _procs_under(self.root):  # never leave anything behind, even on failure
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def assert_no_orphans(self, timeout_s: float = 15.0):
        left = _wait(lambda: not _procs_under(self.root), timeout_s) or _procs_under(self.root)
        self.assertEqual(left if left is not True else [], [], "orphaned processes")

    def assert_clean_after_janitor(self):
        report = janitor.sweep(tmp=Path(self.root), quiet=True)
        left = [p.name for p in Path(self.root).iterdir() if p.name.startswith(janitor.PREFIXES)]
        self.assertEqual(left, [], f"incident dirs left after the janitor: {report.to_dict()}")
        return report

    def final_rows(self) -> dict[str, list[dict]]:
        rows: dict[str, list[dict]] = {}
        for row in trace.read_rows(self.trace_log):
            rows.setdefault(row["run_id"], []).append(row)
        return rows


class TornAndFullTrace(_TempRoot):
    def test_append_after_torn_line_starts_fresh_and_readers_count_the_skip(self):
        self.trace_log.write_text('{"run_id": "a", "schema_version": 1, "status": "fixed"}\n{"run_id": "tor')
        trace.append_row(self.trace_log, {"run_id": "b", "schema_version": 1, "status": "fixed"})
        lines = self.trace_log.read_text().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(json.loads(lines[2])["run_id"], "b")
        read = trace.read_rows(self.trace_log)
        self.assertEqual([r["run_id"] for r in read], ["a", "b"])
        self.assertEqual(read.skipped_lines, 1)

    def test_report_tool_exits_nonzero_when_it_read_no_runs(self):
        self.trace_log.write_text('{"run_id": "tor')
        proc = subprocess.run([sys.executable, "scripts/skill_leaderboard.py", "--trace-log",
                               str(self.trace_log), "--json"], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("skipped 1 unreadable line", proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["skipped_lines"], 1)

    def test_enospc_mid_append_leaves_one_bad_line_and_the_run_open(self):
        row = runrecord.started_row({"run_id": "full-1", "scenario": "stale_lockfile"})
        trace.append_row(self.trace_log, row)
        real_write = os.write

        def half_then_full(fd, data):
            if len(data) > 40:
                real_write(fd, bytes(data[:20]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_write(fd, data)

        with mock.patch("openhands_driver.trace.os.write", side_effect=half_then_full):
            from openhands_driver.crash_safety import append_final

            self.assertFalse(append_final(self.trace_log, {**row, "status": "fixed", "written_at": "x"}))
        read = trace.read_rows(self.trace_log)
        self.assertEqual(read.skipped_lines, 1)  # the torn half: counted, never glued to the next row
        self.assertEqual([r["run_id"] for r in read.open_runs], ["full-1"])
        trace.append_row(self.trace_log, {**row, "status": "fixed"})  # space again
        read = trace.read_rows(self.trace_log)
        self.assertEqual((read.skipped_lines, [r["status"] for r in read]), (1, ["fixed"]))

    def test_full_tmpfs_is_refused_before_the_run_starts(self):
        mount = Path(self.root) / "tiny"
        mount.mkdir()
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                               capture_output=True).returncode != 0:
            self.skipTest("needs root and tmpfs mounts to simulate a full disk")
        self.addCleanup(subprocess.run, ["umount", "-l", str(mount)], capture_output=True)
        filler = mount / "filler"
        with open(filler, "wb") as out:
            try:
                out.write(b"x" * 200_000)
            except OSError:
                pass
        with self.assertRaises(UserError) as caught:
            trace.check_writable(mount / "trace.jsonl")
        self.assertIn("full", str(caught.exception))
        for bad in (str(mount / "trace.jsonl"), self.root):  # full disk, a directory: exit 2 at once
            proc = subprocess.run([sys.executable, "run_demo.py", "--trace-log", bad], cwd=REPO, env=self.env,
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)
            self.assertEqual(_procs_under(self.root), [])


class KillRunDemo(_TempRoot):
    """SIGKILL of a real run_demo.py at seeded points of its run."""

    def _run_and_kill(self, seed: int) -> str:
        rng = random.Random(seed)
        run_id = f"crash-{seed}"
        after = rng.choice(("[runner]", "[agent] terminal"))  # target up / agent acting
        delay = rng.uniform(0.0, 1.5)
        log = Path(self.root) / f"{run_id}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "run_demo.py", "--scenario", "stale_lockfile",
                                     "--trace-log", str(self.trace_log), "--run-id", run_id,
                                     "--verify-interval-s", "0.2"], cwd=REPO, env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            seen = _wait(lambda: after in log.read_text(errors="replace") or proc.poll() is not None, 120, 0.05)
            self.assertTrue(seen, f"{after!r} never appeared:\n{log.read_text()[-2000:]}")
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(10)
        return run_id

    def test_sigkill_at_seeded_points_leaves_no_orphans_and_one_final_row(self):
        run_ids = [self._run_and_kill(seed) for seed in SEEDS]
        self.assert_no_orphans()
        report = self.assert_clean_after_janitor()
        rows = self.final_rows()
        for run_id in run_ids:
            self.assertEqual(len(rows.get(run_id, [])), 1, f"{run_id}: {rows.get(run_id)}")
            self.assertIn(rows[run_id][0]["status"], ("crashed", "fixed", "not_fixed"))
        self.assertEqual(trace.read_rows(self.trace_log).open_runs, [])
        # a second sweep closes nothing twice
        self.assertEqual(janitor.sweep(tmp=Path(self.root), quiet=True).closed_runs, [])
        self.assertEqual(self.final_rows(), rows)
        self.assertLessEqual(set(report.closed_runs), set(run_ids))

    def test_sighup_is_handled_like_sigterm(self):
        log = Path(self.root) / "hup.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "run_demo.py", "--scenario", "stale_lockfile",
                                     "--trace-log", str(self.trace_log), "--run-id", "hup-1"], cwd=REPO,
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT)
        try:
            self.assertTrue(_wait(lambda: "[agent]" in log.read_text(errors="replace"), 120, 0.05))
            proc.send_signal(signal.SIGHUP)
            self.assertEqual(proc.wait(60), 130, log.read_text()[-2000:])
        finally:
            proc.kill()
        self.assert_no_orphans(5)
        rows = self.final_rows()["hup-1"]
        self.assertEqual([r["status"] for r in rows], ["interrupted"])
        self.assertEqual(len(rows[0]["actions"]), rows[0]["step_count"])
        self.assertGreaterEqual(rows[0]["step_count"], 1, "the actions taken before the signal are kept")
        self.assertEqual([p.name for p in Path(self.root).iterdir() if p.name.startswith(janitor.PREFIXES)], [])


class KillFanout(_TempRoot):
    def test_sigkill_of_a_fanout_leaves_no_orphans(self):
        log = Path(self.root) / "fanout.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "scripts/fanout_itbench.py", "--training-data",
                                     "training_data/scenarios.json", "--scenarios",
                                     "stale_lockfile,readiness_probe_fail", "--concurrency", "2",
                                     "--trace-log", str(self.trace_log), "--no-progress",
                                     "--log-dir", str(Path(self.root) / "logs")], cwd=REPO, env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            up = _wait(lambda: len([p for p in Path(self.root).glob("sre-target-*")]) >= 2
                       or proc.poll() is not None, 120, 0.05)
            self.assertTrue(up, log.read_text()[-2000:])
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(10)
        self.assert_no_orphans()
        self.assert_clean_after_janitor()
        read = trace.read_rows(self.trace_log)
        self.assertEqual(read.open_runs, [])
        ids = [r["run_id"] for r in read]
        self.assertEqual(len(ids), len(set(ids)))


class KillIntake(_TempRoot):
    """SIGKILL of a real scripts/serve.py at two points of an execution, then a restart."""

    def _serve(self, db: Path) -> tuple[subprocess.Popen, str]:
        out = open(Path(self.root) / "serve.out", "ab")
        self.addCleanup(out.close)
        proc = subprocess.Popen([sys.executable, "scripts/serve.py", "--port", "0", "--insecure-no-auth",
                                 "--demo-targets", "--db", str(db), "--trace-log", str(self.trace_log),
                                 "--concurrency", "1"], cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                stderr=out)
        self.addCleanup(lambda: (proc.kill(), proc.wait(10), proc.stdout.close()))
        line = proc.stdout.readline().decode()
        self.assertIn("listening", line, (Path(self.root) / "serve.out").read_text())
        return proc, json.loads(line)["url"]

    def _post(self, url: str) -> str:
        body = json.dumps({"title": "checkout lock", "text": "lock file blocks checkout", "priority": "P1",
                           "service": "checkout", "scenario": "stale_lockfile"}).encode()
        request = urllib.request.Request(f"{url}/webhook/generic", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["execution_id"]

    def _row(self, db: Path, execution_id: str) -> dict:
        with sqlite3.connect(db, timeout=30) as conn:
            conn.row_factory = sqlite3.Row
            return dict(conn.execute("SELECT * FROM executions WHERE id=?", (execution_id,)).fetchone())

    def _remediations(self, execution_id: str) -> int:
        count = 0
        for row in trace.read_rows(self.trace_log):
            if str(row.get("run_id", "")).startswith(f"intake-{execution_id}-"):
                count += any(a.get("risk") in ("MEDIUM", "HIGH") and a.get("gate") != "rejected"
                             and a.get("exit_code") == 0 for a in row.get("actions") or [])
        return count

    def _kill_and_recover(self, point: str) -> tuple[dict, Path, str]:
        db = Path(self.root) / f"intake-{point}.db"
        proc, url = self._serve(db)
        execution_id = self._post(url)
        if point == "claimed":
            ready = lambda: self._row(db, execution_id)["status"] == "running"  # noqa: E731
        else:
            ready = lambda: self._row(db, execution_id)["remediation_at"] is not None  # noqa: E731
        self.assertTrue(_wait(ready, 150, 0.02), self._row(db, execution_id))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.assert_no_orphans(20)  # workers and their targets die with the service
        proc, url = self._serve(db)
        final = _wait(lambda: self._row(db, execution_id)["status"] not in ("queued", "running"), 150, 0.2)
        self.assertTrue(final, self._row(db, execution_id))
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        return self._row(db, execution_id), db, execution_id

    def test_sigkill_of_the_intake_never_remediates_twice(self):
        for point in ("claimed", "remediating"):
            with self.subTest(point=point):
                row, db, execution_id = self._kill_and_recover(point)
                remediations = self._remediations(execution_id)
                print(f"[crash] intake killed at {point}: {row['status']} after {row['attempts']} attempt(s), "
                      f"{remediations} remediation(s)", file=sys.stderr, flush=True)
                self.assertLessEqual(remediations, 1, f"remediated {remediations} times")
                if point == "remediating":  # the target may have changed: never run again
                    self.assertEqual((row["status"], row["attempts"]), ("needs_human", 1), row)
                if row["status"] == "fixed":
                    self.assertEqual(remediations, 1)
                with sqlite3.connect(db) as conn:
                    notes = [r[0] for r in conn.execute(
                        "SELECT name FROM timeline WHERE execution_id=?", (execution_id,))]
                    escalations = conn.execute("SELECT COUNT(*) FROM escalations WHERE execution_id=?",
                                               (execution_id,)).fetchone()[0]
                    running = conn.execute("SELECT COUNT(*) FROM executions WHERE status='running'").fetchone()[0]
                self.assertEqual(running, 0)
                self.assertIn("orphaned_run", notes, "the orphaned run's trace row reached the audit trail")
                if row["status"] == "needs_human":
                    self.assertEqual(escalations, 1)
                self.assertEqual(trace.read_rows(self.trace_log).open_runs, [])
        self.assert_no_orphans()
        self.assert_clean_after_janitor()


class LeaseRecovery(_TempRoot):
    """The recovery decision without processes: requeue only provably untouched executions."""

    def test_requeue_only_when_the_target_was_not_changed(self):
        from openhands_driver.intake import lease
        from openhands_driver.intake.store import Store

        store = Store(Path(self.root) / "lease.db")
        self.addCleanup(store.close)
        dead = subprocess.Popen(["true"])
        dead.wait()
        gone = ownership.token({"pid": dead.pid, "start_ticks": 1, "boot_id": ownership.boot_id()})
        ids = []
        for remediated in (False, True):
            with store.tx() as db:
                execution_id = f"ex-{int(remediated)}"
                db.execute("INSERT INTO executions (id, source, dedupe_key, service, priority, title, incident, "
                           "plan, status, created_at, updated_at, expires_at, attempts, lease_owner, lease_token, "
                           "remediation_at) VALUES (?, 'generic', ?, ?, 'P1', 't', ?, '{}', 'running', 0, 0, "
                           "9e12, 1, ?, 1, ?)", (execution_id, execution_id, execution_id, json.dumps(
                               {"priority": "P1", "source": "generic", "dedupe_key": execution_id, "text": "x",
                                "title": "t", "service": execution_id}), gone, 5.0 if remediated else None))
            ids.append(execution_id)
        escalation = lambda row, why: {"reason": "needs_human", "dedup_key": row["id"], "event": {}}  # noqa: E731
        out = lease.recover(store, now=time.time(), max_attempts=3, escalation_for=escalation, trace_log=None)
        self.assertEqual((out["requeued"], out["needs_human"]), ([ids[0]], [ids[1]]))
        stale = lease.WorkerLease(str(store.path), ids[0], 1)  # the old worker's token is fenced out
        with self.assertRaisesRegex(RuntimeError, "no longer leased"):
            stale.install()
        self.assertFalse(runrecord.has_change_guard())
        token = store.claim(ids[0], "attempt 2", time.time(), lease.server_owner())
        self.assertEqual(token, 2)
        current = lease.WorkerLease(str(store.path), ids[0], token)
        current.install()
        self.addCleanup(lease.WorkerLease.uninstall)
        self.assertTrue(runrecord.before_change(object()))  # records remediation_at under token 2
        self.assertIsNotNone(store.query("SELECT remediation_at FROM executions WHERE id=?", (ids[0],))[0][0])
        store.transition(ids[0], "queued", "requeued by someone else", time.time(), ("running",))
        self.assertFalse(runrecord.before_change(object()))  # fenced: no longer running under token 2


class OwnershipUnit(unittest.TestCase):
    def test_owner_liveness_tells_reused_pids_apart(self):
        me = ownership.current()
        self.assertTrue(ownership.alive(me))
        self.assertFalse(ownership.alive({**me, "start_ticks": (me["start_ticks"] or 0) + 1}))
        self.assertFalse(ownership.alive({**me, "boot_id": "another-boot"}))
        child = subprocess.Popen(["true"])
        child.wait()
        self.assertFalse(ownership.alive({"pid": child.pid, "start_ticks": None, "boot_id": me["boot_id"]}))
        self.assertEqual(ownership.parse_token(ownership.token(me))["pid"], me["pid"])


if __name__ == "__main__":
    unittest.main()
