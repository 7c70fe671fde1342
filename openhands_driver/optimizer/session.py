"""One optimization, end to end: config -> seed + mined evidence -> search over real runs -> result.

:func:`optimize` is what ``optimize.py`` calls (and what tests call): it resolves the scenarios, reads
the seed strategy, mines the trace log, runs the chosen search with real incident runs, builds the
result dict from the evaluation ledger (so every score traces back to run ids) and writes it.
:func:`plan` is the ``--simulate`` path: it describes the same work without running anything.
"""

from __future__ import annotations

import sys
import time
from importlib import metadata
from statistics import mean
from typing import TextIO

from openhands_driver.errors import UserError
from openhands_driver.optimizer.candidate import COMPONENT, as_candidate, candidate_id, diagnose_commands, load_seed
from openhands_driver.optimizer.config import OPTIMIZERS, OptimizerConfig
from openhands_driver.optimizer.evaluation import Evaluation, Evaluator
from openhands_driver.optimizer.mining import Evidence, mine
from openhands_driver.optimizer.result import RESULT_SCHEMA_VERSION, SearchOutcome, save, validate
from openhands_driver.optimizer.score import SCORING
from openhands_driver.scenarios import Catalog, load_catalog
from openhands_driver.trace import read_rows, utc_now


def gepa_version() -> str:
    try:
        return metadata.version("gepa")
    except metadata.PackageNotFoundError:
        return "not installed"


def resolve_scenarios(config: OptimizerConfig) -> tuple[Catalog, list[str]]:
    catalog = load_catalog(config.training_data)
    if config.scenarios:
        ids = list(dict.fromkeys(config.scenarios))
        for scenario_id in ids:
            scenario = catalog.get(scenario_id)
            if not scenario.runnable:
                raise UserError(f"scenario {scenario_id!r} has no local analogue: {scenario.unsupported_reason}")
    else:
        ids = [s.scenario_id for s in catalog.active() if s.local_fault and s.runnable]
    if not ids:
        raise UserError(f"no runnable fault scenarios in {catalog.path}; pass --scenarios a,b")
    return catalog, ids


def _check(config: OptimizerConfig, scenarios: list[str]) -> None:
    if config.optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {config.optimizer!r}. Valid optimizers: {', '.join(OPTIMIZERS)}")
    if config.max_metric_calls < len(scenarios):
        raise UserError(f"--max-metric-calls {config.max_metric_calls} cannot even evaluate the seed on "
                        f"{len(scenarios)} scenarios; give at least {3 * len(scenarios)} for one improvement step")


def _mined(config: OptimizerConfig) -> Evidence:
    return mine(read_rows(config.trace_log)) if config.trace_log else Evidence()


def plan(config: OptimizerConfig) -> dict:
    """The ``--simulate`` plan: what would run. Nothing starts, no SDK import, no score is claimed."""
    catalog, scenarios = resolve_scenarios(config)
    _check(config, scenarios)
    seed_text = load_seed(config.seed_strategy)
    evidence = _mined(config)
    n, budget = len(scenarios), config.max_metric_calls
    if config.optimizer == "gepa":
        m = max(1, min(config.minibatch_size or 3, n))
        work = (f"gepa.optimize: the seed on {n} scenarios ({n} runs), then up to {(budget - n) // (2 * m)} "
                f"iterations of 2 x {m} runs (parent and child on a minibatch of {m})")
    else:
        work = f"iterative: the seed on {n} scenarios, then up to {(budget - n) // n} refinements of {n} runs"
    model, base_url = config.reflection_lm, config.reflection_base_url
    return {"simulate": True, "note": "plan only: nothing was run and no score is claimed",
            "optimizer": config.optimizer, "gepa_version": gepa_version(),
            "proposer": f"reflection_lm:{model}" if model and config.optimizer == "gepa" else "deterministic",
            "training_data": str(catalog.path), "scenarios": scenarios, "max_metric_calls": budget,
            "planned": work, "seed_strategy": str(config.seed_strategy),
            "seed_candidate": as_candidate(seed_text), "seed_diagnose": diagnose_commands(seed_text),
            "mined_trace_log": str(config.trace_log), "mined_runs": evidence.mined_rows,
            "mined_evidence": evidence.summary(), "trace_log": str(config.eval_trace_log),
            "output": str(config.output_path), "output_written": False, "reflection_base_url": base_url}


def _by_scenario(evaluations: list[Evaluation]) -> dict[str, dict]:
    grouped: dict[str, list[Evaluation]] = {}
    for evaluation in evaluations:
        grouped.setdefault(evaluation.scenario, []).append(evaluation)
    return {scenario: {"score": round(mean(e.score.value for e in runs), 6),
                       "fixed": all(e.score.fixed for e in runs),
                       "fixed_runs": sum(e.score.fixed for e in runs), "runs": len(runs),
                       "mean_steps": round(mean(e.score.steps for e in runs), 3),
                       "found_by": list(runs[-1].attribution.needed),
                       "run_ids": [e.run_id for e in runs]}
            for scenario, runs in grouped.items()}


def _summary(evaluator: Evaluator, cid: str, scenarios: list[str]) -> dict:
    by = _by_scenario(evaluator.for_candidate(cid))
    covered = [s for s in scenarios if s in by]
    return {"score": round(mean(by[s]["score"] for s in covered), 6) if covered else 0.0,
            "mean_steps": round(mean(by[s]["mean_steps"] for s in covered), 3) if covered else None,
            "all_fixed": bool(covered) and all(by[s]["fixed"] for s in covered),
            "complete": len(covered) == len(scenarios), "by_scenario": by}


