"""The fan-out engine: real incidents at once in this process (SDK imported once for the class),
each with its own target; timeouts and crashes end only their incident; the dry-run proxy claims
nothing and never imports the SDK; the live view works without a terminal.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.fanout.intake import arrivals, batch
from openhands_driver.fanout.records import FanoutConfig, FanoutRow, row_status, summarize
from openhands_driver.progress import Progress
from openhands_driver.scenarios import load_catalog
from openhands_driver.trace import read_rows
from tests.support.runs import pg_alive as _pg_alive

REPO = Path(__file__).resolve().parent.parent
ITBENCH = REPO / "training_data" / "atlas_sre_scenarios.json"
COUNTS = ("fixed", "failed", "timeouts", "unsupported", "errors")


def _mixed_catalog(path: Path) -> Path:
    """Core faults + an incident without a local analogue + one whose fault the target lacks."""
    core = {s.scenario_id: s for s in load_catalog().scenarios}
    records = [{"scenario_id": sid, "error_report": core[sid].error_report, "local_fault": sid,
                "skill_id": core[sid].skill_id, "source": {"benchmark": "test", "id": i}}
               for i, sid in enumerate(("stale_lockfile", "port_mismatch", "readiness_probe_fail"))]
    records.append({"scenario_id": "needs_kubernetes", "error_report": "PAGE: a NetworkPolicy blocks the port.",
                    "local_fault": None, "unsupported_reason": "needs a Kubernetes NetworkPolicy",
                    "active": False, "source": {"benchmark": "test", "id": 97}})
    records.append({"scenario_id": "fault_not_built_yet", "error_report": "PAGE: something new broke.",
                    "local_fault": "fault_not_built_yet", "source": {"benchmark": "test", "id": 98}})
    path.write_text(json.dumps({"schema_version": 2, "scenarios": records}))
    return path


class SummaryAndIntakeTest(unittest.TestCase):
    def row(self, status, **kw):
        base = dict(scenario_id="s", source_id=1, local_fault="f", status=status, service_up=status == "fixed",
                    step_count=3, duration_s=10.0, run_id="r")
        return FanoutRow(**{**base, **kw})

    def test_counts_add_up_and_rates_are_over_attempted(self):
        rows = [self.row("fixed"), self.row("fixed", queue_wait_s=5.0), self.row("failed"),
                self.row("timeout"), self.row("unsupported", run_id=None, step_count=0, duration_s=0.0),
                self.row("error")]
        summary = summarize(rows, concurrency=3, wall_s=60.0)
        self.assertEqual(sum(summary[k] for k in COUNTS), summary["total"])
        self.assertEqual(summary["attempted"], 4)
        self.assertEqual(summary["success_rate"], 0.5)  # the timeout counts as a failure
        self.assertEqual(summary["mttr_p50_s"], 12.5)     # arrival -> fix, queue wait included
        self.assertEqual(summary["throughput_per_min"], 5.0)
        for key in ("mean_steps", "mttr_p95_s", "concurrency", "wall_s"):
            self.assertIn(key, summary)

    def test_row_status_from_the_runner(self):
        self.assertEqual(row_status("fixed", "finished"), "fixed")
        self.assertEqual(row_status("fixed", "timeout"), "timeout")  # fixed only after the deadline
        self.assertEqual(row_status("not_fixed", "finished"), "failed")
        self.assertEqual(row_status("stuck", "stuck"), "failed")
        self.assertEqual(row_status("error", None), "error")
        self.assertEqual(row_status("interrupted", None), "error")

    def test_sample_and_arrivals_are_seeded(self):
        catalog = load_catalog(ITBENCH)
        config = FanoutConfig(run=RunConfig(training_data=ITBENCH), sample_size=6, seed=7)
        first = [i.scenario.scenario_id for i in batch(config, catalog)]
        self.assertEqual(first, [i.scenario.scenario_id for i in batch(config, catalog)])
        self.assertEqual(len(first), 6)
        config.continuous, config.duration_s, config.arrival_rate = True, 600.0, 6.0
        times = [i.arrival_s for i in arrivals(config, catalog)]
        self.assertEqual(times, [i.arrival_s for i in arrivals(config, catalog)])
        self.assertEqual(times, sorted(times))
        self.assertTrue(30 <= len(times) <= 95, len(times))  # Poisson(60)

    def test_progress_without_a_terminal_prints_plain_lines(self):
        stream = io.StringIO()
        progress = Progress(stream, total=2, concurrency=2, tty=False, interval_s=0.0)
        progress.queued(2)
        progress.running()
        progress.finished("fixed", "  FIXED one")
        progress.close("table")
        text = stream.getvalue()
        self.assertNotIn("\r", text)
        self.assertNotIn("\033", text)
        for word in ("queued", "running", "fixed 1", "failed", "timed out", "FIXED one", "table"):
            self.assertIn(word, text)

    def test_progress_on_a_terminal_redraws_one_line(self):
        stream = io.StringIO()
        progress = Progress(stream, total=1, concurrency=1, tty=True, min_redraw_s=0.0)
        progress.queued()
        progress.running()
        self.assertIn("\r\033[K", stream.getvalue())


class SimulateTest(unittest.TestCase):
    def test_dry_run_proxy_claims_nothing_and_does_not_import_the_sdk(self):
        code = ("import sys, json, io, contextlib\n"
                "from openhands_driver.fanout.cli import main\n"
                "out = io.StringIO()\n"
                "with contextlib.redirect_stdout(out):\n"
                "    rc = main(['--simulate', '--sample-size', '10', '--seed', '2', '--json'])\n"
                "heavy = [m for m in sys.modules if m.startswith(('openhands.', 'litellm'))]\n"
                "print(json.dumps({'rc': rc, 'heavy': heavy, 'report': json.loads(out.getvalue())}))\n")
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertEqual(data["rc"], 0)
        self.assertEqual(data["heavy"], [], "a dry run must not import the SDK")
        report = data["report"]
        self.assertTrue(report["dry_run_proxy"])
        self.assertIn("DRY-RUN PROXY", report["note"])
        summary = report["summary"]
        self.assertIsNone(summary["fixed"])
        self.assertIsNone(summary["success_rate"])
        self.assertEqual(summary["planned"] + summary["unsupported"] + summary["error"], summary["total"])
        self.assertEqual(summary["total"], 10)
        self.assertTrue(all(r["service_up"] is None for r in report["rows"]))
        self.assertTrue(all(r["status"] in ("planned", "unsupported", "error") for r in report["rows"]))
        self.assertIn("DRY-RUN PROXY", proc.stderr)


class RealFanoutTest(unittest.TestCase):
    """Real targets, real SDK conversations, real verifier, several at once in this process."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.trace = cls.dir / "trace.jsonl"
        cls.catalog = _mixed_catalog(cls.dir / "mixed.json")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def fanout(self, **kw):
        from openhands_driver.fanout.engine import run_fanout

        run = RunConfig(training_data=self.catalog, trace_log=self.trace, verify_interval_s=0.3,
                        run_timeout_s=kw.pop("run_timeout_s", None))
        config = FanoutConfig(run=run, log_dir=self.dir / "logs", **kw)
        stream = io.StringIO()
        report = run_fanout(config, stream=stream)
        return report, stream.getvalue()

    def trace_row(self, run_id):
        rows = [r for r in read_rows(self.trace) if r["run_id"] == run_id]
        self.assertEqual(len(rows), 1, f"exactly one trace row for {run_id}")
        return rows[0]

    def assert_adds_up(self, report):
        summary = report["summary"]
        self.assertEqual(sum(summary[k] for k in COUNTS), summary["total"])
        self.assertEqual(summary["total"], len(report["rows"]))
        for row in report["rows"]:
            for key in ("scenario_id", "source_id", "local_fault", "status", "service_up", "step_count",
                        "duration_s", "run_id"):
                self.assertIn(key, row)

    def test_batch_at_concurrency_3_counts_every_incident(self):
        report, view = self.fanout(concurrency=3)
        self.assert_adds_up(report)
        summary = report["summary"]
        by_id = {r["scenario_id"]: r for r in report["rows"]}
        self.assertEqual((summary["total"], summary["fixed"], summary["unsupported"], summary["errors"]),
                         (5, 3, 1, 1), json.dumps(report["rows"], indent=1))
        self.assertEqual(summary["success_rate"], 1.0)
        self.assertEqual(summary["concurrency"], 3)
        self.assertGreater(summary["throughput_per_min"], 0)
        self.assertIsNotNone(summary["mttr_p95_s"])
        unsupported = by_id["needs_kubernetes"]
        self.assertIsNone(unsupported["run_id"])
        self.assertEqual(unsupported["step_count"], 0)
        self.assertEqual(by_id["fault_not_built_yet"]["status"], "error")
        self.assertEqual(self.trace_row(by_id["fault_not_built_yet"]["run_id"])["status"], "error")
        run_ids, ports, roots = set(), set(), set()
        for sid in ("stale_lockfile", "port_mismatch", "readiness_probe_fail"):
            row = by_id[sid]
            self.assertEqual((row["status"], row["service_up"]), ("fixed", True), row)
            self.assertGreater(row["step_count"], 0)
            self.assertEqual(row["source"], "test")
            trace = self.trace_row(row["run_id"])
            self.assertTrue(trace["service_up"])
            self.assertFalse(_pg_alive(trace["target"]["pid"]), "each target is cleaned up")
            run_ids.add(row["run_id"])
            ports.add(trace["target"]["port"])
            roots.add(trace["target"]["root"])
            self.assertTrue(Path(row["log"]).read_text().strip(), "each incident has its own console log")
        self.assertEqual((len(run_ids), len(ports), len(roots)), (3, 3, 3), "own run id, port, service root")
        started = sorted(by_id[s]["started_s"] for s in ("stale_lockfile", "port_mismatch", "readiness_probe_fail"))
        self.assertLess(started[-1] - started[0], 3.0, "the three incidents ran at the same time")
        self.assertLess(max(by_id[s]["finished_s"] for s in by_id if by_id[s]["run_id"]) - started[0],
                        sum(by_id[s]["duration_s"] for s in ("stale_lockfile", "port_mismatch",
                                                             "readiness_probe_fail")))
        self.assertIn("fixed 3", view)
        self.assertIn("summary:", view)

    def test_timeouts_stop_only_their_incident_and_clean_up(self):
        # Both take 7 steps when they run to the end (port_mismatch, bad_env_config runbooks).
        report, _ = self.fanout(concurrency=2, run_timeout_s=0.5, scenario_ids=["port_mismatch", "port_mismatch"])
        self.assert_adds_up(report)
        self.assertEqual(report["summary"]["timeouts"], 2, json.dumps(report["rows"], indent=1))
        self.assertEqual(report["summary"]["success_rate"], 0.0)
        for row in report["rows"]:
            self.assertEqual(row["status"], "timeout")
            trace = self.trace_row(row["run_id"])
            self.assertEqual(trace["conversation_status"], "timeout")
            self.assertFalse(_pg_alive(trace["target"]["pid"]), "a timed-out incident's target is gone")
            self.assertNotIn("finish", [a["tool"] for a in trace["actions"]], "stopped before it could finish")
            self.assertLess(row["step_count"], 7, "the conversation was really stopped early")

    def test_continuous_intake_runs_every_arrival(self):
        report, _ = self.fanout(concurrency=2, continuous=True, duration_s=8.0, arrival_rate=20.0, seed=3,
                                scenario_ids=["stale_lockfile", "port_mismatch"])
        self.assert_adds_up(report)
        self.assertEqual(report["mode"], "continuous")
        expected = report["continuous"]["arrivals"]
        self.assertGreaterEqual(expected, 1)
        self.assertEqual(report["summary"]["total"], expected)
        self.assertEqual(report["summary"]["fixed"], expected, json.dumps(report["rows"], indent=1))
        for row in report["rows"]:
            self.assertGreaterEqual(row["started_s"] + 0.05, row["arrival_s"])


if __name__ == "__main__":
    unittest.main()
