"""openhands_driver.audit: hash chain, ed25519 signatures, key rotation, tamper detection.

Trace logs and the intake database are tampered the three ways an insider would (edit, delete,
reorder) and the verifier must name the entry where it happened; concurrent writers (threads and
processes) must keep one valid chain.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path
from unittest import mock

from openhands_driver.audit import chain, keys
from openhands_driver.audit.verify import verify_db, verify_path, verify_trace
from openhands_driver.errors import UserError
from openhands_driver.trace import append_row, read_rows

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_audit.py"


def append_many(path: str, writer: int, count: int, key: str | None) -> None:
    """Top-level so multiprocessing can run it in a child process."""
    if key:
        os.environ[keys.ENV_KEY] = key
    for seq in range(count):
        append_row(path, {"schema_version": 2, "run_id": f"w{writer}-{seq}", "pad": "x" * 3000})


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class AuditTestCase(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="audit-test-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        self.key = self.dir / "audit.key"
        self.keyset = self.dir / "audit.key.keyset.json"
        patcher = mock.patch.dict(os.environ, {}, clear=False)
        patcher.start()
        self.addCleanup(patcher.stop)
        os.environ.pop(keys.ENV_KEY, None)
        os.environ.pop(keys.ENV_KEYSET, None)

    def signed(self) -> None:
        keys.keygen(self.key)
        os.environ[keys.ENV_KEY] = str(self.key)

    def trace(self, count: int = 6) -> Path:
        path = self.dir / "trace.jsonl"
        for i in range(count):
            append_row(path, {"schema_version": 2, "run_id": f"run-{i}", "status": "fixed"})
        return path

    def check(self, path: Path):
        return verify_trace(path, keys.load_keyset(self.keyset) if self.keyset.exists() else None, "ks")


class KeyTests(AuditTestCase):
    def test_keygen_writes_a_private_key_only_its_owner_reads(self) -> None:
        made = keys.keygen(self.key)
        self.assertEqual(stat.S_IMODE(self.key.stat().st_mode), 0o600)
        ks = json.loads(self.keyset.read_text())
        self.assertEqual([k["key_id"] for k in ks["keys"]], [made["key_id"]])
        self.assertNotIn("PRIVATE", self.keyset.read_text())
        with self.assertRaisesRegex(UserError, "already exists; use .*rotate"):
            keys.keygen(self.key)

    def test_a_key_readable_by_others_is_refused(self) -> None:
        keys.keygen(self.key)
        self.key.chmod(0o644)
        with self.assertRaisesRegex(UserError, r"readable by others \(mode 0644\); run `chmod 600"):
            keys.load_signer(self.key)

    def test_missing_or_garbage_key_is_a_user_error(self) -> None:
        with self.assertRaisesRegex(UserError, "cannot be read"):
            keys.load_signer(self.dir / "nope")
        bad = self.dir / "bad.key"
        bad.write_text("not a key")
        bad.chmod(0o600)
        with self.assertRaisesRegex(UserError, "not an unencrypted PEM"):
            keys.load_signer(bad)

    def test_rotation_keeps_old_entries_verifiable(self) -> None:
        self.signed()
        path = self.trace(3)
        old = keys.load_signer(self.key).key_id
        done = keys.rotate(self.key)
        self.assertEqual(done["retired"], old)
        append_row(path, {"schema_version": 2, "run_id": "after-rotation"})
        report = self.check(path)
        self.assertTrue(report.ok, report.summary())
        self.assertEqual(report.verified_signatures, 4)
        self.assertEqual(sorted(report.key_ids), sorted([old, done["key_id"]]))
        ks = json.loads(self.keyset.read_text())["keys"]
        self.assertIsNotNone(next(k for k in ks if k["key_id"] == old)["retired_at"])
        self.assertIsNone(next(k for k in ks if k["key_id"] == done["key_id"])["retired_at"])

    def test_signature_by_a_key_outside_the_keyset_is_reported(self) -> None:
        self.signed()
        path = self.trace(2)
        other = self.dir / "other.key"
        keys.keygen(other)
        os.environ[keys.ENV_KEY] = str(other)
        append_row(path, {"schema_version": 2, "run_id": "rogue"})
        report = self.check(path)
        self.assertEqual(report.first_problem.kind, "unknown_key")
        self.assertEqual(report.first_problem.where, "line 3")


class TraceChainTests(AuditTestCase):
    def test_untouched_signed_log_verifies(self) -> None:
        self.signed()
        path = self.trace()
        report = self.check(path)
        self.assertTrue(report.ok, report.summary())
        self.assertEqual((report.chained, report.signed, report.verified_signatures), (6, 6, 6))
        self.assertEqual(report.head["seq"], 5)
        self.assertEqual(len(read_rows(path)), 6)  # readers are not disturbed by the chain fields

    def test_edit_is_named_at_the_edited_entry(self) -> None:
        self.signed()
        path = self.trace()
        lines = path.read_text().splitlines()
        lines[3] = lines[3].replace('"fixed"', '"not_fixed"')
        rewrite(path, lines)
        report = self.check(path)
        self.assertEqual((report.first_problem.kind, report.first_problem.where, report.first_problem.ref),
                         ("changed", "line 4", "run-3"))

    def test_edit_and_rehash_is_named_by_the_signature_or_the_successor(self) -> None:
        for signed in (True, False):
            with self.subTest(signed=signed):
                if signed:
                    self.signed()
                path = self.trace()
                lines = path.read_text().splitlines()
                row = json.loads(lines[2])
                row["status"] = "not_fixed"
                row["audit"]["hash"] = chain.entry_digest(row)
                lines[2] = json.dumps(row)
                rewrite(path, lines)
                report = self.check(path)
                self.assertEqual((report.first_problem.kind, report.first_problem.where), ("changed", "line 3"),
                                 report.summary())
                path.unlink()
                os.environ.pop(keys.ENV_KEY, None)
                for f in (self.key, self.keyset):
                    f.unlink(missing_ok=True)

    def test_delete_is_named_at_the_entry_after_the_gap(self) -> None:
        path = self.trace()
        lines = path.read_text().splitlines()
        del lines[2]
        rewrite(path, lines)
        report = self.check(path)
        self.assertEqual((report.first_problem.kind, report.first_problem.where, report.first_problem.ref),
                         ("removed", "line 3", "run-3"))
        self.assertIn("seq 2 missing", report.first_problem.detail)

    def test_deleting_the_first_entries_is_detected(self) -> None:
        path = self.trace()
        rewrite(path, path.read_text().splitlines()[2:])
        report = self.check(path)
        self.assertEqual((report.first_problem.kind, report.first_problem.where), ("removed", "line 1"))

    def test_reorder_is_named_at_the_first_misplaced_entry(self) -> None:
        path = self.trace()
        lines = path.read_text().splitlines()
        lines[2], lines[3] = lines[3], lines[2]
        rewrite(path, lines)
        report = self.check(path)
        self.assertEqual((report.first_problem.kind, report.first_problem.where, report.first_problem.ref),
                         ("reordered", "line 3", "run-3"))

    def test_unsigned_log_is_chained_and_the_report_says_unsigned(self) -> None:
        path = self.trace(3)
        report = self.check(path)
        self.assertTrue(report.ok)
        self.assertEqual((report.signed, report.unsigned), (0, 3))
        self.assertIn("carry no signature", report.summary())

    def test_legacy_rows_are_reported_and_anchor_the_chain(self) -> None:
        path = self.dir / "trace.jsonl"
        legacy = [{"schema_version": 1, "run_id": f"old-{i}"} for i in range(3)]
        path.write_text("".join(json.dumps(r) + "\n" for r in legacy) + "{torn", encoding="utf-8")
        append_row(path, {"schema_version": 2, "run_id": "new-0"})
        append_row(path, {"schema_version": 2, "run_id": "new-1"})
        report = self.check(path)
        self.assertTrue(report.ok, report.summary())
        self.assertEqual((report.legacy, report.chained, report.unreadable), (3, 2, 1))
        self.assertIn("unchained legacy", report.summary())
        self.assertEqual(len(read_rows(path)), 5)
        lines = path.read_text().splitlines()  # the last legacy row is anchored: editing it shows
        lines[2] = json.dumps({"schema_version": 1, "run_id": "old-2-edited"})
        rewrite(path, lines)
        self.assertEqual(self.check(path).first_problem.kind, "changed")

    def test_an_unchained_row_added_after_the_chain_began_is_inserted(self) -> None:
        path = self.trace(3)
        lines = path.read_text().splitlines()
        lines.insert(1, json.dumps({"schema_version": 2, "run_id": "forged"}))
        rewrite(path, lines)
        report = self.check(path)
        self.assertEqual((report.first_problem.kind, report.first_problem.where), ("inserted", "line 2"))

    def test_concurrent_threads_keep_one_chain(self) -> None:
        self.signed()
        path = self.dir / "trace.jsonl"
        threads = [threading.Thread(target=append_many, args=(str(path), w, 25, None)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = self.check(path)
        self.assertTrue(report.ok, report.summary())
        self.assertEqual((report.chained, report.verified_signatures), (100, 100))

    def test_concurrent_processes_keep_one_chain(self) -> None:
        self.signed()
        path = self.dir / "trace.jsonl"
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=append_many, args=(str(path), w, 30, str(self.key))) for w in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            self.assertEqual(p.exitcode, 0)
        report = self.check(path)
        self.assertTrue(report.ok, report.summary())
        self.assertEqual((report.chained, report.verified_signatures), (60, 60))


class IntakeDbTests(AuditTestCase):
    def make_db(self) -> Path:
        from openhands_driver.intake.payloads import Incident
        from openhands_driver.intake.store import Store

        path = self.dir / "intake.db"
        store = Store(path)
        for i in range(3):
            incident = Incident(source="generic", title=f"t{i}", text="x", priority="P2", service=f"s{i}",
                                dedupe_key=f"d{i}")
            [out] = store.accept("generic", {"n": i}, [(incident, {"kind": "demo"})], now=100.0 + i, ttl_s=60)
            store.transition(out["execution_id"], "running", "claimed", 110.0 + i, ("queued",))
        store.record_rejected("generic", {"bad": True}, "no title", 120.0)
        store.close()
        return path

    def entries(self, path: Path) -> list[tuple[int, str]]:
        db = sqlite3.connect(path)
        try:
            return db.execute("SELECT id, entry FROM audit ORDER BY id").fetchall()
        finally:
            db.close()

    def test_every_record_is_chained_and_signed(self) -> None:
        self.signed()
        path = self.make_db()
        report = verify_db(path, keys.load_keyset(self.keyset), "ks")
        self.assertTrue(report.ok, report.summary())
        kinds = [json.loads(e)["kind"] for _, e in self.entries(path)]
        self.assertEqual(kinds.count("timeline"), 6)
        self.assertEqual(kinds.count("delivery"), 4)
        self.assertEqual(report.verified_signatures, len(kinds))

    def test_edit_delete_reorder_of_audit_entries(self) -> None:
        path = self.make_db()
        rows = self.entries(path)
        cases = {
            "edit": ("UPDATE audit SET entry=replace(entry, '\"claimed\"', '\"approved\"') WHERE id=?",
                     (rows[4][0],), "changed", f"audit id {rows[4][0]}"),
            "delete": ("DELETE FROM audit WHERE id=?", (rows[4][0],), "removed", f"audit id {rows[5][0]}"),
        }
        for name, (sql, args, kind, where) in cases.items():
            with self.subTest(name):
                copy = self.dir / f"{name}.db"
                copy.write_bytes(path.read_bytes())
                db = sqlite3.connect(copy)
                db.execute(sql, args)
                db.commit()
                db.close()
                report = verify_path(copy)
                self.assertEqual((report.first_problem.kind, report.first_problem.where), (kind, where),
                                 report.summary())
        copy = self.dir / "reorder.db"
        copy.write_bytes(path.read_bytes())
        db = sqlite3.connect(copy)
        (a, ea), (b, eb) = rows[3], rows[4]
        db.execute("UPDATE audit SET entry=? WHERE id=?", (eb, a))
        db.execute("UPDATE audit SET entry=? WHERE id=?", (ea, b))
        db.commit()
        db.close()
        report = verify_path(copy)
        self.assertEqual((report.first_problem.kind, report.first_problem.where), ("reordered", f"audit id {a}"))

    def test_editing_a_timeline_row_is_caught_by_the_cross_check(self) -> None:
        path = self.make_db()
        db = sqlite3.connect(path)
        db.execute("UPDATE timeline SET detail='approved by nobody' WHERE id=2")
        db.commit()
        db.close()
        report = verify_path(path)
        self.assertEqual((report.first_problem.kind, report.first_problem.where), ("changed", "timeline id 2"))


class ScriptTests(AuditTestCase):
    def run_script(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})}, cwd=ROOT)

    def test_keygen_check_and_tamper_exit_codes(self) -> None:
        made = self.run_script("keygen", "--key", str(self.key))
        self.assertEqual(made.returncode, 0, made.stderr)
        os.environ[keys.ENV_KEY] = str(self.key)
        path = self.trace(3)
        ok = self.run_script("check", str(path), "--json")  # key set found next to SRE_AUDIT_KEY
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertEqual(json.loads(ok.stdout)["verified_signatures"], 3)
        lines = path.read_text().splitlines()
        rewrite(path, [lines[0], lines[2]])
        bad = self.run_script("check", str(path))
        self.assertEqual(bad.returncode, 1)
        self.assertIn("FIRST PROBLEM: removed at line 2 (run-2)", bad.stdout)
        missing = self.run_script("check", str(self.dir / "nope.jsonl"))
        self.assertEqual(missing.returncode, 2)
        self.assertIn("is not a file", missing.stderr)
        self.assertNotIn("Traceback", missing.stderr)

    def test_run_demo_refuses_an_unusable_audit_key(self) -> None:
        keys.keygen(self.key)
        self.key.chmod(0o640)
        done = subprocess.run([sys.executable, str(ROOT / "run_demo.py"), "--simulate", "--audit-key", str(self.key),
                               "--disable-trace-log"], capture_output=True, text=True, timeout=60, cwd=ROOT)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("readable by others", done.stderr)
        self.assertNotIn("Traceback", done.stderr)
        keys.configure(None)


if __name__ == "__main__":
    unittest.main()
