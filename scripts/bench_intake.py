#!/usr/bin/env python3
"""Webhook load on the intake: accepted alerts/s, p50/p99 latency, and every delivery in the audit DB.

    uv run python scripts/bench_intake.py                       # 30 s, 16 clients, no-op runner
    uv run python scripts/bench_intake.py --duration-s 5 --clients 8 --json-out artifacts/bench_intake.json

An intake on 127.0.0.1 (own temp database, a free port) with a no-op runner; the targets are
>= 300 alerts/s sustained with p99 < 200 ms and none lost. Exit 1 when a delivery is missing.
Flags -> BenchConfig -> openhands_driver.intake.bench.run_bench.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.errors import UserError, error_lines  # noqa: E402
from openhands_driver.intake.bench import BenchConfig, run_bench  # noqa: E402

TARGET_RATE = 300.0
TARGET_P99_MS = 200.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="bench_intake.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration-s", type=float, default=30.0, help="how long the clients post (default: %(default)s)")
    p.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections (default: %(default)s)")
    p.add_argument("--client-processes", type=int, default=2,
                   help="processes the clients are spread over (default: %(default)s)")
    p.add_argument("--max-alerts", type=int, default=100_000,
                   help="stop after this many alerts in total even before --duration-s (default: %(default)s)")
    p.add_argument("--runner", choices=("noop", "hold"), default="noop",
                   help="noop: every run finishes at once (dispatch and recording included); hold: runs never "
                        "start, only the intake path is measured (default: %(default)s)")
    p.add_argument("--http-threads", type=int, default=8,
                   help="the intake's HTTP worker threads (default: %(default)s)")
    p.add_argument("--json-out", type=Path, default=None, help="also write the result as JSON to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for flag, value in (("--duration-s", args.duration_s), ("--clients", args.clients),
                            ("--client-processes", args.client_processes), ("--max-alerts", args.max_alerts),
                            ("--http-threads", args.http_threads)):
            if value <= 0:
                raise UserError(f"{flag} must be > 0, got {value}")
        if args.duration_s > 600:
            raise UserError(f"--duration-s {args.duration_s:g} is over the 600 s bound; measure in shorter runs")
        result = run_bench(BenchConfig(duration_s=args.duration_s, clients=args.clients,
                                       client_processes=args.client_processes, max_alerts=args.max_alerts,
                                       runner=args.runner, http_threads=args.http_threads))
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    data = {**result.to_dict(), "load_average": os.getloadavg(), "cpus": os.cpu_count(),
            "targets": {"alerts_per_s": TARGET_RATE, "p99_ms": TARGET_P99_MS},
            "meets_targets": result.alerts_per_s >= TARGET_RATE and (result.p99_ms or 1e9) < TARGET_P99_MS
            and result.none_lost}
    text = json.dumps(data, indent=2)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n", encoding="utf-8")
    return 0 if result.none_lost else 1


if __name__ == "__main__":
    sys.exit(main())
