"""The blind benchmarks' command line (``scripts/bench_blind.py``, ``scripts/bench_itbench.py``):
the flags both scripts share and the report step (JSON + markdown beside it, plots, exit code).

Each script keeps its own flags (what it runs) and passes a callable that runs the benchmark and
returns its report (``fanout/blind.py``). Importing this module does not import the SDK.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from openhands_driver.errors import UserError, error_lines


def add_target_flags(p: argparse.ArgumentParser) -> None:
    """Where each incident's target runs and which brain drives it."""
    p.add_argument("--backend", choices=("local", "docker"), default="local",
                   help="where each target runs (default: %(default)s)")
    p.add_argument("--model", default=None, help="a litellm model id (default: the offline runbook brain)")
    p.add_argument("--llm-base-url", default=None, help="an OpenAI-compatible endpoint for --model")


def add_report_flags(p: argparse.ArgumentParser) -> None:
    """Where the report goes: the JSON file (+ markdown, plots), stdout, the live view."""
    p.add_argument("--output", type=Path, default=None,
                   help="write the JSON report here (and the markdown table beside it, .md)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--plot", action="store_true",
                   help="with --output F: also write plots per fault class beside it (F's stem + _<kind>.png)")
    p.add_argument("--plot-format", choices=("png", "svg"), default="png", help="plot file type (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no live view on stderr")


def check_concurrency(concurrency: int) -> None:
    if concurrency < 1:
        raise UserError(f"--concurrency must be >= 1, got {concurrency}")


def run_report(args: argparse.Namespace, run: Callable[[], dict]) -> int:
    """Run the benchmark (``run``), then write and print its report; the script's exit code.

    A user mistake (UserError from ``run``) is printed without a traceback (and as one JSON object
    with ``--json``) and exits with its code (2)."""
    if args.plot and not args.output:
        print("error: --plot writes the plots beside the JSON report: add --output F", file=sys.stderr)
        return 2
    try:
        result = run()
    except UserError as exc:
        if args.json:
            print(json.dumps({"status": "error", "error": str(exc)}))
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        args.output.with_suffix(".md").write_text(result["markdown"], encoding="utf-8")
        print(f"report: {args.output} (+ {args.output.with_suffix('.md').name})", file=sys.stderr)
        if args.plot:
            from openhands_driver.reports.plots import bench_plots

            paths = bench_plots(result, args.output, args.plot_format)
            print(f"plots: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    print(result["markdown"], file=sys.stderr)
    if args.json:
        print(json.dumps(result, default=str))
    return 0
