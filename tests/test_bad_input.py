"""User mistakes end with exit 2 (or the library's user error) and one clear line, never a traceback.

One place for the inputs issue #13 listed: scenario files, ITBench files, trace rows, seed
strategies, run ids, trace logs, and the intake's HTTP bodies, limits and content types.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.itbench import ItbenchImportError
from openhands_driver.itbench.loader import load_incident
from openhands_driver.reports.leaderboard import build
from openhands_driver.scenarios import load_catalog

REPO = Path(__file__).resolve().parents[1]


def run(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=120)


class _Tmp(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bad-input-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def assert_exit_2(self, proc: subprocess.CompletedProcess[str], fragment: str) -> None:
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn(fragment, proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)


class RunDemoInputs(_Tmp):
    def scenario_file(self, **record) -> Path:
        path = self.tmp / "scenarios.json"
        base = {"scenario_id": "s1", "error_report": "lock file blocks checkout"}
        path.write_text(json.dumps({"schema_version": 1, "scenarios": [{**base, **record}]}))
        return path

    def test_run_demo_bad_inputs_exit_2_with_one_line(self) -> None:
        binary = self.tmp / "binary.json"
        binary.write_bytes(b"\xff\xfe\x00garbage")
        bool_version = self.tmp / "bool.json"
        bool_version.write_text(json.dumps({"schema_version": True, "scenarios": []}))
        cases = [(["--training-data", str(self.tmp)], "is a directory"),
                 (["--training-data", str(binary)], "not UTF-8"),
                 (["--training-data", str(bool_version)], "unsupported schema_version True"),
                 (["--training-data", str(self.scenario_file(local_fault=5)), "--scenario", "s1"],
                  "local_fault 5"),
                 (["--run-id", "../escape"], "not a plain name"),
                 (["--run-id", "a/b"], "not a plain name"),
                 (["--trace-log", str(self.tmp)], "is a directory"),
                 (["--trace-log", "/proc/no/such/trace.jsonl"], "cannot be written")]
        for argv, fragment in cases:
            with self.subTest(argv=argv):
                self.assert_exit_2(run("run_demo.py", "--simulate", *argv), fragment)

    def test_numeric_flags_are_checked_before_anything_starts_one_line_each(self) -> None:
        for argv, fragment in ((["--verify-interval-s", "-1"], "--verify-interval-s must be > 0, got -1.0"),
                               (["--verify-interval-s", "0"], "--verify-interval-s must be > 0"),
                               (["--max-iterations", "0"], "--max-iterations must be >= 1, got 0"),
                               (["--run-timeout-s", "nan"], "--run-timeout-s must be > 0, got nan"),
                               (["--soak-s", "-2"], "--soak-s must be >= 0"),
                               (["--variant-seed", "-1", "--blind"], "--variant-seed must be >= 0")):
            with self.subTest(argv=argv):  # not --simulate: refused before the target or the SDK
                self.assert_exit_2(run("run_demo.py", "--disable-trace-log", *argv), fragment)
        proc = run("run_demo.py", "--simulate", "--max-iterations", "0", "--verify-interval-s", "-1")
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 2, proc.stderr)  # one line per problem

    def test_unreachable_docker_engine_is_one_line_before_anything_starts(self) -> None:
        import os
        import time

        started = time.monotonic()
        proc = subprocess.run([sys.executable, "run_demo.py", "--backend", "docker", "--disable-trace-log"],
                              cwd=REPO, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "DOCKER_HOST": f"unix://{self.tmp}/no-engine.sock"})
        self.assertLess(time.monotonic() - started, 20)  # before the SDK import, not after it
        self.assert_exit_2(proc, "no Docker engine answers at DOCKER_HOST=unix://")
        self.assertIn("(no socket there); make one reachable with:", proc.stderr)
        self.assertNotIn("starting the target", proc.stderr)
        self.assertNotIn("('", proc.stderr)  # not a printed tuple

    def test_optimizer_flags_are_checked_not_silently_replaced(self) -> None:
        proc = run("optimize.py", "--simulate", "--minibatch-size", "0", "--max-iterations", "0")
        self.assertEqual(proc.returncode, 2, proc.stderr)  # --minibatch-size 0 used to become 3
        self.assertEqual(proc.stderr.strip().splitlines(), ["error: --minibatch-size must be >= 1, got 0",
                                                            "error: --max-iterations must be >= 1, got 0"])

    def test_json_prints_one_error_object_on_stdout(self) -> None:
        for argv, fragment in ((["--max-iterations", "0"], "--max-iterations must be >= 1"),
                               (["--scenario", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
                               (["--no-such-flag"], "unrecognized arguments: --no-such-flag")):
            with self.subTest(argv=argv):
                proc = run("run_demo.py", "--simulate", "--json", *argv)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(len(proc.stdout.strip().splitlines()), 1, proc.stdout)
                obj = json.loads(proc.stdout)
                self.assertEqual(obj["status"], "error")
                self.assertEqual(obj["exit_code"], 2)
                self.assertIn(fragment, obj["error"])
                self.assertNotIn("error: error", obj["error"])

    def test_unknown_fault_is_refused_when_the_scenario_is_planned(self) -> None:
        path = self.scenario_file(local_fault="no_such_fault")
        self.assertEqual(load_catalog(path).get("s1").local_fault, "no_such_fault")  # loads (fan-out)
        self.assert_exit_2(run("run_demo.py", "--simulate", "--training-data", str(path), "--scenario", "s1"),
                           "local_fault 'no_such_fault'")


class ItbenchInputs(_Tmp):
    def load(self, data: dict, groundtruth: str | None = None):
        index = self.tmp / "1.json"
        index.write_text(json.dumps({"id": 1, "category": "sre", **data}))
        if groundtruth is not None:
            case = self.tmp / "project/roles/scenarios/files/scenario_1"
            case.mkdir(parents=True, exist_ok=True)
            (case / "groundtruth.yaml").write_text(groundtruth)
        return load_incident(index, self.tmp, {})

    def test_fields_of_the_wrong_type_are_clear_errors(self) -> None:
        cases = [({"alerts": 5}, None, "'alerts' must be a list"),
                 ({"tags": 3}, None, "'tags' must be a list"),
                 ({"disruptions": [{"injections": 7}]}, None, "'injections' of disruption 0 must be a list"),
                 ({"id": "\u0661\u0662"}, None, "'id' must be an integer"),
                 ({"id": "\u00b2"}, None, "'id' must be an integer"),
                 ({}, "spec:\n  entities:\n  - kind: Deployment\n    metadata: a-string\n",
                  "entity metadata must be a mapping")]
        for data, groundtruth, fragment in cases:
            with self.subTest(fragment=fragment):
                with self.assertRaisesRegex(ItbenchImportError, fragment):
                    self.load(data, groundtruth)


class ReportAndOptimizerInputs(_Tmp):
    def test_trace_row_with_a_wrong_type_is_counted_not_a_traceback(self) -> None:
        log = self.tmp / "trace.jsonl"
        log.write_text(json.dumps({"schema_version": 1, "run_id": "r1", "scenario": "s", "status": "fixed",
                                   "service_up": True, "step_count": "many", "tokens": "lots"}) + "\n")
        board = build(log)
        self.assertEqual((board["bad_rows"], board["runs"]), (1, 0))
        proc = run("scripts/skill_leaderboard.py", "--trace-log", str(log))
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("wrong field types", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)

    def test_seed_strategy_directory_or_binary(self) -> None:
        from openhands_driver.optimizer.candidate import load_seed

        binary = self.tmp / "seed.md"
        binary.write_bytes(b"\x00\x01\xff")
        for path, fragment in ((self.tmp, "is a directory"), (binary, "not UTF-8")):
            with self.subTest(path=path):
                with self.assertRaisesRegex(UserError, fragment):
                    load_seed(path)


class IntakeInputs(_Tmp):
    def setUp(self) -> None:
        super().setUp()
        from openhands_driver.intake.config import IntakeConfig
        from openhands_driver.intake.service import IntakeService
        from openhands_driver.intake.testing import FakeRunner

        self.service = IntakeService(IntakeConfig(port=0, db=self.tmp / "intake.db", token=None,
                                                  insecure_no_auth=True, demo_targets=True,
                                                  trace_log=self.tmp / "trace.jsonl"),
                                     runner=FakeRunner()).start()
        self.addCleanup(self.service.stop, 2.0, 2.0)

    def call(self, method: str, path: str, body: bytes | None = None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": content_type} if content_type else {})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()

    def test_nested_body_400_recorded_limits_clamped_json_required(self) -> None:
        nested = b"[" * 100_000 + b"]" * 100_000
        status, data = self.call("POST", "/webhook/generic", nested)
        self.assertEqual(status, 400, data)
        self.assertIn("nests deeper", data["error"])
        status, data = self.call("POST", "/webhook/generic", b'{"title": "x", "service": "y"}', "text/plain")
        self.assertEqual(status, 415, data)
        reasons = [r["reason"] for r in self.service.store.query(
            "SELECT reason FROM deliveries WHERE outcome='rejected' ORDER BY id")]
        self.assertEqual(len(reasons), 2)
        for _ in range(3):
            body = json.dumps({"title": "t", "service": f"svc-{_}", "scenario": "stale_lockfile"}).encode()
            self.assertEqual(self.call("POST", "/webhook/generic", body)[0], 202)
        for limit, expected in (("-1", 1), ("0", 1), ("2", 2)):
            status, data = self.call("GET", f"/executions?limit={limit}", content_type=None)
            self.assertEqual((status, data["count"]), (200, expected), limit)

    def test_unwritable_trace_log_refuses_to_start(self) -> None:
        from openhands_driver.intake.config import IntakeConfig
        from openhands_driver.intake.service import IntakeService

        with self.assertRaisesRegex(UserError, "is a directory"):
            IntakeService(IntakeConfig(port=0, db=self.tmp / "other.db", token=None, insecure_no_auth=True,
                                       trace_log=self.tmp))


if __name__ == "__main__":
    unittest.main()
