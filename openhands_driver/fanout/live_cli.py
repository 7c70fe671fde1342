"""The command line of ``scripts/fanout_dashboard.py`` and ``scripts/fanout_live_demo.py``: the
fan-out scripts' flags (``fanout/cli.py``) plus the live view's, then the engine with a
:class:`~openhands_driver.fanout.live.LiveBoard` instead of the status line.

The live demo narrates: what is about to happen, each agent starting and each verdict, then the
figures of the run. Importing this module does not import the SDK.
"""

from __future__ import annotations

import json
import sys

from openhands_driver.errors import UserError, error_lines
from openhands_driver.fanout import cli
from openhands_driver.fanout.live import LiveBoard
from openhands_driver.paths import REPO_ROOT

DEMO_SCENARIOS = "stale_lockfile,readiness_probe_fail,port_mismatch"
DEMO_TRAINING_DATA = REPO_ROOT / "training_data" / "scenarios.json"


class NarratedBoard(LiveBoard):
    """A LiveBoard that tells the story of the fan-out as it happens."""

    def incident_started(self, index: int, scenario: str, fault: str | None, run_id: str) -> None:
        super().incident_started(index, scenario, fault, run_id)
        self.narrate(f"agent #{index} takes {scenario}: a fresh broken service, its own sandbox and verifier")

    def incident_row(self, row: dict) -> None:
        super().incident_row(row)
        verdict = {"fixed": "FIXED", "failed": "NOT fixed", "timeout": "TIMED OUT"}.get(row["status"],
                                                                                        row["status"].upper())
        proof = "the verifier saw it healthy" if row.get("service_up") else "the verifier did not confirm it"
        self.narrate(f"#{row['index']} {row['scenario_id']}: {verdict} with skill {row.get('skill_id') or '-'} "
                     f"in {row['step_count']} steps, {row['duration_s']:.1f}s ({proof})")


def build_parser(narrated: bool, prog: str, description: str):
    p = cli.build_parser("fanout", prog, description)
    p.add_argument("--trace-url-template", default=None,
                   help="link each incident to an external trace UI: {run_id}, {incident_id}, {trace_id}")
    p.add_argument("--full-screen", action=__import__("argparse").BooleanOptionalAction, default=not narrated,
                   help="use the terminal's alternate screen (default: %(default)s; plain lines when not a terminal)")
    p.add_argument("--refresh-per-second", type=float, default=4.0,
                   help="full-screen view redraws per second (default: %(default)s)")
    if narrated:
        p.set_defaults(training_data=DEMO_TRAINING_DATA, scenarios=DEMO_SCENARIOS, concurrency=3)
    return p


def _dry_run(config, args, narrated: bool) -> int:
    """--simulate: the dry-run proxy's plan (routing, skills, runbooks) as a table, each planned
    incident with its trace link when a template is given; no target, no agent, no verdicts."""
    from openhands_driver.fanout.simulate import simulate
    from openhands_driver.progress import summary_table

    report = simulate(config)
    if narrated:
        print(f"dry run: {len(report['rows'])} incident(s) planned at concurrency {config.concurrency}; "
              "nothing is started and nothing is claimed", file=sys.stderr)
    if args.trace_url_template and not any(row.get("run_id") for row in report["rows"]):
        print("  (trace links: a dry run makes no runs, so there is nothing to link yet; "
              f"real runs link to {args.trace_url_template})", file=sys.stderr)
    for row in report["rows"]:
        link = ""
        if args.trace_url_template and row.get("run_id"):
            from openhands_driver.dashboard.links import trace_url

            link = "  " + (trace_url(args.trace_url_template, run_id=row["run_id"],
                                     incident_id=str(row["index"]), trace_id="") or "")
        print(f"  #{row['index']:>3} {row['scenario_id']:<40} skill {row.get('skill_id') or '-':<22}{link}",
              file=sys.stderr)
    print(summary_table(report), file=sys.stderr)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"report: {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, default=str))
    return cli.EXIT_OK


def main(argv: list[str] | None = None, *, narrated: bool = False, prog: str = "fanout_dashboard.py",
         description: str = "") -> int:
    args = build_parser(narrated, prog, description).parse_args(argv)
    try:
        if args.trace_url_template:
            from openhands_driver.dashboard.links import check_template

            check_template(args.trace_url_template)
        if narrated and args.incidents is not None and args.scenarios == DEMO_SCENARIOS:
            args.scenarios = None  # --incidents N picks the incidents instead of the demo's three
        config = cli.config_from_args(args, "fanout")
        if config.simulate:  # the plan, with each incident's trace link; nothing runs
            return _dry_run(config, args, narrated)
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    board_class = NarratedBoard if narrated else LiveBoard
    if getattr(args, "no_progress", False):  # no live view at all: the report only
        import io

        board_class = LiveBoard
        stream = io.StringIO()
    else:
        stream = sys.stderr
    board = board_class(stream, full_screen=args.full_screen, refresh_per_second=args.refresh_per_second,
                        trace_log=None if config.run.disable_trace_log else str(config.run.trace_log),
                        trace_url_template=args.trace_url_template)
    from openhands_driver.fanout.engine import run_fanout

    if narrated:
        names = config.scenario_ids or ["a sample of the catalog"]
        board.narrate(f"{len(names)} incident(s) at once ({', '.join(names)}), {config.concurrency} agents in "
                      "parallel; each gets a broken service, a runbook skill and an independent verifier")
        board.narrate("importing the OpenHands SDK once for every agent ...")
    try:
        report = run_fanout(config, view=board)
    except UserError as exc:
        board.close()
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        board.close()
        print("interrupted", file=sys.stderr)
        return cli.EXIT_INTERRUPTED
    finally:
        board.close(final_text="")  # idempotent: leaves the terminal as it was
    s = report["summary"]
    if narrated:
        rate = f"{s['success_rate']:.0%}" if s.get("success_rate") is not None else "-"
        print(f"== done: {s['fixed']}/{s['total']} fixed (success rate {rate}), MTTR p50 {s.get('mttr_p50_s')}s, "
              f"{s.get('throughput_per_min')} incidents/min at concurrency {s['concurrency']}; "
              f"trace rows in {report.get('trace_log')}", file=sys.stderr)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"report: {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, default=str))
    return cli.EXIT_INTERRUPTED if report.get("interrupted") else cli.EXIT_OK
