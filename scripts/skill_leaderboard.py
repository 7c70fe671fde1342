#!/usr/bin/env python3
"""Per skill and scenario, from a trace log: runs, success rate, mean steps, p50/p95 duration,
mean cost and the last failure reason. Simulated rows are excluded.

    uv run python scripts/skill_leaderboard.py                       # terminal table
    uv run python scripts/skill_leaderboard.py --markdown            # a table for a README
    uv run python scripts/skill_leaderboard.py --json --trace-log artifacts/runs/trace_log.jsonl
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG  # noqa: E402
from openhands_driver.reports.leaderboard import build, render_markdown, render_text  # noqa: E402


DEFAULT_PLOT_DIR = ARTIFACTS_DIR / "plots"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG,
                        help="JSONL trace log (default: %(default)s)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    output.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--plot", type=Path, nargs="?", const=DEFAULT_PLOT_DIR, default=None, metavar="DIR",
                        help=f"also write plots (success, steps, MTTR per skill, over time) into DIR "
                             f"(default {DEFAULT_PLOT_DIR})")
    parser.add_argument("--plot-format", choices=("png", "svg"), default="png",
                        help="plot file type (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.trace_log.exists():
        print(f"error: no trace log at {args.trace_log}. Run incidents first "
              "(uv run python run_demo.py --scenario <id>) or pass --trace-log PATH", file=sys.stderr)
        return 2
    try:
        board = build(args.trace_log)
    except OSError as exc:
        print(f"error: cannot read the trace log {args.trace_log} ({exc.strerror or exc}); pass "
              "--trace-log PATH of a readable JSONL file", file=sys.stderr)
        return 2
    if args.plot is not None:
        from openhands_driver.reports.plots import leaderboard_plots
        from openhands_driver.trace import read_rows

        board["plots"] = [str(p) for p in leaderboard_plots(read_rows(args.trace_log), args.plot,
                                                            args.plot_format)]
        print(f"plots: {', '.join(board['plots'])}", file=sys.stderr)
    if args.json:
        print(json.dumps(board))
    elif args.markdown:
        print(render_markdown(board))
    else:
        print(render_text(board))
    unread = board["skipped_lines"] + board["bad_rows"]
    if unread:
        print(f"warning: {unread} row(s) of {args.trace_log} could not be read ({board['skipped_lines']} "
              f"unreadable line(s), {board['bad_rows']} row(s) with wrong field types)", file=sys.stderr)
        if not board["runs"]:  # asked to summarise runs, read none of them
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
