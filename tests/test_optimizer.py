"""The optimizer lane: candidates, scoring, trace mining, the proposer, the result file, and real
GEPA / iterative optimizations over real incident runs (local targets, runbook brain, real verifier).

The live class imports the SDK once and runs about 25 real incidents (~1.5 min): GEPA and the iterative
baseline each get the same budget (10 runs) on two scenarios, from a deliberately poor seed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from statistics import mean

from openhands_driver.errors import UserError
from openhands_driver.optimizer.candidate import (COMPONENT, as_candidate, candidate_id, check_text,
                                                  diagnose_commands, with_diagnose)
from openhands_driver.optimizer.mining import Evidence, attribute, mine
from openhands_driver.optimizer.proposer import Proposer
from openhands_driver.optimizer.result import REQUIRED_KEYS, load, load_best_strategy, save, validate
from openhands_driver.optimizer.score import score_row
from openhands_driver.router import RoutingDecision
from openhands_driver.strategy import choose_strategy
from openhands_driver.trace import read_rows
from tests.support.runs import NullConsole as _Quiet

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "trace_log_v1.jsonl"
SCENARIOS = ("stale_lockfile", "port_mismatch")
BUDGET = 10

# A deliberately poor seed: every check of the generic checklist, the useless ones first and the
# health probe (which names the fault) nearly last.
POOR_SEED = """# Triage checklist (unordered)

Work the checklist top to bottom with `targetctl`; stop once the evidence explains the failure,
apply the smallest fix it supports, then verify.

## Diagnose
```bash
targetctl exec cat etc/service.env
targetctl logs -n 50
targetctl exec cat etc/service.env.example
targetctl info
targetctl exec cat etc/service.json
targetctl status
targetctl exec ls -la var/lock var/run
```

