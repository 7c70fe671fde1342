"""scripts/start_demo.py (openhands_driver/demo.py): flags, dry run, errors, and one real run.

The dry run and the error paths need no Docker engine. The end-to-end run needs one and skips
(with the reason) only when none can be reached; it takes about 15 s (one subprocess, SDK import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid
from pathlib import Path

from openhands_driver import demo
from openhands_driver.errors import UserError

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "start_demo.py"
SKIP_REASON = 'needs a Docker engine: run eval "$(scripts/docker_engine.sh up)"'


def start_demo(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


class StartDemoFlagsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.trace = str(Path(self.tmp.name) / "trace.jsonl")

    def test_simulate_json_is_one_object_and_needs_no_engine(self):
        out = start_demo("--simulate", "--json", "--scenario", "port_mismatch", "--trace-log", self.trace,
                         env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual((result["backend"], result["status"]), ("docker", "simulated"))
        self.assertIsNone(result["service_up"])
        self.assertEqual(result["plan"]["docker"]["image"], "openhands-gepa-sre-target:latest")
        self.assertTrue(result["plan"]["docker"]["build"])
        self.assertEqual(result["skill_id"], "port-mismatch")

    def test_security_flag_combinations_that_make_no_sense_fail_clearly(self):
        for flags in (["--interactive", "--demo-security-gates"], ["--interactive", "--json"]):
            with self.subTest(flags=flags):
                out = start_demo(*flags, "--simulate")
                self.assertEqual(out.returncode, 2)
                self.assertNotIn("Traceback", out.stderr)
                self.assertEqual(out.stdout, "")

    def test_interactive_confirms_from_medium_by_default(self):
        options = demo.options_from_args(demo.build_parser().parse_args(["--interactive"]))
        self.assertTrue(options.interactive)
        self.assertEqual(options.run.require_confirmation_for_risk, "MEDIUM")

    def test_no_engine_is_a_user_error_with_the_fix(self):
        out = start_demo("--scenario", "healthy", "--trace-log", self.trace,
                         env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assertEqual(out.returncode, 2)
        self.assertIn('eval "$(scripts/docker_engine.sh up)"', out.stderr)
        self.assertNotIn("Traceback", out.stderr)

    def test_bad_input_is_rejected_before_anything_starts(self):
        out = start_demo("--scenario", "no_such_scenario", "--simulate")
        self.assertEqual(out.returncode, 2)
        self.assertIn("unknown scenario", out.stderr)
        args = demo.build_parser().parse_args(["--port", "70000"])
        with self.assertRaisesRegex(UserError, "--port"):
            demo.options_from_args(args)

    def test_flags_map_to_a_docker_run_config(self):
        args = demo.build_parser().parse_args(
            ["--scenario", "port_mismatch", "--mode", "baseline", "--port", "18080", "--run-id", "r1",
             "--runtime-image", "img:1", "--keep-container", "--skip-build", "--skill-id", "port-mismatch",
             "--disable-trace-log", "--verify-max-attempts", "4"])
        options = demo.options_from_args(args)
        run = options.run
        self.assertEqual((run.backend, run.scenario, run.mode, run.target_port, run.run_id),
                         ("docker", "port_mismatch", "baseline", 18080, "r1"))
        self.assertEqual((run.runtime_image, run.skill_id, run.verify_max_attempts), ("img:1", "port-mismatch", 4))
        self.assertTrue(run.disable_trace_log)
        self.assertTrue(options.keep_container and options.skip_build)

    def test_docker_is_the_only_backend_and_attach_belongs_to_run_demo(self):
        parser = demo.build_parser()
        with self.assertRaisesRegex(UserError, "run_demo.py --backend local"):
            demo.options_from_args(parser.parse_args(["--backend", "local"]))
        with self.assertRaisesRegex(UserError, "--target-container NAME"):
            demo.options_from_args(parser.parse_args(["--target-container", "c"]))
        self.assertTrue(demo.options_from_args(parser.parse_args(["--keep-target"])).keep_container)

    def test_help_offers_only_what_start_demo_accepts(self):
        text = demo.build_parser().format_help()
        for hidden in ("--backend", "--keep-target", "--target-root", "--target-container", "--target-url"):
            self.assertNotIn(hidden, text)  # refused, or another name for --keep-container
        self.assertIn("--keep-container", text)
        proc = start_demo("--list")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Fault classes", proc.stdout)


class StartDemoDockerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from openhands_driver.target import docker as dt

        problem = dt.engine_problem()
        if problem:
            raise unittest.SkipTest(f"{SKIP_REASON} ({problem})")
        cls.dt = dt
        cls.client = dt.connect()

    def test_json_end_to_end_builds_runs_verifies_and_cleans_up(self):
        run_id = f"test-start-demo-{uuid.uuid4().hex[:8]}"
        self.addCleanup(self.dt.remove_run_containers, run_id, self.client)
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            out = start_demo("--scenario", "stale_lockfile", "--json", "--run-id", run_id,
                             "--trace-log", str(trace), "--verify-interval-s", "0.3")
            self.assertEqual(out.returncode, 0, out.stderr[-3000:])
            result = json.loads(out.stdout)  # stdout is exactly one JSON object
            lines = [json.loads(line) for line in trace.read_text().splitlines()]
            rows = [row for row in lines if row["status"] != "started"]  # one final row per run
            self.assertEqual([row["status"] for row in lines][0], "started")
        self.assertEqual((result["backend"], result["status"], result["run_id"]),
                         ("docker", "fixed", run_id))
        self.assertTrue(result["service_up"])
        identity = result["verification"]["identity"]
        self.assertTrue(identity["ok"], identity)
        self.assertEqual(identity["container"], result["target"]["container"])
        self.assertEqual(result["image"]["tag"], "openhands-gepa-sre-target:latest")
        self.assertIn("[start_demo] image", out.stderr)
        self.assertEqual(len(rows), 1)
        self.assertTrue(rows[0]["verification"]["identity"]["ok"])
        self.assertEqual(self.dt.managed_containers(run_id, self.client), [])

    def test_demo_security_gates_blocked_approved_rejected(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = start_demo("--demo-security-gates", "--json", "--trace-log", str(Path(tmp) / "t.jsonl"),
                             "--verify-interval-s", "0.3", timeout=400)
        self.assertEqual(out.returncode, 0, out.stderr[-3000:])
        rows = json.loads(out.stdout)["security_gate_demo"]
        self.assertEqual([r["service_up"] for r in rows], [True, True, False])
        self.assertEqual(rows[0]["gated_actions"][0]["command"], "printenv")
        self.assertEqual([r["gated_actions"][-1]["gate"] for r in rows], ["rejected", "approved", "rejected"])

    def test_interactive_operator_approves_on_the_terminal(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, str(SCRIPT), "--interactive", "--scenario", "stale_lockfile",
                                   "--trace-log", str(Path(tmp) / "t.jsonl"), "--verify-interval-s", "0.3"],
                                  cwd=REPO, input="a\n" * 5, capture_output=True, text=True, timeout=240)
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        self.assertIn("[gate] the agent wants to run", proc.stderr)
        self.assertIn("RESOLVED (proven)", proc.stdout)

    def test_skip_build_needs_the_image(self):
        out = start_demo("--skip-build", "--runtime-image", f"missing-{uuid.uuid4().hex[:6]}:none",
                         "--disable-trace-log")
        self.assertEqual(out.returncode, 2)
        self.assertIn("run without --skip-build", out.stderr)
        self.assertNotIn("Traceback", out.stderr)


if __name__ == "__main__":
    unittest.main()
