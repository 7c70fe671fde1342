"""run_demo.py's command line: dry runs, bad input, the JSON contract, exit codes (no SDK needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.cli import build_parser, config_from_args, exit_code_for
from openhands_driver.errors import UserError
from openhands_driver.trace import read_rows

REPO = Path(__file__).resolve().parent.parent


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_demo.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


class SimulateTest(unittest.TestCase):
    def test_simulate_json_is_one_object_plans_and_claims_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            out = run_demo("--scenario", "port_mismatch", "--simulate", "--json", "--trace-log", str(trace))
            rows = read_rows(trace)
        self.assertEqual(out.returncode, 0, out.stderr)
        result = json.loads(out.stdout)
        self.assertIsNone(result["service_up"])
        self.assertTrue(result["simulate"])
        self.assertEqual(result["status"], "simulated")
        self.assertEqual(result["skill_id"], "port-mismatch")
        self.assertEqual(result["actions"], [])
        self.assertIn("targetctl restart", result["plan"]["steps"]["remediate"])
        self.assertEqual(len(rows), 1)
        self.assertIsNone(rows[0]["service_up"])

    def test_simulate_never_imports_the_sdk(self):
        code = ("import sys, io, contextlib\n"
                "from openhands_driver.cli import main\n"
                "with contextlib.redirect_stdout(io.StringIO()):\n"
                "    rc = main(['--simulate', '--disable-trace-log', '--mode', 'baseline'])\n"
                "heavy = [m for m in ('openhands.sdk', 'litellm', 'openhands.tools') if m in sys.modules]\n"
                "print(rc, heavy)\n")
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.strip(), "0 []", out.stderr)

    def test_human_dry_run_says_it_is_a_dry_run(self):
        out = run_demo("--simulate", "--disable-trace-log")
        self.assertEqual(out.returncode, 0)
        self.assertIn("DRY RUN", out.stdout)
        self.assertIn("service_up: null", out.stdout)


class BadInputTest(unittest.TestCase):
    def assert_user_error(self, out: subprocess.CompletedProcess, *fragments: str):
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertNotIn("Traceback", out.stderr)
        self.assertEqual(out.stdout, "")
        for fragment in fragments:
            self.assertIn(fragment, out.stderr)

    def test_unknown_scenario_lists_the_valid_ones(self):
        self.assert_user_error(run_demo("--scenario", "no_such_thing", "--simulate"),
                               "unknown scenario", "stale_lockfile", "port_mismatch")

    def test_unknown_skill_lists_the_valid_ones(self):
        self.assert_user_error(run_demo("--skill-id", "nope", "--simulate"), "unknown skill", "stale-lockfile")

    def test_missing_training_data_file(self):
        self.assert_user_error(run_demo("--training-data", "/nonexistent.json", "--simulate"), "not found")

    def test_missing_optimizer_result_names_the_command(self):
        self.assert_user_error(run_demo("--strategy-source", "optimizer", "--optimizer-result",
                                        "/nonexistent/best.json", "--simulate"), "optimize.py")

    def test_model_without_key_names_the_variables(self):
        out = subprocess.run([sys.executable, "run_demo.py", "--model", "openai/gpt-4o-mini", "--simulate",
                              "--env-file", "/dev/null"], cwd=REPO, capture_output=True, text=True,
                             timeout=60, env={"PATH": "/usr/bin:/bin"})
        self.assert_user_error(out, "LLM_API_KEY", "OPENAI_API_KEY")

    def test_verifier_flags_are_checked(self):
        args = build_parser().parse_args(["--verify-consecutive-successes", "3", "--verify-max-attempts", "2"])
        with self.assertRaises(UserError):
            config_from_args(args)

    def test_unsupported_imported_incident_says_why(self):
        catalog = json.loads((REPO / "training_data/atlas_sre_scenarios.json").read_text())
        record = dict(catalog["scenarios"][0], scenario_id="itbench_51_api_server_request_surge", local_fault=None,
                      local_faults=[], unsupported_reason="Load on the Kubernetes control plane (API server)")
        with tempfile.TemporaryDirectory() as tmp:  # (every sample incident has an analogue now)
            path = Path(tmp) / "catalog.json"
            path.write_text(json.dumps({**catalog, "scenarios": [record]}))
            out = run_demo("--training-data", str(path), "--scenario", record["scenario_id"], "--simulate")
        self.assert_user_error(out, "no local analogue")
        self.assertIn("control plane", out.stderr)


class ExitCodeTest(unittest.TestCase):
    def test_exit_codes(self):
        from openhands_driver.records import RunResult

        def result(**kw) -> RunResult:
            base = dict(run_id="r", scenario="s", mode="optimized", strategy_source="skills", skill_id=None,
                        routing={}, brain="runbook", backend="local", simulate=False, status="fixed",
                        service_up=True, step_count=1, started_at="t")
            return RunResult(**{**base, **kw})

        self.assertEqual(exit_code_for(result()), 0)
        self.assertEqual(exit_code_for(result(status="not_fixed", service_up=False)), 1)
        self.assertEqual(exit_code_for(result(status="interrupted", service_up=None)), 130)
        self.assertEqual(exit_code_for(result(status="simulated", simulate=True, service_up=None)), 0)

    def test_first_output_within_a_second_and_a_signal_ends_cleanly(self):
        import signal
        import time

        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "run_demo.py", "--disable-trace-log", "--sandbox", "none",
                                 "--scenario", "healthy"], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stderr.readline()
            elapsed = time.monotonic() - started
            self.assertLess(elapsed, 1.0, first)  # not a blank terminal while the SDK loads
            self.assertIn("starting the target", first)
            self.assertIn("agent runtime", first)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 130, err)
        self.assertTrue(out.startswith("INTERRUPTED"), out)

    def test_print_human_colours_only_a_terminal_without_no_color(self):
        import io
        import os
        from unittest import mock

        from openhands_driver.cli import print_human

        class Tty(io.StringIO):
            def isatty(self):
                return True

        text = "RESOLVED (proven) — scenario s\n  changed: 1 file(s)\n      -a\n      +b"
        for stream, env, coloured in ((Tty(), {}, True), (Tty(), {"NO_COLOR": "1"}, False),
                                      (io.StringIO(), {}, False)):
            with mock.patch.dict(os.environ, env):
                print_human(text, stream)
            self.assertEqual("\x1b[" in stream.getvalue(), coloured, (env, stream.getvalue()))
            self.assertIn("+b", stream.getvalue())

    def test_verdict_labels_say_what_happened(self):
        from openhands_driver.cli import render_human
        from openhands_driver.records import RunResult

        base = dict(run_id="r", scenario="healthy", mode="optimized", strategy_source="skills", skill_id=None,
                    routing={}, brain="runbook", backend="local", simulate=False, status="fixed",
                    service_up=True, step_count=1, started_at="t", ground_truth={"fault_class": "healthy"})
        healthy = render_human(RunResult(**base, resolved=True)).splitlines()[0]
        self.assertTrue(healthy.startswith("NO FAULT (confirmed healthy"), healthy)
        self.assertNotIn("FIXED", healthy)
        self.assertNotIn("RESOLVED", healthy)
        broken = dict(base, scenario="stale_lockfile", ground_truth={"fault_class": "stale_lockfile"})
        self.assertTrue(render_human(RunResult(**broken, resolved=True)).startswith("RESOLVED (proven)"))

    def test_the_header_never_names_a_skill_the_agent_does_not_get(self):
        from openhands_driver.strategy import Strategy, describe

        baseline = describe(Strategy("baseline", None, "text", "baseline.md", False),
                            "scenario stale_lockfile maps to skill stale-lockfile")
        self.assertNotIn("stale-lockfile", baseline)
        self.assertIn("baseline", baseline)
        self.assertIn("follow skill stale-lockfile",
                      describe(Strategy("skills", "stale-lockfile", None, None, True), "routed by label"))


class LiveViewInATerminalTest(unittest.TestCase):
    """A real run in a pseudo-terminal, as a person sees it: output from the first second, colour,
    and a verdict that names the cause, the change (as a diff) and how it was verified."""

    def test_run_reads_like_an_incident_summary(self):
        import os
        import pty
        import select
        import time

        if os.environ.get("NO_COLOR"):
            self.skipTest("NO_COLOR is set in this environment")
        main, sub = pty.openpty()
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "run_demo.py", "--scenario", "stale_lockfile",
                                 "--disable-trace-log", "--soak-s", "0.5"], cwd=REPO, stdin=sub, stdout=sub,
                                stderr=sub, env={k: v for k, v in os.environ.items() if k != "NO_COLOR"})
        os.close(sub)
        chunks, first_at = [], None
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                ready, _, _ = select.select([main], [], [], 1.0)
                if not ready:
                    if proc.poll() is not None:
                        break
                    continue
                try:
                    data = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                if first_at is None:
                    first_at = time.monotonic() - started
                chunks.append(data)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(main)
        out = b"".join(chunks).decode("utf-8", "replace")
        self.assertIsNotNone(first_at, out)
        self.assertLess(first_at, 1.0, out[:300])
        self.assertEqual(proc.returncode, 0, out[-3000:])
        self.assertIn("\x1b[", out)  # colour on a terminal
        plain = __import__("re").sub(r"\x1b\[[0-9;]*m", "", out)
        verdict = plain[plain.index("RESOLVED (proven)"):]
        self.assertIn("ground truth: stale_lockfile", verdict)           # what was wrong
        self.assertIn("deleted: var/lock/", verdict)                     # what was changed
        self.assertIn("verifier: ", verdict)                             # how it was verified
        self.assertIn("durability: passed", verdict)
        self.assertIn("time: diagnosed after", verdict)


if __name__ == "__main__":
    unittest.main()
