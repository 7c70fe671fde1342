#!/usr/bin/env python3
"""Blind benchmark: every fault class over a range of variant seeds, blind, through the fan-out
engine. Reports diagnosis pass@1, mitigation pass@1 (resolved), MTTD and MTTR p50/p95, steps,
tokens and cost, collateral incidents, per fault class and overall.

    uv run python scripts/bench_blind.py --seeds 100-119
    uv run python scripts/bench_blind.py --seeds 100-104 --mode baseline --json
    uv run python scripts/bench_blind.py --faults stale_lockfile,feature_flag --seeds 1-3 --output out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.config import RunConfig  # noqa: E402
from openhands_driver.errors import UserError, error_lines  # noqa: E402
from openhands_driver.strategy import MODES, STRATEGY_SOURCES  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="100-119", help="variant seeds: a range and/or list (default %(default)s)")
    p.add_argument("--faults", default=None, metavar="CLASS,...",
                   help="fault classes to run (default: every registered class)")
    p.add_argument("--mode", choices=MODES, default="optimized",
                   help="optimized = the skill catalog; baseline = a generic checklist, no skills")
    p.add_argument("--strategy-source", choices=STRATEGY_SOURCES, default="skills",
                   help="where the optimized strategy comes from (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=3, help="incidents at once (default %(default)s)")
    p.add_argument("--backend", choices=("local", "docker"), default="local",
                   help="where each target runs (default: %(default)s)")
    p.add_argument("--model", default=None, help="a litellm model id (default: the offline runbook brain)")
    p.add_argument("--llm-base-url", default=None, help="an OpenAI-compatible endpoint for --model")
    p.add_argument("--max-iterations", type=int, default=40, help="agent step budget per run (default: %(default)s)")
    p.add_argument("--run-timeout-s", type=float, default=None,
                   help="stop an incident's agent after S seconds (default: no limit)")
    p.add_argument("--soak-s", type=float, default=3.0, help="durability soak after the restart")
    p.add_argument("--trace-log", type=Path, default=None,
                   help="trace log (default: artifacts/runs/trace_log.jsonl)")
    p.add_argument("--output", type=Path, default=None,
                   help="write the JSON report here (and the markdown table beside it, .md)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--plot", action="store_true",
                   help="with --output F: also write plots per fault class beside it (F's stem + _<kind>.png)")
    p.add_argument("--plot-format", choices=("png", "svg"), default="png", help="plot file type (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no live view on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.plot and not args.output:
        print("error: --plot writes the plots beside the JSON report: add --output F", file=sys.stderr)
        return 2
    try:
        from openhands_driver.fanout.blind import fault_classes, parse_seeds, run_benchmark

        if args.concurrency < 1:
            raise UserError(f"--concurrency must be >= 1, got {args.concurrency}")
        if args.soak_s < 0:
            raise UserError(f"--soak-s must be >= 0, got {args.soak_s}")
        seeds, classes = parse_seeds(args.seeds), fault_classes(args.faults)
        run = RunConfig(mode=args.mode, strategy_source=args.strategy_source, backend=args.backend,
                        model=args.model, llm_base_url=args.llm_base_url,
                        max_iterations=args.max_iterations, run_timeout_s=args.run_timeout_s,
                        soak_s=args.soak_s, **({"trace_log": args.trace_log} if args.trace_log else {}))
        result = run_benchmark(run, classes=classes, seeds=seeds, concurrency=args.concurrency,
                               progress=not args.no_progress)
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


if __name__ == "__main__":
    sys.exit(main())
