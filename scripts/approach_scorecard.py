#!/usr/bin/env python3
"""Baseline vs skills vs manual vs the optimizer's best (gepa, iterative), measured in one sitting on
the same incidents: success (verifier), resolved rate (the runner's proof), diagnosis accuracy, mean
steps, p50/p95 duration, tokens and cost.

    uv run python scripts/approach_scorecard.py --blind --seeds 100-104 --faults stale_lockfile,feature_flag
    uv run python scripts/approach_scorecard.py --scenarios stale_lockfile,port_mismatch --repeats 2
    uv run python scripts/approach_scorecard.py --json --gepa-result artifacts/gepa/best_hint.json

With --blind every approach runs the same blind incidents: each fault class drawn from each seed.

The optimized-gepa / optimized-iterative approaches run the best candidate of an optimize.py result
file; a missing file is reported (with the command that creates it) and that approach has no runs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from openhands_driver import verifier  # noqa: E402
from openhands_driver.errors import UserError, error_lines  # noqa: E402
from openhands_driver.optimizer.result import DEFAULT_ITERATIVE_RESULT, DEFAULT_OPTIMIZER_RESULT  # noqa: E402
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG  # noqa: E402
from openhands_driver.reports.scorecard import APPROACHES, ScorecardConfig, render_text, run_scorecard  # noqa: E402


DEFAULT_PLOT_DIR = ARTIFACTS_DIR / "plots"


def config_from_args(argv: list[str] | None) -> tuple[ScorecardConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", "--faults", dest="scenarios", default=None, metavar="A,B",
                   help="scenario ids; with --blind, fault classes (default: the catalog's active fault "
                        "scenarios; blind: every registered fault class)")
    p.add_argument("--blind", action="store_true",
                   help="blind incidents (symptom-level alert only): every approach on the same variants")
    p.add_argument("--seeds", default=None, metavar="A-B",
                   help="with --blind: the variant seeds, e.g. 100-104 or 1,2,5")
    p.add_argument("--soak-s", type=float, default=3.0, help="durability soak per run (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=1, help="runs per approach and scenario (default: 1)")
    p.add_argument("--approaches", default=",".join(APPROACHES), metavar="A,B",
                   help="subset of approaches (default: all of them; short names: skills, manual, gepa, iterative)")
    p.add_argument("--gepa-result", type=Path, default=DEFAULT_OPTIMIZER_RESULT,
                   help="optimize.py --optimizer gepa result (default: %(default)s)")
    p.add_argument("--iterative-result", type=Path, default=DEFAULT_ITERATIVE_RESULT,
                   help="optimize.py --optimizer iterative result (default: %(default)s)")
    p.add_argument("--training-data", type=Path, default=None, help="scenario catalog")
    p.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG,
                   help="where the runs append their trace rows (default: %(default)s)")
    p.add_argument("--verify-interval-s", type=float, default=verifier.DEFAULT_INTERVAL_S,
                   help="seconds between verifier probes (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--simulate", action="store_true",
                   help="print the comparison's plan (approaches x scenarios, the runs it would make); "
                        "runs nothing and claims no results")
    p.add_argument("--plot", type=Path, nargs="?", const=DEFAULT_PLOT_DIR, default=None, metavar="DIR",
                   help=f"also write plots (success, steps, MTTR per approach) into DIR (default {DEFAULT_PLOT_DIR})")
    p.add_argument("--plot-format", choices=("png", "svg"), default="png", help="plot file type (default: %(default)s)")
    args = p.parse_args(argv)
    split = lambda text: tuple(s.strip() for s in text.split(",") if s.strip())  # noqa: E731
    from openhands_driver.fanout.blind import parse_seeds

    seeds = tuple(parse_seeds(args.seeds)) if args.seeds else ()
    return ScorecardConfig(
        blind=args.blind, seeds=seeds, soak_s=args.soak_s,
        scenarios=split(args.scenarios) if args.scenarios else None, repeats=args.repeats,
        approaches=split(args.approaches), gepa_result=args.gepa_result,
        iterative_result=args.iterative_result, training_data=args.training_data,
        trace_log=args.trace_log, verify_interval_s=args.verify_interval_s, simulate=args.simulate), args


def main(argv: list[str] | None = None) -> int:
    try:
        config, args = config_from_args(argv)
        as_json = args.json
        card = run_scorecard(config)
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: no scorecard (runs so far are in the trace log)", file=sys.stderr)
        return 130
    if card.get("simulate"):
        from openhands_driver.reports.scorecard import render_plan

        print(json.dumps(card) if as_json else render_plan(card))
        return 0
    if args.plot is not None:
        from openhands_driver.reports.plots import scorecard_plots
        from openhands_driver.trace import read_rows

        card["plots"] = [str(p) for p in scorecard_plots(card, read_rows(config.trace_log), args.plot,
                                                         args.plot_format)]
        print(f"plots: {', '.join(card['plots'])}", file=sys.stderr)
    print(json.dumps(card) if as_json else render_text(card))
    unread = sum(a.get("rows_missing", 0) for a in card["approaches"])
    if unread:  # runs happened but their rows could not be read: the figures are incomplete
        print(f"error: {unread} run(s) have no readable trace row in {config.trace_log} "
              f"({card.get('skipped_lines', 0)} unreadable line(s)); the scorecard is incomplete",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
