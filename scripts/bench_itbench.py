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
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.config import RunConfig  # noqa: E402
from openhands_driver.errors import UserError, error_lines  # noqa: E402
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
    p.add_argument("--backend", choices=("local", "docker"), default="local",
                   help="where each target runs (default: %(default)s)")
    p.add_argument("--model", default=None, help="a litellm model id (default: the offline runbook brain)")
    p.add_argument("--llm-base-url", default=None, help="an OpenAI-compatible endpoint for --model")
    p.add_argument("--soak-s", type=float, default=3.0,
                   help="durability soak after the runner's restart (default: %(default)s)")
    p.add_argument("--output", type=Path, default=None, help="JSON report (markdown beside it, .md)")
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
        from openhands_driver.fanout.blind import run_itbench

        if args.concurrency < 1:
            raise UserError(f"--concurrency must be >= 1, got {args.concurrency}")
        run = RunConfig(mode=args.mode, backend=args.backend, model=args.model,
                        llm_base_url=args.llm_base_url, soak_s=args.soak_s)
        result = run_itbench(run, catalog=args.catalog, repeats=args.repeats,
                             concurrency=args.concurrency, progress=not args.no_progress)
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
