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

from openhands_driver.errors import UserError, error_lines
from openhands_driver.optimizer.candidate import SKILL_PREFIX
from openhands_driver.optimizer.config import (DEFAULT_FAULTS, DEFAULT_TRAIN_SEEDS, DEFAULT_VAL_SEEDS, OPTIMIZERS,
                                               POOR_RUNBOOK, OptimizerConfig)
from openhands_driver.optimizer.result import DEFAULT_EVAL_TRACE_LOG, DEFAULT_ITERATIVE_RESULT, DEFAULT_OPTIMIZER_RESULT
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, 
        prog="optimize.py",
        description="Improve the triage strategy from real blind incidents: GEPA (gepa.optimize) or an "
                    "iterative baseline evaluates candidate runbooks on blind variants drawn from the "
                    "training seeds, keeps the best by proven resolution and steps, then re-runs the seed "
                    "and the best on held-out validation seeds.")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="gepa", help="search (default: %(default)s)")
    p.add_argument("--training-data", type=Path, default=None,
                   help="scenario catalog (default: training_data/scenarios.json)")
    p.add_argument("--faults", default=None, metavar="A,B",
                   help="fault classes to optimize on (default: those of "
                        f"{','.join(DEFAULT_FAULTS)} that exist, else every registered class)")
    p.add_argument("--scenarios", default=None, metavar="A,B", help="old name of --faults")
    p.add_argument("--train-seeds", default=_seeds_text(DEFAULT_TRAIN_SEEDS), metavar="A-B",
                   help="variant seeds of the training incidents, e.g. 0-5 or 0,2,4 (default: %(default)s)")
    p.add_argument("--val-seeds", default=_seeds_text(DEFAULT_VAL_SEEDS), metavar="A-B",
                   help="held-out variant seeds, disjoint from --train-seeds: the seed and the best "
                        "candidate are re-run on them after the search (default: %(default)s; "
                        "'none' skips validation)")
    p.add_argument("--candidate", action="append", default=[], metavar="triage|skill:NAME",
                   help="what the candidate holds: the triage runbook always; add skill:NAME to also "
                        "optimize that skill's SKILL.md body (repeatable)")
    p.add_argument("--seed-strategy", type=Path, default=POOR_RUNBOOK, metavar="PATH",
                   help="the seed triage runbook (default: %(default)s, deliberately poor)")
    p.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG,
                   help="trace log to mine for evidence (read only; default: %(default)s)")
    p.add_argument("--eval-trace-log", type=Path, default=DEFAULT_EVAL_TRACE_LOG,
                   help="where evaluation runs append their trace rows (default: %(default)s)")
    p.add_argument("--max-metric-calls", type=int, default=30,
                   help="budget of the search: real incident runs, validation apart (default: %(default)s)")
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
    p.add_argument("--soak-s", type=float, default=1.0,
                   help="durability soak after the runner's restart, per run (default: %(default)s)")
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


def _seeds_text(seeds) -> str:
    seeds = list(seeds)
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else ",".join(map(str, seeds))


def _skills(values: list[str]) -> tuple[str, ...]:
    names = []
    for value in (v.strip() for item in values for v in item.split(",")):
        if not value or value == "triage":
            continue
        if not value.startswith(SKILL_PREFIX) or not value[len(SKILL_PREFIX):]:
            raise UserError(f"--candidate takes triage or skill:NAME, got {value!r}")
        names.append(value[len(SKILL_PREFIX):])
    return tuple(dict.fromkeys(names))


