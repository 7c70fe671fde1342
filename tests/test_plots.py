"""Plots from the golden trace log (tests/fixtures/trace_log_v1.jsonl) and from a bench report:
the files exist, are not empty, are the type their name says (magic bytes), and the run points they
are drawn from are the right ones."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from openhands_driver.reports import plots
from openhands_driver.trace import read_rows

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "trace_log_v1.jsonl"
PNG = b"\x89PNG\r\n\x1a\n"


def assert_image(test: unittest.TestCase, path: Path, fmt: str) -> None:
    test.assertTrue(path.is_file(), path)
    data = path.read_bytes()
    test.assertGreater(len(data), 1000, f"{path} is too small to hold a plot")
    if fmt == "png":
        test.assertTrue(data.startswith(PNG), f"{path} is not a PNG: {data[:8]!r}")
    else:
        head = data[:400].decode("utf-8", "replace")
        test.assertTrue(head.startswith("<?xml") and "<svg" in head, f"{path} is not an SVG: {head[:80]!r}")


class PointsTest(unittest.TestCase):
    def test_runs_grouped_by_approach_and_skill(self):
        rows = read_rows(FIXTURE)
        by_approach = plots.group_points(plots.points_from_trace(rows))
        # simulated and interrupted rows are not runs
        self.assertEqual({k: len(v) for k, v in by_approach.items()},
                         {"baseline": 3, "optimized-skills": 5})
        skills = plots.group_points(plots.points_from_trace(rows, plots.skill_group))
        self.assertEqual(len(skills["stale-lockfile"]), 3)
        self.assertEqual(sum(p.fixed for p in skills["stale-lockfile"]), 2)
        # MTTR only for fixed runs (duration_s when the row has no mttr_s)
        self.assertEqual(sorted(p.mttr_s for p in skills["stale-lockfile"] if p.mttr_s is not None), [2.0, 4.0])
        self.assertIsNotNone(skills["stale-lockfile"][0].finished_at)

    def test_scorecard_points_follow_its_run_ids(self):
        rows = read_rows(FIXTURE)
        points = plots.points_from_run_ids(rows, {"a": ["fx-skill-stale-1", "fx-simulated-1", "nope"],
                                                  "b": ["fx-baseline-port-1"]})
        self.assertEqual([(p.group, p.run_id) for p in points],
                         [("a", "fx-skill-stale-1"), ("b", "fx-baseline-port-1")])

    def test_unknown_kind_or_format_is_refused(self):
        with self.assertRaises(ValueError):
            plots.render("pie", {})
        with self.assertRaises(ValueError):
            plots.render("steps", {}, fmt="gif")


class WritePlotsTest(unittest.TestCase):
    def test_png_and_svg_from_the_fixture(self):
        groups = plots.group_points(plots.points_from_trace(read_rows(FIXTURE), plots.skill_group))
        with tempfile.TemporaryDirectory() as tmp:
            for fmt in plots.FORMATS:
                paths = plots.write_plots(groups, Path(tmp), prefix="t", fmt=fmt)
                self.assertEqual([p.name for p in paths], [f"t_{k}.{fmt}" for k in plots.KINDS])
                for path in paths:
                    assert_image(self, path, fmt)

    def test_scorecard_plots_per_approach(self):
        card = {"blind": False, "approaches": [{"name": "baseline", "run_ids": ["fx-baseline-stale-1", "fx-baseline-port-1"]},
                                               {"name": "optimized-skills", "run_ids": ["fx-skill-stale-1"]}]}
        with tempfile.TemporaryDirectory() as tmp:
            paths = plots.scorecard_plots(card, read_rows(FIXTURE), Path(tmp), "png")
            self.assertEqual([p.name for p in paths], [f"scorecard_{k}.png" for k in plots.KINDS])
            for path in paths:
                assert_image(self, path, "png")

    def test_no_runs_still_gives_images(self):
        with tempfile.TemporaryDirectory() as tmp:
            for path in plots.write_plots({}, Path(tmp), prefix="empty"):
                assert_image(self, path, "png")

    def test_bench_report_plots_beside_the_json(self):
        rows = [{"run_id": f"r{i}", "status": "fixed" if i % 3 else "failed", "resolved": bool(i % 3),
                 "service_up": bool(i % 3), "step_count": 8 + i % 4, "mttr_s": 5.0 + i,
                 "ground_truth": {"fault_class": ["stale_lockfile", "feature_flag"][i % 2]}}
                for i in range(8)] + [{"run_id": None, "status": "unsupported"}]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "bench" / "report.json"
            out.parent.mkdir()
            paths = plots.bench_plots({"kind": "bench_blind", "rows": rows}, out, "svg")
            self.assertEqual({p.parent for p in paths}, {out.parent})
            self.assertIn(out.parent / "report_mttr.svg", paths)
            for path in paths:
                assert_image(self, path, "svg")
        groups = plots.group_points(plots.points_from_trace(rows, plots.fault_group, fixed_key="resolved"))
        self.assertEqual(sorted(groups), ["feature_flag", "stale_lockfile"])
        # finish times come from the trace rows of the runs
        timed = plots._with_finish_times([{"run_id": "fx-skill-stale-1"}, {"run_id": "gone"}], str(FIXTURE))
        self.assertEqual([r["finished_at"] for r in timed], ["2026-01-01T00:00:01.000+00:00", None])
        self.assertEqual(sum(len(v) for v in groups.values()), 8)  # the unsupported row is not a run


class ScriptsTest(unittest.TestCase):
    def test_skill_leaderboard_plot_flag(self):
        sys.path.insert(0, str(REPO / "scripts"))
        import skill_leaderboard

        with tempfile.TemporaryDirectory() as tmp:
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = skill_leaderboard.main(["--trace-log", str(FIXTURE), "--json", "--plot", tmp,
                                               "--plot-format", "svg"])
            self.assertEqual(code, 0, err.getvalue())
            board = json.loads(out.getvalue())
            self.assertEqual(len(board["plots"]), len(plots.KINDS))
            for path in board["plots"]:
                assert_image(self, Path(path), "svg")

    def test_bench_plot_needs_output(self):
        proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_blind.py"), "--plot"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--output", proc.stderr)


if __name__ == "__main__":
    unittest.main()
