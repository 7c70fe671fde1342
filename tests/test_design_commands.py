"""The reference design's documented commands (issue "The reference design's documented commands work
as written"), run as written on this machine: offline with the runbook brain, the local ITBench
sample instead of the git URL, a local agent server instead of the public image.

Where a command's size is a flag (--sample-size, --incidents), a smaller one is used; where a command
needs a saved optimizer result, the optimizer lane runs first with a small budget (flags added to the
two `optimize.py` commands and noted below); everything else is the design's text, character for
character, with PORT replaced by the local agent server's port. Each run writes into a temporary
artifacts directory (SRE_ARTIFACTS_DIR), never into the checkout. Commands are our own fixed strings,
split into argv lists: nothing goes through a shell.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.remote import LocalAgentServer
from openhands_driver.sandbox import bwrap

REPO = Path(__file__).resolve().parent.parent
SHARED_ITBENCH = REPO.parent / "shared" / "itbench"
HAVE_SERVER = LocalAgentServer.available()
BWRAP_PROBLEM = bwrap.unavailable_reason()
NEEDS_BWRAP = f"needs bubblewrap ({BWRAP_PROBLEM}; apt-get install bubblewrap)"


def _engine_problem() -> str | None:
    from openhands_driver.target.docker_engine import engine_problem

    return engine_problem()


class _Commands(unittest.TestCase):
    tmp: tempfile.TemporaryDirectory
    env: dict

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="design-commands-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.artifacts = Path(cls.tmp.name) / "artifacts"
        cls.env = {**os.environ, "SRE_ARTIFACTS_DIR": str(cls.artifacts)}

    def run_cmd(self, text: str, *, timeout: float = 600, expect=(0,)) -> subprocess.CompletedProcess:
        argv = shlex.split(text)
        self.assertEqual(argv[:3], ["uv", "run", "python"], text)
        proc = subprocess.run([sys.executable, *argv[3:]], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        self.assertIn(proc.returncode, expect, f"{text}\n--- stderr ---\n{proc.stderr[-3000:]}")
        self.assertNotIn("unrecognized arguments", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        return proc

    def report(self, relative: str) -> dict:
        path = REPO / relative if not relative.startswith("/") else Path(relative)
        self.assertTrue(path.is_file(), path)
        return json.loads(path.read_text())

    def out(self, name: str) -> str:
        return str(Path(self.tmp.name) / name)


class DryRunCommandsTest(_Commands):
    """Plans and dry runs: no SDK import, nothing started."""

    def test_run_demo_plans(self):
        for text in ("uv run python run_demo.py --mode optimized --strategy-source skills --scenario stale_lockfile --simulate",
                     "uv run python run_demo.py --mode optimized --strategy-source skills --skill-id port-mismatch --scenario port_mismatch --simulate",
                     "uv run python run_demo.py --mode baseline --scenario stale_lockfile --simulate"):
            with self.subTest(text=text):
                self.assertIn("DRY RUN", self.run_cmd(text).stdout)

    def test_fanout_plans(self):
        self.run_cmd("uv run python scripts/fanout_itbench.py --training-data training_data/atlas_sre_scenarios.json "
                     f"--sample-size 12 --concurrency 4 --simulate --output {self.out('itbench_fanout_sim.json')}")
        self.assertEqual(self.report(self.out("itbench_fanout_sim.json"))["summary"]["total"], 12)
        self.run_cmd("uv run python scripts/fanout_sre.py --simulate --mode optimized --optimizer gepa --incidents 24 --concurrency 6")
        self.run_cmd("uv run python scripts/fanout_sre.py --simulate --continuous --duration-s 30 --arrival-rate 3 --concurrency 6 --optimizer iterative")
        self.run_cmd("uv run python scripts/fanout_live_demo.py --simulate --mode optimized --optimizer gepa --incidents 12 --concurrency 4")
        self.run_cmd('uv run python scripts/fanout_dashboard.py --simulate --incidents 12 --concurrency 4 --optimizer gepa '
                     '--trace-url-template "https://trace.example/runs/{run_id}/incidents/{incident_id}"')
        proc = self.run_cmd("uv run python scripts/approach_scorecard.py --simulate")
        self.assertIn("DRY RUN", proc.stdout)
        self.assertIn("no results are claimed", proc.stdout)

    def test_benchmark_sample_and_import(self):
        self.run_cmd("uv run python scripts/benchmark_itbench_sample.py --training-data training_data/atlas_sre_scenarios.json "
                     f"--sample-size 20 --mode optimized --output {self.out('itbench_sample_optimized.json')}")
        self.assertEqual(self.report(self.out("itbench_sample_optimized.json"))["summary"]["total"], 20)
        if not SHARED_ITBENCH.is_dir():
            self.skipTest(f"no ITBench checkout at {SHARED_ITBENCH}")
        catalog = self.out("atlas.json")
        self.run_cmd(f"uv run python scripts/import_itbench_sre.py --source {SHARED_ITBENCH} --source-subdir scenarios/sre "
                     f"--output {catalog}")
        self.assertEqual(self.report(catalog)["schema_version"], 2)

    def test_real_model_demo_without_a_model_stops_at_once(self):
        env = {k: v for k, v in self.env.items() if k not in ("LLM_MODEL", "LLM_API_KEY")}
        proc = subprocess.run([sys.executable, "scripts/demo_sequence.py", "--real"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("LLM_MODEL", proc.stderr)


@unittest.skipIf(BWRAP_PROBLEM, NEEDS_BWRAP)
class OptimizerLaneCommandsTest(_Commands):
    """The optimizer lane: `optimize.py --optimizer gepa|iterative` (with a small budget added:
    `--faults stale_lockfile --train-seeds 0 --val-seeds none --max-metric-calls 2`), then the
    commands that run its saved result."""

    SMALL = " --faults stale_lockfile --train-seeds 0 --val-seeds none --max-metric-calls 2"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for optimizer in ("gepa", "iterative"):
            proc = subprocess.run([sys.executable, *shlex.split(f"optimize.py --optimizer {optimizer}" + cls.SMALL)],
                                  cwd=REPO, env=cls.env, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise AssertionError(f"optimize.py --optimizer {optimizer} failed:\n{proc.stderr[-3000:]}")

    def test_results_carry_the_design_fields(self):
        for name in ("best_hint.json", "best_hint_iterative.json"):
            result = json.loads((self.artifacts / "gepa" / name).read_text())
            for key in ("hint", "score", "optimizer", "timestamp", "scenario_breakdown"):
                self.assertIn(key, result)

    def test_runs_with_the_saved_result(self):
        for text in ("uv run python run_demo.py --mode optimized --optimizer gepa --scenario stale_lockfile --simulate",
                     "uv run python run_demo.py --mode optimized --strategy-source optimizer --optimizer gepa "
                     "--training-data training_data/atlas_sre_scenarios.json --scenario stale_lockfile --simulate"):
            with self.subTest(text=text):
                proc = self.run_cmd(text)
                self.assertIn("strategy: optimizer", proc.stdout)
        # confirmations at MEDIUM with nobody to approve: the remediation is rejected, the run ends cleanly
        proc = self.run_cmd("uv run python run_demo.py --mode optimized --optimizer gepa --scenario stale_lockfile "
                            "--max-security-risk MEDIUM --require-confirmation-for-risk MEDIUM", expect=(0, 1))
        self.assertIn("REJECTED by the operator", proc.stderr + proc.stdout)
        self.run_cmd("uv run python scripts/fanout_sre.py --mode optimized --optimizer gepa --incidents 3 --concurrency 3")


@unittest.skipIf(BWRAP_PROBLEM, NEEDS_BWRAP)
class LocalRunCommandsTest(_Commands):
    def test_single_incidents(self):
        for text in ("uv run python run_demo.py --mode optimized --strategy-source skills --scenario stale_lockfile",
                     "uv run python run_demo.py --mode optimized --scenario stale_lockfile --allow-fallback",
                     "uv run python run_demo.py --mode optimized --strategy-source skills --scenario stale_lockfile "
                     "--verify-consecutive-successes 3 --verify-max-attempts 8"):
            with self.subTest(text=text):
                self.assertTrue(self.run_cmd(text).stdout.startswith("RESOLVED (proven)"))

    def test_fanouts_and_benchmarks(self):
        out = self.out("itbench_real_sample.json")
        self.run_cmd("uv run python scripts/benchmark_itbench_real.py --training-data training_data/atlas_sre_scenarios.json "
                     f"--sample-size 2 --run-timeout-s 90 --subprocess-timeout-s 190 --output {out}")
        self.assertEqual(self.report(out)["summary"]["total"], 2)
        out = self.out("itbench_fanout.json")
        self.run_cmd("uv run python scripts/fanout_itbench.py --training-data training_data/atlas_sre_scenarios.json "
                     f"--sample-size 3 --concurrency 3 --run-timeout-s 90 --subprocess-timeout-s 190 --output {out}")
        report = self.report(out)
        self.assertEqual(report["summary"]["total"], 3)
        self.assertEqual(report["summary"]["fixed"], 3)


@unittest.skipUnless(HAVE_SERVER, "needs the optional extra `remote` (uv sync --locked --extra remote)")
@unittest.skipIf(BWRAP_PROBLEM, NEEDS_BWRAP)
class AgentServerCommandsTest(_Commands):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = LocalAgentServer()
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.port = cls.server.url.rsplit(":", 1)[1]
        cls.workdir = Path(cls.tmp.name) / "workspace" / "inc-001"  # the design's /workspace/inc-001, here

    def test_run_on_the_agent_server_in_the_given_working_dir(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "notes.txt").write_text("the operator's own file")
        proc = self.run_cmd("uv run python run_demo.py --mode optimized --strategy-source skills --scenario stale_lockfile "
                            f"--remote-host http://127.0.0.1:{self.port} --remote-working-dir {self.workdir} --json")
        self.assertTrue(json.loads(proc.stdout)["resolved"])
        # what was there stays; what the run put there (skills, the SDK's files) is gone
        self.assertEqual(sorted(p.name for p in self.workdir.iterdir()), ["notes.txt"])
        self.assertTrue(self.workdir.is_dir())  # the given directory itself is kept

    def test_isolated_fanout(self):
        out = self.out("fanout_isolated.json")
        self.run_cmd(f"uv run python scripts/fanout_isolated.py --incidents 2 --concurrency 2 "
                     f"--remote-host http://127.0.0.1:{self.port} --output {out}")
        self.assertEqual(self.report(out)["summary"]["total"], 2)


@unittest.skipIf(BWRAP_PROBLEM, NEEDS_BWRAP)
class DockerDemoCommandsTest(_Commands):
    @classmethod
    def setUpClass(cls):
        problem = _engine_problem()
        if problem:
            raise unittest.SkipTest(f"needs a Docker engine ({problem}); scripts/docker_engine.sh up")
        super().setUpClass()

    def test_orchestrated_commands(self):
        proc = self.run_cmd("uv run python scripts/fanout_orchestrated_remote.py --mode optimized --optimizer gepa "
                            "--incidents 6 --concurrency 3 --simulate")
        self.assertEqual(proc.stderr.count(" -> worker-"), 6)  # three workers, each incident assigned
        # an image this engine does not have cannot be pulled here: at once, one line, exit 2
        proc = self.run_cmd("uv run python scripts/fanout_orchestrated_remote.py --mode optimized --incidents 6 "
                            "--concurrency 3 --agent-image IMAGE", expect=(2,))
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("--agent-image IMAGE is not in the local Docker engine", proc.stderr)

    def test_start_demo_commands(self):
        self.run_cmd("uv run python scripts/start_demo.py --demo-security-gates")
        self.run_cmd("uv run python scripts/start_demo.py --mode optimized --scenario stale_lockfile --allow-local-workspace")
        self.run_cmd("uv run python scripts/start_demo.py --skip-build --simulate")
        proc = self.run_cmd("uv run python scripts/start_demo.py --keep-container --json")
        kept = json.loads(proc.stdout)["target"]
        self.assertTrue(kept.get("kept"), kept)
        import docker

        container = docker.from_env().containers.get(kept["container"])  # kept: still there
        container.remove(force=True)


@unittest.skipIf(BWRAP_PROBLEM, NEEDS_BWRAP)
class DemoSequenceCommandTest(_Commands):
    def test_the_narrated_demo_runs_offline(self):
        proc = self.run_cmd("uv run python scripts/demo_sequence.py", timeout=1200)
        for step in ("baseline", "skills", "gates", "blind", "optimizer", "fanout", "scorecard"):
            self.assertIn(f"/7 {step} ===", proc.stderr)
        plots = list((self.artifacts / "demo_sequence").glob("plots-*/scorecard_success.png"))
        self.assertEqual(len(plots), 1)
        self.assertEqual(plots[0].read_bytes()[:8], b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main()
