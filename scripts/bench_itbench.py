#!/usr/bin/env python3
"""ITBench report: the imported ITBench SRE set run blind on local analogues (every injection of an
incident applied together). Diagnosis pass@1, mitigation pass@1 (resolved), MTTD and MTTR, by
complexity and by fault class, with the unsupported incidents and their reasons; JSON + markdown.

    uv run python scripts/bench_itbench.py
    uv run python scripts/bench_itbench.py --repeats 3 --output artifacts/bench_itbench/report.json
    uv run python scripts/bench_itbench.py --catalog other_import.json --backend docker --json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.config import RunConfig  # noqa: E402
from openhands_driver.fanout.bench_cli import (add_report_flags, add_target_flags,  # noqa: E402
                                               check_concurrency, run_report)
from openhands_driver.strategy import MODES  # noqa: E402

DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "training_data" / "atlas_sre_scenarios.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="imported ITBench catalog")
    p.add_argument("--repeats", type=int, default=1, help="runs per incident, seeds 0..N-1 (default 1)")
    p.add_argument("--mode", choices=MODES, default="optimized",
                   help="optimized: the skills; baseline: generic triage (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=2, help="incidents at once (default: %(default)s)")
    add_target_flags(p)
    p.add_argument("--soak-s", type=float, default=3.0,
                   help="durability soak after the runner's restart (default: %(default)s)")
    add_report_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> dict:
        from openhands_driver.fanout.blind import run_itbench

        check_concurrency(args.concurrency)
        config = RunConfig(mode=args.mode, backend=args.backend, model=args.model,
                           llm_base_url=args.llm_base_url, soak_s=args.soak_s)
        return run_itbench(config, catalog=args.catalog, repeats=args.repeats,
                           concurrency=args.concurrency, progress=not args.no_progress)

    return run_report(args, run)


if __name__ == "__main__":
    sys.exit(main())
