"""openhands_driver.trace: versioned JSONL rows, secret redaction, concurrent appends, reading."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import tempfile
import threading
import unittest
from datetime import datetime
from pathlib import Path

from openhands_driver.records import ActionRecord, RunResult
from openhands_driver.trace import (
    EXCERPT_CHARS, READABLE_SCHEMA_VERSIONS, REDACTED, TRACE_SCHEMA_VERSION, append_row, read_rows,
    redact, trace_row, utc_now,
)

SECRET = "sk-test-PLANTED-0123456789abcdef"
WRITERS = 4
ROWS_PER_WRITER = 200
PAD_CHARS = 10_000


def append_worker(path: str, writer: int, count: int, pad: int) -> None:
    """Top-level so multiprocessing can run it in a child process."""
    fill = "abcdefgh"[writer]
    for seq in range(count):
        append_row(path, {"schema_version": TRACE_SCHEMA_VERSION, "writer": writer, "seq": seq,
                          "pad": fill * pad})


def make_result(**overrides) -> RunResult:
    fields = dict(run_id="run-1", scenario="stale_lockfile", mode="optimized", strategy_source="skills",
                  skill_id="stale-lockfile", routing={"skill_id": "stale-lockfile", "method": "scenario"},
                  brain="runbook", backend="local", simulate=False, status="fixed", service_up=True,
                  step_count=2, started_at="2024-01-01T00:00:00.000+00:00")
    fields.update(overrides)
    return RunResult(**fields)


class TempDirMixin:
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="trace-test-")
        self.addCleanup(self._tmp.cleanup)
        self.dir = Path(self._tmp.name)


class TraceRowTests(unittest.TestCase):
    def test_row_has_version_and_every_result_field(self) -> None:
        result = make_result(actions=[ActionRecord("terminal", "targetctl status", "LOW", 0, 0.1,
                                                   "HTTP 200", "verify")],
                             verification={"verified": True}, extra={"fanout_group": "g1"})
        row = trace_row(result)
        self.assertEqual(row["schema_version"], TRACE_SCHEMA_VERSION)
        self.assertIn(TRACE_SCHEMA_VERSION, READABLE_SCHEMA_VERSIONS)
        datetime.fromisoformat(row["written_at"])
        field_names = {f.name for f in dataclasses.fields(RunResult)} - {"extra"}
        self.assertEqual(set(row), field_names | {"schema_version", "written_at", "fanout_group"})
        for name in field_names - {"actions"}:
            self.assertEqual(row[name], getattr(result, name), name)
        self.assertEqual(row["actions"], [{"tool": "terminal", "command": "targetctl status", "risk": "LOW",
                                           "exit_code": 0, "duration_s": 0.1, "output_excerpt": "HTTP 200",
                                           "summary": "verify", "policy_risk": None, "model_risk": None,
                                           "gate": "allowed", "gate_reason": "", "gate_by": "", "ended_s": None,
                                           "timed_out": False}])
        json.dumps(row)  # JSON-ready

    def test_excerpts_keep_the_tail(self) -> None:
        long = "".join(str(i % 10) for i in range(3 * EXCERPT_CHARS)) + "THE-END"
        result = make_result(actions=[ActionRecord("terminal", "x", output_excerpt=long)])
        row = trace_row(result)
        excerpt = row["actions"][0]["output_excerpt"]
        self.assertEqual(len(excerpt), EXCERPT_CHARS)
        self.assertTrue(excerpt.endswith("THE-END"))
        self.assertEqual(result.actions[0].output_excerpt, long)  # the result is not modified

    def test_utc_now(self) -> None:
        stamp = datetime.fromisoformat(utc_now())
        self.assertEqual(stamp.utcoffset().total_seconds(), 0)

    def test_secrets_are_redacted_everywhere_in_the_row(self) -> None:
        result = make_result(agent_message=f"used key {SECRET} to log in",
                             actions=[ActionRecord("terminal", f"curl -H 'Authorization: {SECRET}'",
                                                   output_excerpt=f"echo {SECRET}\n{SECRET}")],
                             target={"env": {"API_KEY": SECRET, SECRET: "as a key"}},
                             error=f"failed with {SECRET}", extra={"notes": [SECRET, (SECRET, 1)]})
        row = trace_row(result, secrets=[SECRET])
        text = json.dumps(row)
        self.assertNotIn(SECRET, text)
        self.assertNotIn("PLANTED", text)
        self.assertEqual(row["agent_message"], f"used key {REDACTED} to log in")
        self.assertEqual(row["target"], {"env": {"API_KEY": REDACTED, REDACTED: "as a key"}})
        self.assertEqual(row["notes"], [REDACTED, [REDACTED, 1]])
        self.assertIn(SECRET, result.agent_message)  # the result itself is untouched

    def test_secret_cut_by_the_excerpt_limit_is_still_redacted(self) -> None:
        # BUG (trace.py trace_row): excerpts are cut to their last EXCERPT_CHARS characters before
        # redact() runs, so a secret straddling the cut survives as a partial (tail) string that
        # no longer equals the secret and is written to the trace unredacted.
        output = "x" * 1000 + SECRET + "y" * (EXCERPT_CHARS - len(SECRET) // 2)
        result = make_result(actions=[ActionRecord("terminal", "env", output_excerpt=output)])
        row = trace_row(result, secrets=[SECRET])
        self.assertNotIn(SECRET[len(SECRET) // 2:], row["actions"][0]["output_excerpt"])


class RedactTests(unittest.TestCase):
    def test_nested_values_and_keys(self) -> None:
        value = {"a": SECRET, "b": [1, f"x{SECRET}y", {"c": (SECRET, None, True, 2.5)}],
                 f"key-{SECRET}": {"deep": [[SECRET]]}}
        self.assertEqual(redact(value, [SECRET]), {
            "a": REDACTED, "b": [1, f"x{REDACTED}y", {"c": [REDACTED, None, True, 2.5]}],
            f"key-{REDACTED}": {"deep": [[REDACTED]]}})
        self.assertEqual(value["a"], SECRET)  # a copy

    def test_several_secrets_longest_first(self) -> None:
        short, long = "hunter2!", "hunter2!-extended"
        self.assertEqual(redact(f"{long} {short} {short}", [short, long]),
                         f"{REDACTED} {REDACTED} {REDACTED}")
        self.assertEqual(redact(f"{long} {short}", iter([long, short])), f"{REDACTED} {REDACTED}")

    def test_short_and_empty_secrets_are_ignored(self) -> None:
        value = {"k": "abc a ab", "n": None}
        self.assertIs(redact(value, []), value)
        self.assertEqual(redact(value, ["", None, "abc", "a"]), value)  # type: ignore[list-item]
        self.assertEqual(redact("abcd", ["abcd"]), REDACTED)

    def test_non_string_scalars_untouched(self) -> None:
        self.assertEqual(redact([1, 2.0, None, False], [SECRET]), [1, 2.0, None, False])


class AppendAndReadTests(TempDirMixin, unittest.TestCase):
    def test_append_creates_parents_and_writes_one_line(self) -> None:
        path = self.dir / "deep" / "runs" / "trace.jsonl"
        append_row(path, {"schema_version": 1, "b": 2, "a": Path("/x"), "t": datetime(2024, 1, 2)})
        append_row(str(path), trace_row(make_result()))
        lines = path.read_text(encoding="utf-8").splitlines()
        self.assertEqual(len(lines), 2)
        first = json.loads(lines[0])
        audit = first.pop("audit")  # the hash chain (tests/test_audit.py); the first entry links to nothing
        self.assertEqual((audit["seq"], audit["prev"]), (0, None))
        self.assertEqual(json.loads(lines[1])["audit"]["prev"], audit["hash"])
        self.assertEqual(first, {"a": "/x", "b": 2, "schema_version": 1, "t": "2024-01-02 00:00:00"})
        self.assertLess(lines[0].index('"a"'), lines[0].index('"b"'))  # sorted keys
        self.assertEqual([r["run_id"] for r in read_rows(path)[1:]], ["run-1"])

    def test_round_trip_of_trace_rows(self) -> None:
        path = self.dir / "trace.jsonl"
        for index in range(3):
            append_row(path, trace_row(make_result(run_id=f"run-{index}", actions=[
                ActionRecord("terminal", "targetctl status", "LOW", 0, 0.2, "HTTP 200\n{}", "verify")])))
        rows = read_rows(path, strict=True)
        self.assertEqual([r["run_id"] for r in rows], ["run-0", "run-1", "run-2"])
        self.assertEqual(rows[0]["actions"][0]["output_excerpt"], "HTTP 200\n{}")

    def test_missing_file_reads_as_empty(self) -> None:
        self.assertEqual(read_rows(self.dir / "nope.jsonl"), [])
        self.assertEqual(read_rows(self.dir / "nope.jsonl", strict=True), [])

    def test_corrupt_lines_and_unknown_versions_are_skipped(self) -> None:
        path = self.dir / "trace.jsonl"
        good = [{"schema_version": 1, "run_id": "a"}, {"schema_version": 1, "run_id": "b"}]
        path.write_text("\n".join([
            json.dumps(good[0]), "", "   ", "{not json", '{"schema_version": 1, "run_id": "torn',
            json.dumps({"schema_version": 99, "run_id": "future"}), json.dumps({"run_id": "unversioned"}),
            json.dumps(good[1])]) + "\n", encoding="utf-8")
        self.assertEqual(read_rows(path), good)

    def test_strict_raises_with_the_line_number(self) -> None:
        path = self.dir / "trace.jsonl"
        path.write_text(json.dumps({"schema_version": 1}) + "\n{not json\n", encoding="utf-8")
        with self.assertRaisesRegex(ValueError, r"trace\.jsonl:2: not valid JSON"):
            read_rows(path, strict=True)
        path.write_text("\n" + json.dumps({"schema_version": 7}) + "\n", encoding="utf-8")
        with self.assertRaisesRegex(ValueError, r":2: unknown schema_version 7"):
            read_rows(path, strict=True)

    def test_valid_json_that_is_not_an_object_is_skipped(self) -> None:
        # BUG (trace.py read_rows): a line that parses as JSON but is not an object (a torn line
        # such as `1` or `[...]`) reaches row.get() and raises AttributeError instead of being
        # skipped (or reported as ValueError with strict=True).
        path = self.dir / "trace.jsonl"
        path.write_text(json.dumps({"schema_version": 1, "run_id": "a"}) + "\n1\n[2]\n\"x\"\nnull\n",
                        encoding="utf-8")
        self.assertEqual(read_rows(path), [{"schema_version": 1, "run_id": "a"}])

    def test_undecodable_line_is_skipped(self) -> None:
        # BUG (trace.py read_rows): the whole file is decoded as UTF-8 up front, so one corrupt
        # line with invalid bytes raises UnicodeDecodeError and no row can be read at all.
        path = self.dir / "trace.jsonl"
        path.write_bytes(json.dumps({"schema_version": 1, "run_id": "a"}).encode() + b"\n\xff\xfe garbage\n")
        self.assertEqual(read_rows(path), [{"schema_version": 1, "run_id": "a"}])


class ConcurrentAppendTests(TempDirMixin, unittest.TestCase):
    def test_parallel_writers_never_interleave(self) -> None:
        path = self.dir / "trace.jsonl"
        # fork is fast; spawn when other threads run (forking a threaded process is unsafe)
        forkable = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
        method = "fork" if forkable else "spawn"
        context = multiprocessing.get_context(method)
        processes = [context.Process(target=append_worker, args=(str(path), w, ROWS_PER_WRITER, PAD_CHARS))
                     for w in range(WRITERS)]
        for process in processes:
            process.start()
        try:
            for process in processes:
                process.join(timeout=30)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                    process.join(timeout=5)
        self.assertEqual([p.exitcode for p in processes], [0] * WRITERS)

        raw_lines = path.read_bytes().split(b"\n")
        self.assertEqual(raw_lines[-1], b"")  # ends with a newline
        lines = raw_lines[:-1]
        self.assertEqual(len(lines), WRITERS * ROWS_PER_WRITER)
        seen: dict[int, list[int]] = {w: [] for w in range(WRITERS)}
        for line in lines:
            row = json.loads(line)  # every line is one complete JSON object
            fill = "abcdefgh"[row["writer"]]
            self.assertEqual(row["pad"], fill * PAD_CHARS)
            seen[row["writer"]].append(row["seq"])
        for writer, seqs in seen.items():
            self.assertEqual(seqs, list(range(ROWS_PER_WRITER)), f"writer {writer}")
        self.assertEqual(len(read_rows(path, strict=True)), WRITERS * ROWS_PER_WRITER)
        from openhands_driver.audit.verify import verify_trace

        chain = verify_trace(path)  # the appends were chained under the same lock: one valid chain
        self.assertTrue(chain.ok, chain.summary())
        self.assertEqual(chain.chained, WRITERS * ROWS_PER_WRITER)


if __name__ == "__main__":
    unittest.main()