def config_from_args(args: argparse.Namespace) -> OptimizerConfig:
    problems = [f"{flag} must be >= 1, got {value}" for flag, value in (
        ("--max-metric-calls", args.max_metric_calls), ("--minibatch-size", args.minibatch_size),
        ("--max-iterations", args.max_iterations)) if value is not None and value < 1]
    if not args.verify_interval_s > 0:
        problems.append(f"--verify-interval-s must be > 0, got {args.verify_interval_s}")
    if args.soak_s < 0:
        problems.append(f"--soak-s must be >= 0 seconds, got {args.soak_s}")
    if problems:
        raise UserError("\n".join(problems))
    env_model, env_base_url = OptimizerConfig.env_reflection_lm()
    model = args.reflection_lm or env_model
    if args.proposer == "deterministic":
        model = None
    elif args.proposer == "reflection-lm" and not model:
        raise UserError("--proposer reflection-lm needs a model: pass --reflection-lm MODEL or set LLM_MODEL")
    if model and args.optimizer == "iterative":
        model = None  # the iterative baseline always uses the deterministic proposer
    from openhands_driver.fanout.blind import parse_seeds

    faults_text = args.faults or args.scenarios
    faults = tuple(s.strip() for s in faults_text.split(",") if s.strip()) if faults_text else None
    val_seeds = () if args.val_seeds.strip().lower() == "none" else tuple(parse_seeds(args.val_seeds))
    config = OptimizerConfig(
        optimizer=args.optimizer, training_data=args.training_data, faults=faults,
        train_seeds=tuple(parse_seeds(args.train_seeds)), val_seeds=val_seeds,
        candidate_skills=_skills(args.candidate), soak_s=args.soak_s,
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
             f"  faults    : {', '.join(plan['faults'])} (blind)",
             f"  train     : seeds {plan['train_seeds']} -> {len(plan['incidents'])} incidents",
             f"  validate  : seeds {plan['val_seeds']} -> {plan['validation_planned']}",
             f"  budget    : {plan['max_metric_calls']} real runs — {plan['planned']}",
             f"  seed      : {plan['seed_strategy']} (components: {', '.join(plan['components'])})",
             f"  mined     : {plan['mined_runs']} runs from {plan['mined_trace_log']}",
             f"  output    : {plan['output']} (not written by a dry run)"]
    lines += [f"  diagnose  : {command}" for command in plan["seed_diagnose"]]
    return "\n".join(lines)


def render_result(result: dict) -> str:
    verdict = "IMPROVED" if result["improved"] else "no improvement over the seed"
    lines = [f"{result['optimizer']} optimizer ({result['engine']}, {result['proposer']} proposer, "
             f"gepa {result['gepa_version']}): {result['metric_calls']} real runs "
             f"(budget {result['max_metric_calls']}) on train seeds {result['train_seeds']} — {verdict}",
             f"  seed {result['seed_candidate_id'][:6]}: train score {result['seed_score']:.4f}, "
             f"resolved {result.get('seed_resolved_rate')}, mean steps {result['seed_mean_steps']}",
             f"  best {result['best_candidate_id'][:6]}: train score {result['best_score']:.4f}, "
             f"resolved {result.get('best_resolved_rate')}, mean steps {result['best_mean_steps']}"]
    for scenario, pair in result["by_scenario"].items():
        seed, best = pair["seed"] or {}, pair["best"] or {}
        lines.append(f"    {scenario:24} resolved {seed.get('fixed_runs')}/{seed.get('runs')} -> "
                     f"{best.get('fixed_runs')}/{best.get('runs')}  steps {seed.get('mean_steps')} -> "
                     f"{best.get('mean_steps')}  found by: {', '.join(best.get('found_by') or []) or '-'}")
    validation = result.get("validation")
    if validation:
        lines.append(f"  held-out seeds {result['val_seeds']} ({len(validation['incidents'])} incidents): "
                     f"seed score {validation['seed_score']:.4f} (resolved {validation['seed_resolved_rate']}, "
                     f"diagnosis {validation['seed_diagnosis_accuracy']}) -> best {validation['best_score']:.4f} "
                     f"(resolved {validation['best_resolved_rate']}, diagnosis "
                     f"{validation['best_diagnosis_accuracy']}, steps {validation['best_mean_steps']})")
    kept = sum(c["accepted"] for c in result["candidates"])
    lines += [f"  candidates: {len(result['candidates'])} evaluated, {kept} kept; stop: {result['stop_reason']}",
              f"  result: {result.get('output')}; evaluation traces: {result['trace_log']}",
              f"  use it: uv run python run_demo.py --blind --strategy-source optimizer "
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
        print(error_lines(exc), file=sys.stderr)
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
