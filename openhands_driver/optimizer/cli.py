"""``optimize.py``'s command line: flags -> OptimizerConfig -> optimize / plan / distill -> output.

Cheap to import (no SDK, no gepa): ``--help``, ``--simulate`` and bad input return at once.
Exit codes: 0 done (a real result was written, or a plan printed), 1 internal failure (traceback in
artifacts/gepa/last_error.log), 2 user error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.optimizer.config import OPTIMIZERS, OptimizerConfig
from openhands_driver.optimizer.result import DEFAULT_EVAL_TRACE_LOG, DEFAULT_ITERATIVE_RESULT, DEFAULT_OPTIMIZER_RESULT
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG
from openhands_driver.strategy import BASELINE_RUNBOOK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="optimize.py",
        description="Improve the triage strategy from real runs: GEPA (gepa.optimize) or an iterative "
                    "baseline evaluates candidate runbooks on real incidents and keeps the best.")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="gepa", help="search (default: %(default)s)")
    p.add_argument("--training-data", type=Path, default=None,
                   help="scenario catalog (default: training_data/scenarios.json)")
    p.add_argument("--scenarios", default=None, metavar="A,B",
                   help="scenario ids to optimize on (default: the catalog's active fault scenarios)")
    p.add_argument("--seed-strategy", type=Path, default=BASELINE_RUNBOOK, metavar="PATH",
                   help="the seed runbook (default: %(default)s)")
    p.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG,
                   help="trace log to mine for evidence (read only; default: %(default)s)")
    p.add_argument("--eval-trace-log", type=Path, default=DEFAULT_EVAL_TRACE_LOG,
                   help="where evaluation runs append their trace rows (default: %(default)s)")
    p.add_argument("--max-metric-calls", type=int, default=15,
                   help="budget: real incident runs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed for GEPA (default: %(default)s)")
    p.add_argument("--output", type=Path, default=None,
                   help=f"result file (default: {DEFAULT_OPTIMIZER_RESULT} for gepa, "
                        f"{DEFAULT_ITERATIVE_RESULT} for iterative)")
    p.add_argument("--minibatch-size", type=int, default=None, help="GEPA reflection minibatch (default: 3)")
    p.add_argument("--proposer", choices=("auto", "deterministic", "reflection-lm"), default="auto",
                   help="auto: GEPA's reflection LM when a model is configured (--reflection-lm or "
                        "LLM_MODEL), else the deterministic trace-driven proposer")
    p.add_argument("--reflection-lm", default=None, metavar="MODEL",
                   help="litellm model id for GEPA's reflection (default: $LLM_MODEL)")
    p.add_argument("--reflection-base-url", default=None, metavar="URL",
                   help="OpenAI-compatible endpoint for the reflection model (default: $LLM_BASE_URL)")
    p.add_argument("--verify-interval-s", type=float, default=0.3,
                   help="verifier probe interval during evaluations (default: %(default)s)")
    p.add_argument("--max-iterations", type=int, default=40, help="agent step budget per run")
    p.add_argument("--simulate", action="store_true",
                   help="plan only: print what would run; nothing starts, no score is claimed, no file")
    p.add_argument("--distill-skills", action="store_true",
                   help="propose SKILL.md updates from successful runs in --trace-log (a proposal "
                        "file and a diff under --proposal-dir; .agents/skills is never modified)")
    p.add_argument("--proposal-dir", type=Path, default=None,
                   help="where --distill-skills writes (default: artifacts/skill_proposals)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--verbose", action="store_true", help="stream agent actions and GEPA's log")
    return p


def config_from_args(args: argparse.Namespace) -> OptimizerConfig:
    if args.max_metric_calls < 1:
        raise UserError("--max-metric-calls must be at least 1")
    env_model, env_base_url = OptimizerConfig.env_reflection_lm()
    model = args.reflection_lm or env_model
    if args.proposer == "deterministic":
        model = None
    elif args.proposer == "reflection-lm" and not model:
        raise UserError("--proposer reflection-lm needs a model: pass --reflection-lm MODEL or set LLM_MODEL")
    if model and args.optimizer == "iterative":
        model = None  # the iterative baseline always uses the deterministic proposer
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip()) if args.scenarios else None
    config = OptimizerConfig(
        optimizer=args.optimizer, training_data=args.training_data, scenarios=scenarios,
        seed_strategy=args.seed_strategy, trace_log=args.trace_log, eval_trace_log=args.eval_trace_log,
        max_metric_calls=args.max_metric_calls, seed=args.seed, output=args.output,
        minibatch_size=args.minibatch_size, reflection_lm=model,
        reflection_base_url=args.reflection_base_url or (env_base_url if model else None),
        verify_interval_s=args.verify_interval_s, max_iterations=args.max_iterations,
        simulate=args.simulate, verbose=args.verbose)
    if args.proposal_dir:
        config.proposal_dir = args.proposal_dir
    return config


def render_plan(plan: dict) -> str:
    lines = [f"DRY RUN — {plan['note']}",
             f"  optimizer : {plan['optimizer']} (proposer: {plan['proposer']}; gepa {plan['gepa_version']})",
             f"  scenarios : {', '.join(plan['scenarios'])}",
             f"  budget    : {plan['max_metric_calls']} real runs — {plan['planned']}",
             f"  seed      : {plan['seed_strategy']}",
             f"  mined     : {plan['mined_runs']} runs from {plan['mined_trace_log']}",
             f"  output    : {plan['output']} (not written by a dry run)"]
    lines += [f"  diagnose  : {command}" for command in plan["seed_diagnose"]]
    return "\n".join(lines)


def render_result(result: dict) -> str:
    verdict = "IMPROVED" if result["improved"] else "no improvement over the seed"
    lines = [f"{result['optimizer']} optimizer ({result['engine']}, {result['proposer']} proposer, "
             f"gepa {result['gepa_version']}): {result['metric_calls']} real runs "
             f"(budget {result['max_metric_calls']}) — {verdict}",
             f"  seed {result['seed_candidate_id'][:6]}: score {result['seed_score']:.4f}, "
             f"mean steps {result['seed_mean_steps']}",
             f"  best {result['best_candidate_id'][:6]}: score {result['best_score']:.4f}, "
             f"mean steps {result['best_mean_steps']}"]
    for scenario, pair in result["by_scenario"].items():
        seed, best = pair["seed"] or {}, pair["best"] or {}
        lines.append(f"    {scenario:24} steps {seed.get('mean_steps')} -> {best.get('mean_steps')}"
                     f"  fixed {seed.get('fixed')} -> {best.get('fixed')}"
                     f"  found by: {', '.join(best.get('found_by') or []) or '-'}")
    kept = sum(c["accepted"] for c in result["candidates"])
    lines += [f"  candidates: {len(result['candidates'])} evaluated, {kept} kept; stop: {result['stop_reason']}",
              f"  result: {result.get('output')}; evaluation traces: {result['trace_log']}",
              f"  use it: uv run python run_demo.py --strategy-source optimizer "
              f"--optimizer-result {result.get('output')}"]
    return "\n".join(lines)


def render_distill(summary: dict) -> str:
    lines = [f"Skill proposals from {summary['rows']} runs in {summary['trace_log']} "
             "(.agents/skills untouched):"]
    for name, info in summary["skills"].items():
        lines.append(f"  {name:22} " + (f"proposed -> {info['file']}" if info["proposed"] else info["why"]))
    if summary.get("diff"):
        lines.append(f"  review: {summary['diff']}; apply with: {summary['apply_with']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        if args.distill_skills:
            from openhands_driver.optimizer.distillation import distill

            output = distill(config.trace_log, config.proposal_dir)
            human = render_distill(output)
        else:
            from openhands_driver.optimizer.session import optimize

            output = optimize(config)
            human = render_plan(output) if output.get("simulate") else render_result(output)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: the optimization stopped; no result file was written "
              "(evaluation rows written so far stay in the evaluation trace log)", file=sys.stderr)
        return 130
    except Exception as exc:  # internal failure: the traceback goes to a log file, not the screen
        import traceback

        log = ARTIFACTS_DIR / "gepa" / "last_error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"error: internal failure ({type(exc).__name__}: {exc}); traceback in {log}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(output, default=str))
    else:
        print(human)
    return 0
