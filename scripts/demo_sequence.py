#!/usr/bin/env python3
"""The narrated one-command demo: a broken service, a baseline run, a skills run, the security gates
stopping a hostile command, a blind incident, the optimizer improving a runbook, a fan-out, and a
scorecard with its plot; every step a real run with its measured result.

Offline by default (the runbook brain, no key). --real uses the configured model ($LLM_MODEL or
--model, key from the environment); without one it stops at once with exit 2 and what is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.demo_sequence import STEPS, SequenceConfig, run_sequence  # noqa: E402
from openhands_driver.errors import UserError, error_lines  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="demo_sequence.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--real", action="store_true",
                   help="use a real model ($LLM_MODEL or --model; key from the environment) instead of the "
                        "offline runbook brain")
    p.add_argument("--model", default=None, help="with --real: a litellm model id (default: $LLM_MODEL)")
    p.add_argument("--llm-base-url", default=None, help="with --real: an OpenAI-compatible endpoint")
    p.add_argument("--steps", default=",".join(STEPS), metavar="A,B",
                   help=f"which steps, in order (default: all: {','.join(STEPS)})")
    p.add_argument("--fanout-incidents", type=int, default=3, metavar="N",
                   help="incidents in the fan-out step, all at once (default: %(default)s)")
    p.add_argument("--optimizer-budget", type=int, default=6, metavar="N",
                   help="real runs the optimizer step may make (default: %(default)s)")
    p.add_argument("--output-dir", type=Path, default=SequenceConfig.output_dir,
                   help="trace, logs, optimizer result and plots (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the sequence's results as one JSON object")
    return p


def config_from_args(args: argparse.Namespace) -> SequenceConfig:
    model = llm_base_url = None
    if args.real:
        from openhands_driver.model import resolve_model

        resolved = resolve_model(args.model, args.llm_base_url)  # UserError without a model or key
        if not resolved.model:
            raise UserError("--real needs a model: set LLM_MODEL (and its key, e.g. OPENAI_API_KEY) or "
                            "pass --model; without --real the demo runs offline")
        model, llm_base_url = resolved.model, args.llm_base_url
    elif args.model or args.llm_base_url:
        raise UserError("--model and --llm-base-url go with --real")
    problems = [f"--{name.replace('_', '-')} must be >= 1, got {value}" for name, value in
                (("fanout_incidents", args.fanout_incidents), ("optimizer_budget", args.optimizer_budget))
                if value < 1]
    if problems:
        raise UserError("\n".join(problems))
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    return SequenceConfig(steps=steps, model=model, llm_base_url=llm_base_url,
                          fanout_incidents=args.fanout_incidents, optimizer_budget=args.optimizer_budget,
                          output_dir=args.output_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = run_sequence(config_from_args(args))
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: the demo stopped (runs so far are in its trace log)", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(out, default=str))
    return 0 if all(step["ok"] for step in out["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