def build_result(config: OptimizerConfig, scenarios: list[str], outcome: SearchOutcome,
                 evaluator: Evaluator, mined: dict, started: float) -> dict:
    candidates = []
    for cid, text in evaluator.texts.items():
        summary = _summary(evaluator, cid, scenarios)
        candidates.append({
            "candidate_id": cid, "origin": outcome.origins.get(cid, "proposal"),
            "parents": outcome.parents.get(cid, []), "accepted": cid in outcome.accepted,
            "score": summary["score"], "search_score": outcome.search_scores.get(cid),
            "mean_steps": summary["mean_steps"], "all_fixed": summary["all_fixed"],
            "complete": summary["complete"],
            "scenarios_evaluated": [s for s in scenarios if s in summary["by_scenario"]],
            "run_ids": [e.run_id for e in evaluator.for_candidate(cid)],
            "candidate": {COMPONENT: text}})
    for cid, bad in evaluator.invalid.items():
        candidates.append({"candidate_id": cid, "origin": outcome.origins.get(cid, "proposal"),
                           "parents": outcome.parents.get(cid, []), "accepted": False, "score": 0.0,
                           "invalid": bad["problem"], "run_ids": [], "candidate": {COMPONENT: bad["text"]}})
    seed_id, best_id = candidate_id(outcome.seed_text), candidate_id(outcome.best_text)
    seed, best = _summary(evaluator, seed_id, scenarios), _summary(evaluator, best_id, scenarios)
    return {
        "schema_version": RESULT_SCHEMA_VERSION, "simulate": False,
        "optimizer": config.optimizer, "engine": outcome.engine, "proposer": outcome.proposer,
        "gepa_version": gepa_version(), "component": COMPONENT,
        "seed_strategy": str(config.seed_strategy), "training_data": str(config.training_data or ""),
        "scenarios": scenarios,
        "seed_candidate": as_candidate(outcome.seed_text), "seed_candidate_id": seed_id,
        "seed_score": seed["score"], "seed_mean_steps": seed["mean_steps"],
        "best_candidate": as_candidate(outcome.best_text), "best_candidate_id": best_id,
        "best_score": best["score"], "best_mean_steps": best["mean_steps"],
        "improved": best["score"] > seed["score"],
        "by_scenario": {s: {"seed": seed["by_scenario"].get(s), "best": best["by_scenario"].get(s)}
                        for s in scenarios},
        "candidates": candidates,
        "metric_calls": evaluator.metric_calls, "max_metric_calls": config.max_metric_calls,
        "search_reported_metric_calls": outcome.reported_metric_calls, "stop_reason": outcome.stop_reason,
        "seed": config.seed, "scoring": SCORING,
        "trace_log": str(evaluator.trace_log), "mined_trace_log": str(config.trace_log),
        "mined_runs": mined["runs"], "mined_evidence": mined["evidence"],
        "evaluations": [e.to_dict() for e in evaluator.ledger],
        "run_ids": [e.run_id for e in evaluator.ledger],
        "created_at": utc_now(), "duration_s": round(time.monotonic() - started, 3)}


def optimize(config: OptimizerConfig, *, console: TextIO | None = None) -> dict:
    """Run the optimizer for real and write the result file; returns the result dict."""
    if config.simulate:
        return plan(config)
    started = time.monotonic()
    console = console or sys.stderr
    catalog, scenarios = resolve_scenarios(config)
    _check(config, scenarios)
    seed_text = load_seed(config.seed_strategy)
    evidence = _mined(config) if config.optimizer == "gepa" else Evidence()
    mined = {"runs": evidence.mined_rows, "evidence": evidence.summary()}
    evaluator = Evaluator(trace_log=config.eval_trace_log, evidence=evidence,
                          training_data=config.training_data, verify_interval_s=config.verify_interval_s,
                          max_iterations=config.max_iterations, budget=config.max_metric_calls,
                          console=console, verbose=config.verbose)
    print(f"[optimize] {config.optimizer}: {len(scenarios)} scenarios ({', '.join(scenarios)}), "
          f"budget {config.max_metric_calls} runs, seed {config.seed_strategy}, "
          f"{evidence.mined_rows} mined runs; evaluation rows -> {config.eval_trace_log}",
          file=console, flush=True)
    if config.optimizer == "gepa":
        from openhands_driver.optimizer.gepa_search import run_gepa
        from openhands_driver.optimizer.proposer import Proposer

        incidents = {s: catalog.get(s).error_report for s in scenarios}
        outcome = run_gepa(seed_text, scenarios, evaluator, Proposer(evidence, scenarios, evaluator.seen),
                           max_metric_calls=config.max_metric_calls, seed=config.seed,
                           minibatch_size=config.minibatch_size, incident_texts=incidents,
                           lm_model=config.reflection_lm, lm_base_url=config.reflection_base_url,
                           console=console, verbose=config.verbose)
    else:
        from openhands_driver.optimizer.iterative import run_iterative

        outcome = run_iterative(seed_text, scenarios, evaluator, max_metric_calls=config.max_metric_calls)
    result = build_result(config, scenarios, outcome, evaluator, mined, started)
    problems = validate(result)
    if problems:  # an internal failure: keep the evidence, say what is wrong
        raise RuntimeError(f"optimizer result failed validation: {problems}")
    save(result, config.output_path)
    result["output"] = str(config.output_path)
    return result
