#!/usr/bin/env python3
"""Measure the incident loop against its floors and print the ratios (targets in CONTRIBUTING.md).

- whole offline run_demo incident vs its floor (bare SDK import + the proof's minimum waits: the
  verifier's interval, the durability restart and soak, as the run itself measured them),
  target <= 1.3x;
- dry run (--simulate) and --help vs the bare SDK import, target <= 0.1x.
Every figure is measured in this one invocation (fresh processes, wall-clock), medians of --repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SDK_IMPORT = ("import os; os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP','True');"
              "os.environ.setdefault('OPENHANDS_SUPPRESS_BANNER','1');"
              "import openhands.sdk, openhands.tools.terminal, openhands.tools.file_editor")


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def median_of(argv: list[str], repeats: int, check=lambda p: p.returncode == 0,
              keep: list | None = None) -> float:
    times = []
    for _ in range(repeats):
        elapsed, proc = timed(argv)
        if not check(proc):
            sys.exit(f"benchmark command failed: {' '.join(argv)}\n{proc.stderr[-2000:]}")
        times.append(elapsed)
        if keep is not None:
            keep.append(proc)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="stale_lockfile", help="the incident measured (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each command; medians are reported (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON object")
    parser.add_argument("--blind", action="store_true", help="measure blind incidents (seed 101)")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                        help="run_demo's --sandbox for the incident runs (default: %(default)s)")
    args = parser.parse_args()
    py = sys.executable
    consecutive, interval = 2, 1.5  # the run's defaults
    verifier_floor = (consecutive - 1) * interval
    sdk = median_of([py, "-c", SDK_IMPORT], args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        trace = str(Path(tmp) / "trace.jsonl")
        blind = ["--blind", "--variant-seed", "101"] if args.blind else []
        results: list = []
        run = median_of([py, "run_demo.py", "--scenario", args.scenario, "--json", "--trace-log", trace,
                         "--sandbox", args.sandbox, *blind], args.repeats,
                        check=lambda p: p.returncode == 0 and json.loads(p.stdout)["resolved"],
                        keep=results)
        simulate = median_of([py, "run_demo.py", "--scenario", args.scenario, "--simulate",
                              "--disable-trace-log"], args.repeats)
        helptext = median_of([py, "run_demo.py", "--help"], args.repeats)
    # The durability check restarts the target and soaks: minimum waits of the proof, as measured.
    proof_wait = statistics.median(json.loads(p.stdout)["durability"]["duration_s"] for p in results)
    floor = sdk + verifier_floor + proof_wait
    figures = {
        "sdk_import_s": round(sdk, 3), "verifier_min_wait_s": verifier_floor,
        "restart_and_soak_s": round(proof_wait, 3), "floor_s": round(floor, 3), "blind": args.blind,
        "sandbox": args.sandbox, "run_demo_s": round(run, 3), "run_demo_ratio": round(run / floor, 3),
        "run_demo_target": 1.3,
        "simulate_s": round(simulate, 3), "simulate_ratio": round(simulate / sdk, 3),
        "help_s": round(helptext, 3), "help_ratio": round(helptext / sdk, 3), "no_sdk_target": 0.1,
        "repeats": args.repeats, "scenario": args.scenario,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"bare SDK import          {sdk:7.2f} s")
        print(f"floor (import + {verifier_floor}s verify + {proof_wait:.2f}s restart/soak) {floor:7.2f} s")
        print(f"run_demo {args.scenario:15} {run:7.2f} s  ratio {run / floor:.2f}x floor (target <= 1.3x; "
              f"--sandbox {args.sandbox})")
        print(f"run_demo --simulate      {simulate:7.2f} s  ratio {simulate / sdk:.3f}x SDK import (target <= 0.1x)")
        print(f"run_demo --help          {helptext:7.2f} s  ratio {helptext / sdk:.3f}x SDK import (target <= 0.1x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