## Verify
```bash
targetctl status
```
"""
NO_ROUTE = RoutingDecision(None, "none", "test")


def _fixture_rows() -> list[dict]:
    return read_rows(FIXTURE)


class CandidateTest(unittest.TestCase):
    def test_rewrite_changes_only_the_diagnose_block(self):
        new = with_diagnose(POOR_SEED, ["targetctl status", "targetctl info"], {"targetctl status": "first"})
        self.assertEqual(diagnose_commands(new), ["targetctl status", "targetctl info"])
        self.assertIn("# first\ntargetctl status", new)
        self.assertEqual(new.split("## Diagnose")[0], POOR_SEED.split("## Diagnose")[0])
        self.assertIn("## Verify\n```bash\ntargetctl status\n```", new)

    def test_rewrite_adds_a_diagnose_section_when_missing(self):
        new = with_diagnose("# T\n\n## Verify\n```bash\ntargetctl status\n```\n", ["targetctl status"])
        self.assertEqual(diagnose_commands(new), ["targetctl status"])
        self.assertLess(new.index("## Diagnose"), new.index("## Verify"))

    def test_invalid_texts_are_named(self):
        self.assertIn("runbook> tags", check_text("<runbook>x</runbook>"))
        self.assertIn("Diagnose", check_text("# nothing to run"))
        self.assertIsNone(check_text(POOR_SEED))
        self.assertEqual(candidate_id(POOR_SEED), candidate_id(POOR_SEED + "\n\n"))


class ScoreAndMiningTest(unittest.TestCase):
    def test_score_orders_fixed_first_then_fewer_steps_then_risk(self):
        fixed_short = score_row({"service_up": True, "step_count": 5, "actions": []})
        fixed_long = score_row({"service_up": True, "step_count": 10, "actions": []})
        fixed_risky = score_row({"service_up": True, "step_count": 5, "actions": [{"risk": "HIGH"}]})
        broken = score_row({"service_up": False, "step_count": 2, "actions": []})
        self.assertEqual(fixed_short.value, 0.9375)
        self.assertEqual(fixed_long.value, 0.875)
        self.assertAlmostEqual(fixed_risky.value, 0.7375)
        self.assertEqual(fixed_risky.max_risk, "HIGH")
        self.assertEqual(broken.value, 0.0)
        self.assertGreater(fixed_risky.value, broken.value)

    def test_attribution_finds_the_checks_that_found_each_fault(self):
        rows = {r["run_id"]: r for r in _fixture_rows()}
        stale = attribute(rows["fx-baseline-stale-1"])
        self.assertTrue(stale.fixed)
        self.assertEqual(stale.needed, ("targetctl status", "targetctl exec ls -la var/lock var/run"))
        self.assertEqual(stale.wasted, ("targetctl logs -n 50", "targetctl info"))
        self.assertEqual(stale.fix, ("targetctl exec rm -f var/lock/service.lock",))
        port = attribute(rows["fx-baseline-port-1"])
        self.assertEqual(set(port.needed), {"targetctl status", "targetctl info",
                                            "targetctl exec cat etc/service.json"})
        wrong = attribute(rows["fx-wrong-skill-port-1"])
        self.assertFalse(wrong.fixed)
        self.assertIn("not_fixed", wrong.failure)

    def test_mining_skips_simulated_rows(self):
        evidence = mine(_fixture_rows())
        run_ids = {a.run_id for runs in evidence.by_scenario.values() for a in runs}
        self.assertNotIn("fx-simulated-1", run_ids)
        self.assertEqual(evidence.needed_set("readiness_probe_fail"),
                         ("targetctl status", "targetctl exec ls -la var/lock var/run"))

    def test_proposer_puts_finding_checks_first_and_keeps_the_rest_as_fallback(self):
        evidence = mine(_fixture_rows())
        proposer = Proposer(evidence, ["stale_lockfile", "readiness_probe_fail", "port_mismatch"])
        variants = dict(proposer.variants(POOR_SEED))
        first = diagnose_commands(variants["evidence-first"])
        self.assertEqual(first[:4], ["targetctl status", "targetctl exec ls -la var/lock var/run",
                                     "targetctl info", "targetctl exec cat etc/service.json"])
        self.assertEqual(sorted(first), sorted(diagnose_commands(POOR_SEED)))
        lean = diagnose_commands(variants["lean"])
        self.assertNotIn("targetctl logs -n 50", lean)
        update = proposer(as_candidate(POOR_SEED), {COMPONENT: []}, [COMPONENT])
        self.assertEqual(update[COMPONENT], variants["evidence-first"])
        self.assertEqual(proposer(as_candidate(POOR_SEED), {}, [COMPONENT])[COMPONENT], variants["lean"])
        self.assertEqual(proposer(as_candidate(POOR_SEED), {}, [COMPONENT]), {})  # nothing new left
        self.assertTrue(proposer.exhausted([POOR_SEED]))

    def test_no_evidence_no_proposal(self):
        self.assertEqual(Proposer(Evidence(), ["stale_lockfile"]).variants(POOR_SEED), [])


class ResultFileTest(unittest.TestCase):
    def test_missing_result_names_the_command_to_create_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "best_hint.json"
            with self.assertRaises(UserError) as caught:
                choose_strategy("optimized", "optimizer", NO_ROUTE, optimizer_result=path)
            self.assertIn(f"uv run python optimize.py --optimizer gepa --output {path}", str(caught.exception))
            path.write_text("{}")
            with self.assertRaises(UserError) as caught:
                load(path)
            self.assertIn("missing key", str(caught.exception))

    def test_explicit_text_and_saved_best(self):
        strategy = choose_strategy("optimized", "optimizer", NO_ROUTE, strategy_text=POOR_SEED)
        self.assertEqual((strategy.source, strategy.runbook_text), ("optimizer", POOR_SEED.strip()))
        self.assertFalse(strategy.load_skills)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "r.json"
            data = {key: None for key in REQUIRED_KEYS} | {
                "seed_candidate": as_candidate(POOR_SEED), "best_candidate": as_candidate("# B\n## Diagnose\n"
                "```bash\ntargetctl status\n```"), "candidates": [], "run_ids": [], "metric_calls": 0}
            self.assertEqual(validate(data), [])
            save(data, path)
            self.assertEqual(diagnose_commands(load_best_strategy(path)), ["targetctl status"])
            strategy = choose_strategy("optimized", "optimizer", NO_ROUTE, optimizer_result=path)
            self.assertEqual(strategy.runbook_name, "optimizer:r.json")


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "optimize.py"), *args], cwd=REPO,
                              capture_output=True, text=True, timeout=60)

    def test_simulate_is_a_marked_plan_without_sdk_or_scores(self):
        with tempfile.TemporaryDirectory() as tmp:
            output = Path(tmp) / "never.json"
            proc = self.run_cli("--simulate", "--json", "--scenarios", "stale_lockfile,port_mismatch",
                                "--output", str(output), "--trace-log", str(FIXTURE))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            plan = json.loads(proc.stdout)
            self.assertTrue(plan["simulate"])
            self.assertIn("no score", plan["note"])
            self.assertNotIn("best_score", plan)
            self.assertEqual(plan["scenarios"], ["stale_lockfile", "port_mismatch"])
            self.assertEqual(plan["seed_diagnose"][0], "targetctl status")
            self.assertGreater(plan["mined_runs"], 0)
            self.assertFalse(output.exists())
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; from openhands_driver.optimizer.cli import main; "
             "main(['--simulate', '--json']); print(sorted(m for m in sys.modules if m.startswith("
             "('openhands.sdk', 'litellm', 'gepa'))))"],
            cwd=REPO, capture_output=True, text=True, timeout=60)
        self.assertEqual(probe.stdout.strip().splitlines()[-1], "[]")

    def test_bad_input_exits_2_without_traceback(self):
        for args in (["--scenarios", "nope", "--simulate"], ["--seed-strategy", "/nonexistent.md"],
                     ["--max-metric-calls", "1", "--scenarios", "stale_lockfile,port_mismatch"]):
            proc = self.run_cli(*args)
            self.assertEqual(proc.returncode, 2, args)
            self.assertIn("error:", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)


class LiveOptimizationTest(unittest.TestCase):
    """Real optimizations: every score below comes from real incident runs."""

    @classmethod
    def setUpClass(cls):
        from openhands_driver.optimizer.config import OptimizerConfig
        from openhands_driver.optimizer.session import optimize

        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        (root / "poor.md").write_text(POOR_SEED)
        cls.eval_log = root / "evaluations.jsonl"
        cls.results = {}
        for optimizer in ("gepa", "iterative"):
            config = OptimizerConfig(optimizer=optimizer, scenarios=SCENARIOS, seed_strategy=root / "poor.md",
                                     trace_log=root / "no-mined-traces.jsonl", eval_trace_log=cls.eval_log,
                                     max_metric_calls=BUDGET, output=root / f"{optimizer}.json")
            cls.results[optimizer] = optimize(config, console=_Quiet())
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_one(self, scenario: str, **kw):
        from openhands_driver.config import RunConfig
        from openhands_driver.runner import run_incident

        return run_incident(RunConfig(scenario=scenario, trace_log=self.root / "checks.jsonl",
                                      verify_interval_s=0.3, **kw), console=_Quiet())

    def test_gepa_improves_the_poor_seed_measured_by_rerunning_it(self):
        result = self.results["gepa"]
        self.assertEqual(result["engine"], "gepa.optimize")
        self.assertGreater(result["best_score"], result["seed_score"])
        seed_steps = mean(result["by_scenario"][s]["seed"]["mean_steps"] for s in SCENARIOS)
        self.assertTrue(all(result["by_scenario"][s]["seed"]["fixed"] for s in SCENARIOS))
        best_text = result["best_candidate"][COMPONENT]
        reruns = [self.run_one(s, strategy_source="optimizer", strategy_text=best_text) for s in SCENARIOS]
        self.assertTrue(all(r.status == "fixed" and r.service_up for r in reruns), [r.status for r in reruns])
        self.assertLess(mean(r.step_count for r in reruns), seed_steps)

    def test_iterative_runs_under_the_same_budget(self):
        result = self.results["iterative"]
        self.assertEqual((result["optimizer"], result["engine"]), ("iterative", "iterative"))
        self.assertLessEqual(result["metric_calls"], BUDGET)
        self.assertGreaterEqual(result["best_score"], result["seed_score"])
        self.assertTrue(result["stop_reason"])

    def test_output_files_validate_and_every_run_id_has_its_trace_row(self):
        rows = {r["run_id"]: r for r in read_rows(self.eval_log)}
        for optimizer, result in self.results.items():
            with self.subTest(optimizer=optimizer):
                saved = json.loads(Path(result["output"]).read_text())
                self.assertEqual(validate(saved), [])
                self.assertEqual(set(REQUIRED_KEYS) - set(saved), set())
                self.assertLessEqual(saved["metric_calls"], BUDGET)
                self.assertEqual(len(saved["run_ids"]), saved["metric_calls"])
                for run_id in saved["run_ids"]:
                    self.assertIn(run_id, rows)
                    self.assertEqual(rows[run_id]["strategy_source"], "optimizer")
                self.assertTrue(all(isinstance(c["score"], float) for c in saved["candidates"]))
                seed = next(c for c in saved["candidates"] if c["origin"] == "seed")
                self.assertEqual(seed["score"], saved["seed_score"])
                for scenario in SCENARIOS:  # scores recomputed from the trace rows themselves
                    runs = saved["by_scenario"][scenario]["best"]["run_ids"]
                    expected = mean(score_row(rows[r]).value for r in runs)
                    self.assertAlmostEqual(saved["by_scenario"][scenario]["best"]["score"], expected, places=5)

    def test_strategy_source_optimizer_runs_the_saved_best(self):
        from openhands_driver.config import RunConfig
        from openhands_driver.runner import plan_incident

        path = Path(self.results["gepa"]["output"])
        best_text = self.results["gepa"]["best_candidate"][COMPONENT].strip()
        config = RunConfig(scenario="stale_lockfile", strategy_source="optimizer", optimizer_result=path)
        self.assertIn(best_text, plan_incident(config).message)
        result = self.run_one("stale_lockfile", strategy_source="optimizer", optimizer_result=path)
        self.assertEqual((result.status, result.strategy_source), ("fixed", "optimizer"))
        executed = [a.command for a in result.actions if a.tool == "terminal"]
        best_order = diagnose_commands(best_text)
        self.assertEqual(executed[:2], best_order[:2])

    def test_scorecard_compares_the_approaches_in_one_sitting(self):
        from openhands_driver.reports.scorecard import ScorecardConfig, run_scorecard

        card = run_scorecard(ScorecardConfig(
            scenarios=("stale_lockfile",), gepa_result=Path(self.results["gepa"]["output"]),
            iterative_result=self.root / "missing.json", trace_log=self.root / "scorecard.jsonl",
            verify_interval_s=0.3), console=_Quiet())
        by_name = {a["name"]: a for a in card["approaches"]}
        self.assertEqual(list(by_name), ["baseline", "optimized-manual", "optimized-gepa", "optimized-iterative"])
        for name in ("baseline", "optimized-manual", "optimized-gepa"):
            self.assertEqual((by_name[name]["runs"], by_name[name]["success_rate"]), (1, 1.0), name)
        self.assertLess(by_name["optimized-gepa"]["mean_steps"], by_name["baseline"]["mean_steps"])
        self.assertEqual(by_name["optimized-iterative"]["runs"], 0)
        self.assertIn("optimize.py --optimizer iterative", by_name["optimized-iterative"]["missing"])


class _ReflectionStub:
    """A local OpenAI-compatible endpoint that plays GEPA's reflection LM: it records the prompt and
    answers with a fixed runbook (status and the lock listing first) inside one ``` block."""

    REPLY = "Improved runbook:\n```\n" + with_diagnose(POOR_SEED, [
        "targetctl status", "targetctl exec ls -la var/lock var/run", "targetctl info",
        "targetctl exec cat etc/service.json"]) + "```\n"

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading

        stub = self
        self.prompts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_POST(self):  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                stub.prompts.append(request["messages"][-1]["content"])
                body = json.dumps({"id": "r1", "object": "chat.completion", "created": 0, "model": "stub",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant", "content": stub.REPLY}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class ReflectionModelTest(unittest.TestCase):
    """GEPA's own reflection-LM path (litellm) against a local stub: the feedback from the traces
    reaches the model, and the text it proposes is measured with real runs like any other."""

    def test_gepa_reflection_lm_path(self):
        from openhands_driver.optimizer.config import OptimizerConfig
        from openhands_driver.optimizer.session import optimize

        with tempfile.TemporaryDirectory() as tmp, _ReflectionStub() as stub:
            root = Path(tmp)
            (root / "poor.md").write_text(POOR_SEED)
            result = optimize(OptimizerConfig(
                optimizer="gepa", scenarios=SCENARIOS, seed_strategy=root / "poor.md",
                trace_log=root / "none.jsonl", eval_trace_log=root / "eval.jsonl", max_metric_calls=6,
                output=root / "lm.json", reflection_lm="openai/reflection-stub",
                reflection_base_url=stub.base_url), console=_Quiet())
            self.assertEqual(result["proposer"], "reflection_lm:openai/reflection-stub")
            self.assertEqual(len(stub.prompts), 1)
            self.assertIn("The fault was found by", stub.prompts[0])
            self.assertIn("targetctl exec cat etc/service.env", stub.prompts[0])
            self.assertEqual(result["metric_calls"], 6)
            self.assertGreater(result["best_score"], result["seed_score"])
            self.assertEqual(diagnose_commands(result["best_candidate"][COMPONENT])[0], "targetctl status")


if __name__ == "__main__":
    unittest.main()
