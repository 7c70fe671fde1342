"""``run_demo.py``'s command line: flags -> RunConfig -> run_incident -> output + exit code.

Importing this module must stay cheap (no SDK): ``--help``, ``--simulate`` and bad input return
in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openhands_driver import verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.paths import DEFAULT_TRACE_LOG
from openhands_driver.records import RunResult
from openhands_driver.strategy import MODES, STRATEGY_SOURCES

EXIT_FIXED, EXIT_NOT_FIXED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_demo.py",
        description="Run one SRE incident: start a broken target, let an OpenHands agent fix it, "
                    "verify with independent HTTP probes, append a trace row.")
    p.add_argument("--scenario", default="stale_lockfile", help="scenario id (default: %(default)s)")
    p.add_argument("--training-data", type=Path, default=None,
                   help="scenario file like training_data/scenarios.json (default: that file)")
    p.add_argument("--mode", choices=MODES, default="optimized",
                   help="optimized: follow the routed skill; baseline: generic triage (default: %(default)s)")
    p.add_argument("--strategy-source", choices=STRATEGY_SOURCES, default="skills",
                   help="where the optimized strategy comes from (default: %(default)s)")
    p.add_argument("--skill-id", default=None, help="force a skill instead of routing")
    p.add_argument("--backend", choices=("local",), default="local",
                   help="where the target runs (default: %(default)s: a local process group)")
    p.add_argument("--keep-target", action="store_true",
                   help="leave the target running and print how to reach and stop it")
    p.add_argument("--simulate", action="store_true",
                   help="dry run: route and print the plan; start nothing; service_up is null")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout (human output goes to stderr)")
    p.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG, help="JSONL trace file")
    p.add_argument("--disable-trace-log", action="store_true", help="do not append a trace row")
    p.add_argument("--run-id", default=None, help="run id (default: generated)")
    p.add_argument("--verify-consecutive-successes", type=int, default=verifier.DEFAULT_CONSECUTIVE)
    p.add_argument("--verify-max-attempts", type=int, default=verifier.DEFAULT_MAX_ATTEMPTS)
    p.add_argument("--verify-interval-s", type=float, default=verifier.DEFAULT_INTERVAL_S)
    p.add_argument("--max-iterations", type=int, default=40, help="agent step budget")
    p.add_argument("--verbose", action="store_true", help="show the SDK's own logs")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    if args.verify_consecutive_successes < 1 or args.verify_max_attempts < args.verify_consecutive_successes:
        raise UserError("--verify-max-attempts must be >= --verify-consecutive-successes >= 1")
    return RunConfig(
        scenario=args.scenario, training_data=args.training_data, mode=args.mode,
        strategy_source=args.strategy_source, skill_id=args.skill_id, backend=args.backend,
        simulate=args.simulate, keep_target=args.keep_target, trace_log=args.trace_log,
        disable_trace_log=args.disable_trace_log, run_id=args.run_id,
        verify_consecutive_successes=args.verify_consecutive_successes,
        verify_max_attempts=args.verify_max_attempts, verify_interval_s=args.verify_interval_s,
        max_iterations=args.max_iterations, verbose=args.verbose)


def exit_code_for(result: RunResult) -> int:
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    if result.simulate:
        return EXIT_FIXED
    return EXIT_FIXED if result.service_up else EXIT_NOT_FIXED


def render_human(result: RunResult) -> str:
    if result.simulate:
        plan = result.plan or {}
        lines = [f"DRY RUN (nothing started, service_up: null) — {result.scenario}",
                 f"  routing : {result.routing['reason']}",
                 f"  strategy: {plan.get('strategy')} ({plan.get('runbook')})"]
        for phase, commands in (plan.get("steps") or {}).items():
            for command in commands:
                lines.append(f"  {phase:9}: {command}")
        return "\n".join(lines)
    verdict = {True: "FIXED (verified)", False: "NOT FIXED", None: "not verified"}[result.service_up]
    lines = [f"{verdict} — scenario {result.scenario}, run {result.run_id}",
             f"  status {result.status}; {result.step_count} steps; brain {result.brain}; "
             f"skill {result.skill_id or '-'}; {result.duration_s}s"]
    if result.verification:
        oks = sum(a["ok"] for a in result.verification["attempts"])
        lines.append(f"  verifier: {oks}/{len(result.verification['attempts'])} probes healthy "
                     f"(need {result.verification['consecutive_required']} in a row)")
    if result.agent_message:
        lines.append(f"  agent said: {result.agent_message}")
    if result.error:
        lines.append(f"  error: {result.error}")
    if result.target.get("kept"):
        lines.append(f"  target kept at {result.target.get('url')}; stop it with: "
                     f"{result.target.get('stop_with')}")
    if result.trace_log:
        lines.append(f"  trace: {result.trace_log}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        from openhands_driver.runner import run_incident

        result = run_incident(config)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted before the run started", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
    else:
        print(render_human(result))
    return exit_code_for(result)
