"""Reports over a golden trace log (tests/fixtures/trace_log_v1.jsonl, schema_version 1).

The fixture holds real rows written by the runner (skills, baseline and a wrong-skill run, a run cut
off by --max-iterations 1, a simulated plan) with durations, costs and tokens set to round numbers so
the expected figures below can be checked by hand; plus an interrupted row, a row from an unknown
future schema and a corrupt line, which readers must skip or set apart.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.optimizer.distillation import NOTES_HEADING, distill
from openhands_driver.paths import SKILLS_DIR
from openhands_driver.reports.leaderboard import build, render_markdown, render_text
from openhands_driver.errors import UserError
from openhands_driver.reports.scorecard import APPROACHES, ScorecardConfig, check_sources, scorecard_from_rows
from openhands_driver.reports.scorecard import render_text as render_scorecard
from openhands_driver.reports.stats import percentile, record
from openhands_driver.trace import READABLE_SCHEMA_VERSIONS, read_rows

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "trace_log_v1.jsonl"


class FixtureTest(unittest.TestCase):
    def test_golden_fixture_is_read_by_every_reader(self):
        rows = read_rows(FIXTURE)
        self.assertEqual(len(rows), 10)  # the future-schema row and the corrupt line are skipped
        self.assertEqual({r["schema_version"] for r in rows}, {1})
        self.assertIn(1, READABLE_SCHEMA_VERSIONS)
        self.assertEqual(len([record(r) for r in rows]), 10)

    def test_percentile_interpolates_between_ranks(self):
        self.assertEqual(percentile([2.0, 4.0, 10.0], 50), 4.0)
        self.assertAlmostEqual(percentile([2.0, 4.0, 10.0], 95), 9.4)
        self.assertEqual(percentile([6.0], 95), 6.0)
        self.assertIsNone(percentile([], 50))


class LeaderboardTest(unittest.TestCase):
    def setUp(self):
        self.board = build(FIXTURE)
        self.entries = {(e["skill"], e["scenario"]): e for e in self.board["entries"]}

    def test_totals_exclude_simulated_and_interrupted_rows(self):
        self.assertEqual(self.board["rows_read"], 10)
        self.assertEqual(self.board["runs"], 8)
        self.assertEqual(self.board["simulated_rows_excluded"], 1)
        self.assertEqual(list(self.entries), [
            ("(no skill: baseline)", "port_mismatch"), ("(no skill: baseline)", "readiness_probe_fail"),
            ("(no skill: baseline)", "stale_lockfile"), ("port-mismatch", "port_mismatch"),
            ("readiness-probe-fail", "port_mismatch"), ("stale-lockfile", "stale_lockfile")])

    def test_stale_lockfile_skill_figures(self):
        e = self.entries[("stale-lockfile", "stale_lockfile")]
        self.assertEqual((e["runs"], e["fixed"], e["interrupted"]), (3, 2, 1))
        self.assertEqual(e["success_rate"], 0.667)
        self.assertEqual(e["mean_steps"], 3.0)          # (4 + 4 + 1) / 3
        self.assertEqual((e["p50_s"], e["p95_s"]), (4.0, 9.4))  # durations 2, 4, 10
        self.assertEqual(e["mean_cost_usd"], 0.02)      # (0.01 + 0.03 + 0.02) / 3
        self.assertEqual((e["tokens_in"], e["tokens_out"]), (600, 60))
        self.assertEqual(e["last_failure_run_id"], "fx-skill-stale-3")
        self.assertIn("MaxIterationsReached", e["last_failure"])

    def test_wrong_skill_and_baseline_figures(self):
        wrong = self.entries[("readiness-probe-fail", "port_mismatch")]
        self.assertEqual((wrong["runs"], wrong["fixed"], wrong["success_rate"], wrong["mean_steps"]), (1, 0, 0.0, 2))
        self.assertIn("not_fixed", wrong["last_failure"])
        base = self.entries[("(no skill: baseline)", "port_mismatch")]
        self.assertEqual((base["runs"], base["success_rate"], base["mean_steps"], base["p50_s"]), (1, 1.0, 9, 7.0))
        self.assertIsNone(base["last_failure"])

    def test_renderings(self):
        text = render_text(self.board)
        self.assertIn("8 runs (1 simulated rows excluded)", text)
        self.assertIn("2/3 (67%)", text)
        markdown = render_markdown(self.board).splitlines()
        self.assertTrue(markdown[0].startswith("| skill | scenario | runs |"))
        self.assertEqual(len(markdown), 2 + 6)

    def test_script_json_and_missing_log(self):
        script = REPO / "scripts" / "skill_leaderboard.py"
        proc = subprocess.run([sys.executable, str(script), "--trace-log", str(FIXTURE), "--json"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["entries"], self.board["entries"])
        proc = subprocess.run([sys.executable, str(script), "--trace-log", "/nonexistent.jsonl"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("run_demo.py", proc.stderr)


class FailureCauseTest(unittest.TestCase):
    def test_only_the_skills_own_failures_count_against_it(self):
        from openhands_driver.reports.leaderboard import leaderboard
        from openhands_driver.reports.stats import failure_cause

        def row(run_id, **kw):
            return {"schema_version": 1, "run_id": run_id, "scenario": "s", "skill_id": "k", "mode": "optimized",
                    "strategy_source": "skills", "status": "not_fixed", "service_up": False, "step_count": 3,
                    "duration_s": 5.0, "finished_at": run_id, **kw}

        rows = [row("1", status="fixed", service_up=True),
                row("2"),  # the agent ran its course: the skill's failure
                row("3", actions=[{"tool": "terminal", "command": "remediate", "gate": "rejected"}]),  # gate demo
                row("4", status="error", error="conversation failed: litellm.APIConnectionError: refused"),
                row("5", status="timeout"),
                row("6", status="error", error="target did not start: port in use"),
                row("7", status="interrupted")]
        self.assertEqual([failure_cause(r) for r in rows],
                         [None, "skill", "gate", "model", "budget", "harness", "skill"])
        entry = leaderboard(rows)[0]
        self.assertEqual(entry["runs"], 6)  # the interrupted row is not a run
        self.assertEqual(entry["causes"], {"skill": 1, "gate": 1, "model": 1, "budget": 1, "harness": 1})
        self.assertEqual(entry["success_rate"], round(1 / 6, 3))
        self.assertEqual(entry["skill_success_rate"], 0.5)  # 1 fixed, 1 skill failure
        table = render_text({"trace_log": "t", "runs": 6, "simulated_rows_excluded": 0, "entries": [entry]})
        self.assertIn("skill 1, gate 1, model 1, budget 1, harness 1", table)


class ScorecardTest(unittest.TestCase):
    def test_figures_per_approach_from_its_run_ids(self):
        run_ids = {"baseline": ["fx-baseline-stale-1", "fx-baseline-ready-1", "fx-baseline-port-1"],
                   "optimized-skills": [], "optimized-manual": [],
                   "optimized-gepa": ["fx-skill-stale-1", "fx-skill-stale-2", "fx-skill-stale-3", "fx-simulated-1"],
                   "optimized-iterative": []}
        card = scorecard_from_rows(read_rows(FIXTURE), run_ids,
                                   missing={"optimized-iterative": "no result file at x"})
        by_name = {a["name"]: a for a in card["approaches"]}
        self.assertEqual(list(by_name), list(APPROACHES))
        base = by_name["baseline"]
        self.assertEqual((base["runs"], base["success_rate"], base["mean_steps"]), (3, 1.0, 7.667))
        self.assertEqual((base["p50_s"], base["p95_s"]), (5.0, 6.8))  # durations 3, 5, 7
        gepa = by_name["optimized-gepa"]
        self.assertEqual((gepa["runs"], gepa["fixed"], gepa["success_rate"]), (3, 2, 0.667))
        self.assertEqual(by_name["optimized-manual"]["runs"], 0)
        self.assertEqual(by_name["optimized-iterative"]["missing"], "no result file at x")
        self.assertIsNone(base["resolved_rate"])  # schema-1 rows from before the proof: not claimed
        table = render_scorecard(card)
        self.assertIn("MISSING", table)
        self.assertIn("optimized-iterative: no result file at x", table)

    def test_blind_figures_resolved_rate_and_diagnosis_accuracy(self):
        def row(run_id, resolved, correct, steps):
            return {"run_id": run_id, "scenario": "stale_lockfile", "status": "fixed" if resolved else "not_fixed",
                    "service_up": resolved, "resolved": resolved, "step_count": steps, "duration_s": 1.0,
                    "blind": True, "diagnosis": {"correct": correct}, "actions": []}
        rows = [row("b1", False, False, 5), row("b2", False, False, 5), row("s1", True, True, 7),
                row("s2", False, True, 9)]
        card = scorecard_from_rows(rows, {"baseline": ["b1", "b2"], "optimized-skills": ["s1", "s2"]})
        card.update({"blind": True, "seeds": [100, 101], "scenarios": ["stale_lockfile"]})
        by_name = {a["name"]: a for a in card["approaches"]}
        self.assertEqual((by_name["baseline"]["resolved_rate"], by_name["baseline"]["diagnosis_accuracy"]), (0.0, 0.0))
        skills = by_name["optimized-skills"]
        self.assertEqual((skills["resolved"], skills["resolved_rate"], skills["diagnosis_accuracy"],
                          skills["mean_steps"]), (1, 0.5, 1.0, 8))
        table = render_scorecard(card)
        self.assertIn("blind incidents of stale_lockfile x seeds 100-101", table)
        self.assertIn("1/2 (50%)", table)

    def test_blind_needs_seeds_and_seeds_need_blind(self):
        from openhands_driver.reports.scorecard import run_scorecard

        for config in (ScorecardConfig(blind=True), ScorecardConfig(seeds=(1, 2))):
            with self.assertRaises(UserError):
                run_scorecard(config)

    def test_short_approach_names_are_accepted(self):
        from openhands_driver.reports.scorecard import approach_names, run_scorecard

        self.assertEqual(approach_names(["skills", "baseline", "optimized-skills", "gepa"]),
                         ("optimized-skills", "baseline", "optimized-gepa"))
        with self.assertRaises(UserError) as caught:
            run_scorecard(ScorecardConfig(approaches=("skills", "nope")))
        self.assertIn("unknown approach(es) nope", str(caught.exception))  # skills itself is fine

    def test_missing_result_files_are_reported_with_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing, sources = check_sources(ScorecardConfig(gepa_result=Path(tmp) / "g.json",
                                                             iterative_result=Path(tmp) / "i.json"))
        self.assertEqual(set(missing), {"optimized-gepa", "optimized-iterative"})
        self.assertIn("optimize.py --optimizer gepa --output", missing["optimized-gepa"])
        self.assertIn("optimize.py --optimizer iterative --output", missing["optimized-iterative"])
        self.assertEqual(sources, {})


class DistillationTest(unittest.TestCase):
    def test_proposals_and_diff_never_touch_the_skills(self):
        before = {p: p.read_bytes() for p in SKILLS_DIR.glob("*/SKILL.md")}
        with tempfile.TemporaryDirectory() as tmp:
            summary = distill(FIXTURE, tmp)
            stale = summary["skills"]["stale-lockfile"]
            self.assertTrue(stale["proposed"])
            self.assertEqual((stale["skill_runs"], stale["skill_fixed"]), (3, 2))
            self.assertEqual(stale["sequence"], ["python3 .agents/skills/stale-lockfile/diagnose.py",
                                                 "python3 .agents/skills/stale-lockfile/remediate.py",
                                                 "targetctl status"])
            # schema-1 rows predate the skills' Signals: no triage check is credited from them
            self.assertNotIn("found_by", stale)
            self.assertFalse(summary["skills"]["bad-env-config"]["proposed"])
            proposed = Path(stale["file"]).read_text()
            self.assertIn(NOTES_HEADING, proposed)
            self.assertTrue(proposed.startswith(before[SKILLS_DIR / "stale-lockfile" / "SKILL.md"].decode()
                                                .rstrip()))
            diff = Path(summary["diff"]).read_text()
            self.assertIn("+++ b/.agents/skills/stale-lockfile/SKILL.md", diff)
            self.assertTrue(Path(tmp, Path(summary["proposal_dir"]).name, "proposals.json").exists())
        self.assertEqual(before, {p: p.read_bytes() for p in SKILLS_DIR.glob("*/SKILL.md")})


class ResumedRunsTest(unittest.TestCase):
    """A paused row and the row that resumed it are one run; a paused run alone is not a run."""

    def test_paused_and_resumed_rows_combine(self) -> None:
        from openhands_driver.reports.stats import records, summarize

        base = {"schema_version": 2, "scenario": "stale_lockfile", "mode": "optimized", "strategy_source": "skills",
                "skill_id": None, "simulate": False}
        rows = [{**base, "run_id": "p", "status": "paused", "service_up": None, "step_count": 8, "duration_s": 20.0,
                 "tokens": {"input": 5, "output": 1}, "conversation_id": "c"},
                {**base, "run_id": "r", "status": "fixed", "service_up": True, "step_count": 3, "duration_s": 10.0,
                 "tokens": {"input": 2, "output": 1}, "conversation_id": "c", "resumed_from": "p"},
                {**base, "run_id": "alone", "status": "paused", "service_up": None, "step_count": 4, "duration_s": 5.0}]
        items, bad = records(rows)
        self.assertEqual(bad, 0)
        self.assertEqual([(r.run_id, r.steps, r.duration_s, r.tokens_in) for r in items],
                         [("r", 11, 30.0, 7), ("alone", 4, 5.0, 0)])
        stats = summarize(items)
        self.assertEqual((stats.runs, stats.fixed, stats.mean_steps), (1, 1, 11))


if __name__ == "__main__":
    unittest.main()
