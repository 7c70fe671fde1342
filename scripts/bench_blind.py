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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.config import RunConfig  # noqa: E402
from openhands_driver.errors import UserError  # noqa: E402
from openhands_driver.fanout.bench_cli import (add_report_flags, add_target_flags,  # noqa: E402
                                               check_concurrency, run_report)
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
    add_target_flags(p)
    p.add_argument("--max-iterations", type=int, default=40, help="agent step budget per run (default: %(default)s)")
    p.add_argument("--run-timeout-s", type=float, default=None,
                   help="stop an incident's agent after S seconds (default: no limit)")
    p.add_argument("--soak-s", type=float, default=3.0, help="durability soak after the restart")
    p.add_argument("--trace-log", type=Path, default=None,
                   help="trace log (default: artifacts/runs/trace_log.jsonl)")
    add_report_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> dict:
        from openhands_driver.fanout.blind import fault_classes, parse_seeds, run_benchmark

        check_concurrency(args.concurrency)
        if args.soak_s < 0:
            raise UserError(f"--soak-s must be >= 0, got {args.soak_s}")
        seeds, classes = parse_seeds(args.seeds), fault_classes(args.faults)
        config = RunConfig(mode=args.mode, strategy_source=args.strategy_source, backend=args.backend,
                           model=args.model, llm_base_url=args.llm_base_url,
                           max_iterations=args.max_iterations, run_timeout_s=args.run_timeout_s,
                           soak_s=args.soak_s, **({"trace_log": args.trace_log} if args.trace_log else {}))
        return run_benchmark(config, classes=classes, seeds=seeds, concurrency=args.concurrency,
                             progress=not args.no_progress)

    return run_report(args, run)


if __name__ == "__main__":
    sys.exit(main())
