"""One optimization, end to end: config -> seed + mined evidence -> search over real blind runs ->
held-out validation -> result.

:func:`optimize` is what ``optimize.py`` calls (and what tests call): it resolves the fault classes
and the train / validation incidents (``fault@seed``: disjoint seed sets), reads the seed candidate,
mines the trace log, runs the chosen search on the training incidents only, then re-runs the seed and
the best candidate on the held-out validation incidents, builds the result dict from the evaluation
ledgers (so every score traces back to run ids) and writes it. :func:`plan` is the ``--simulate``
path: it describes the same work without running anything.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from statistics import mean
from typing import TextIO

from openhands_driver.errors import UserError
from openhands_driver.optimizer.candidate import (COMPONENT, SKILL_PREFIX, candidate_id, diagnose_commands,
                                                  load_seed)
from openhands_driver.optimizer.config import DEFAULT_FAULTS, OPTIMIZERS, OptimizerConfig
from openhands_driver.optimizer.evaluation import Evaluation, Evaluator, incident_key
from openhands_driver.optimizer.mining import Evidence, mine
from openhands_driver.optimizer.result import RESULT_SCHEMA_VERSION, SearchOutcome, save, validate
from openhands_driver.optimizer.score import SCORING
from openhands_driver.trace import read_rows, utc_now


def gepa_version() -> str:
    try:
        return metadata.version("gepa")
    except metadata.PackageNotFoundError:
        return "not installed"


def resolve_faults(config: OptimizerConfig) -> list[str]:
    """The fault classes to optimize on (each must have a fault-class module)."""
    from openhands_driver.fanout.blind import fault_classes

    chosen = config.faults or config.scenarios
    if chosen:
        return fault_classes(",".join(chosen))
    known = fault_classes(None)
    return [f for f in DEFAULT_FAULTS if f in known] or known


def incidents(faults: list[str], seeds: tuple[int, ...] | list[int]) -> list[str]:
    """``fault@seed`` for every seed and fault (seed-major: each seed covers every fault)."""
    return [incident_key(fault, seed) for seed in seeds for fault in faults]


def resolve_incidents(config: OptimizerConfig) -> tuple[list[str], list[str], list[str]]:
    """(faults, training incidents, validation incidents); UserError on overlapping seeds."""
    faults = resolve_faults(config)
    if not faults:
        raise UserError("no fault classes to optimize on; pass --faults a,b")
    if not config.train_seeds:
        raise UserError("--train-seeds is empty")
    overlap = sorted(set(config.train_seeds) & set(config.val_seeds))
    if overlap:
        raise UserError(f"--train-seeds and --val-seeds must be disjoint (validation is held out); "
                        f"both have {', '.join(map(str, overlap))}")
    return faults, incidents(faults, config.train_seeds), incidents(faults, config.val_seeds)


def seed_candidate(config: OptimizerConfig) -> dict[str, str]:
    """The seed: the triage runbook, plus the current body of every ``--candidate skill:<name>``."""
    candidate = {COMPONENT: load_seed(config.seed_strategy)}
    if config.candidate_skills:
        from openhands_driver.skills import load_skills

        skills = load_skills()
        for name in config.candidate_skills:
            if name not in skills:
                raise UserError(f"--candidate skill:{name}: unknown skill; known: {', '.join(skills)}")
            candidate[SKILL_PREFIX + name] = skills[name].body.strip() + "\n"
    return candidate


def _check(config: OptimizerConfig, train: list[str]) -> None:
    if config.optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {config.optimizer!r}. Valid optimizers: {', '.join(OPTIMIZERS)}")
    if config.max_metric_calls < len(train):
        raise UserError(f"--max-metric-calls {config.max_metric_calls} cannot even evaluate the seed on "
                        f"{len(train)} training incidents; give at least {len(train) + 6} for one "
                        "improvement step (or fewer --faults / --train-seeds)")


def _mined(config: OptimizerConfig) -> Evidence:
    return mine(read_rows(config.trace_log)) if config.trace_log else Evidence()


def plan(config: OptimizerConfig) -> dict:
    """The ``--simulate`` plan: what would run. Nothing starts, no SDK import, no score is claimed."""
    faults, train, val = resolve_incidents(config)
    _check(config, train)
    seed = seed_candidate(config)
    evidence = _mined(config)
    n, budget = len(train), config.max_metric_calls
    if config.optimizer == "gepa":
        m = max(1, min(config.minibatch_size or 3, n))
        work = (f"gepa.optimize: the seed on {n} training incidents ({n} runs), then iterations of {m} "
                f"runs (a child on a minibatch of {m}; the parent's runs are reused) plus {n - m} when the "
                f"child is kept; it stops when one more could pass the budget")
    else:
        work = f"iterative: the seed on {n} training incidents, then up to {(budget - n) // n} refinements of {n} runs"
    model, base_url = config.reflection_lm, config.reflection_base_url
    return {"simulate": True, "note": "plan only: nothing was run and no score is claimed",
            "optimizer": config.optimizer, "gepa_version": gepa_version(),
            "proposer": f"reflection_lm:{model}" if model and config.optimizer == "gepa" else "deterministic",
            "blind": True, "faults": faults, "scenarios": faults, "incidents": train,
            "train_seeds": list(config.train_seeds), "val_seeds": list(config.val_seeds),
            "validation_incidents": val,
            "validation_planned": f"the seed and the best candidate on {len(val)} held-out incidents "
                                  f"(up to {2 * len(val)} runs, outside the search budget)",
            "max_metric_calls": budget, "planned": work, "seed_strategy": str(config.seed_strategy),
            "seed_candidate": seed, "components": list(seed), "seed_diagnose": diagnose_commands(seed[COMPONENT]),
            "mined_trace_log": str(config.trace_log), "mined_runs": evidence.mined_rows,
            "mined_evidence": evidence.summary(), "trace_log": str(config.eval_trace_log),
            "output": str(config.output_path), "output_written": False, "reflection_base_url": base_url}


def _group(evaluations: list[Evaluation], key) -> dict[str, dict]:
    grouped: dict[str, list[Evaluation]] = {}
    for evaluation in evaluations:
        grouped.setdefault(key(evaluation), []).append(evaluation)
    return {name: {"score": round(mean(e.score.value for e in runs), 6),
                   "fixed": all(e.score.fixed for e in runs),
                   "fixed_runs": sum(e.score.fixed for e in runs), "runs": len(runs),
                   "diagnosis_correct_runs": sum(bool(e.score.diagnosis_correct) for e in runs),
                   "mean_steps": round(mean(e.score.steps for e in runs), 3),
                   "found_by": list(dict.fromkeys(c for e in runs for c in e.attribution.needed)),
                   "run_ids": [e.run_id for e in runs]}
            for name, runs in grouped.items()}


def _summary(evaluations: list[Evaluation], incidents_: list[str]) -> dict:
    """Mean score over the incidents covered (each incident's runs averaged first)."""
    by_incident = _group(evaluations, lambda e: e.incident)
    covered = [i for i in incidents_ if i in by_incident]
    runs = [e for e in evaluations if e.incident in covered]
    return {"score": round(mean(by_incident[i]["score"] for i in covered), 6) if covered else 0.0,
            "mean_steps": round(mean(by_incident[i]["mean_steps"] for i in covered), 3) if covered else None,
            "all_fixed": bool(covered) and all(by_incident[i]["fixed"] for i in covered),
            "resolved_rate": round(sum(e.score.fixed for e in runs) / len(runs), 6) if runs else None,
            "diagnosis_accuracy": round(sum(bool(e.score.diagnosis_correct) for e in runs) / len(runs), 6)
            if runs else None,
            "complete": len(covered) == len(incidents_), "by_incident": by_incident,
            "by_scenario": _group(runs, lambda e: e.scenario)}


def _validate_best(evaluator: Evaluator, outcome: SearchOutcome, val: list[str]) -> dict:
    """Re-run the seed and the best candidate on the held-out incidents."""
    seed_id, best_id = candidate_id(outcome.seed_candidate), candidate_id(outcome.best_candidate)
    seed_runs = evaluator.evaluate_all(outcome.seed_candidate, val, phase="validation")
    best_runs = seed_runs if best_id == seed_id else evaluator.evaluate_all(
        outcome.best_candidate, val, phase="validation")
    seed, best = _summary(seed_runs, val), _summary(best_runs, val)
    return {"incidents": val, "seed_candidate_id": seed_id, "best_candidate_id": best_id,
            "seed_score": seed["score"], "best_score": best["score"],
            "seed_resolved_rate": seed["resolved_rate"], "best_resolved_rate": best["resolved_rate"],
            "seed_diagnosis_accuracy": seed["diagnosis_accuracy"],
            "best_diagnosis_accuracy": best["diagnosis_accuracy"],
            "seed_mean_steps": seed["mean_steps"], "best_mean_steps": best["mean_steps"],
            "improved": best["score"] > seed["score"],
            "runs": [e.to_dict() for e in evaluator.validation],
            "run_ids": [e.run_id for e in evaluator.validation]}


def build_result(config: OptimizerConfig, faults: list[str], train: list[str], outcome: SearchOutcome,
                 evaluator: Evaluator, mined: dict, started: float, validation: dict | None) -> dict:
    candidates = []
    for cid, candidate in evaluator.texts.items():
        summary = _summary(evaluator.for_candidate(cid), train)
        if not summary["by_incident"]:
            continue  # only run in validation (the seed or best appear anyway)
        candidates.append({
            "candidate_id": cid, "origin": outcome.origins.get(cid, "proposal"),
            "parents": outcome.parents.get(cid, []), "accepted": cid in outcome.accepted,
            "score": summary["score"], "search_score": outcome.search_scores.get(cid),
            "mean_steps": summary["mean_steps"], "all_fixed": summary["all_fixed"],
            "resolved_rate": summary["resolved_rate"], "diagnosis_accuracy": summary["diagnosis_accuracy"],
            "complete": summary["complete"],
            "scenarios_evaluated": [i for i in train if i in summary["by_incident"]],
            "run_ids": [e.run_id for e in evaluator.for_candidate(cid)],
            "candidate": dict(candidate)})
    for cid, bad in evaluator.invalid.items():
        candidates.append({"candidate_id": cid, "origin": outcome.origins.get(cid, "proposal"),
                           "parents": outcome.parents.get(cid, []), "accepted": False, "score": 0.0,
                           "invalid": bad["problem"], "run_ids": [], "candidate": bad["candidate"]})
    seed_id, best_id = candidate_id(outcome.seed_candidate), candidate_id(outcome.best_candidate)
    seed = _summary(evaluator.for_candidate(seed_id), train)
    best = _summary(evaluator.for_candidate(best_id), train)
    return {
        "schema_version": RESULT_SCHEMA_VERSION, "simulate": False,
        "optimizer": config.optimizer, "engine": outcome.engine, "proposer": outcome.proposer,
        "gepa_version": gepa_version(), "component": COMPONENT, "components": list(outcome.seed_candidate),
        "seed_strategy": str(config.seed_strategy), "training_data": str(config.training_data or ""),
        "blind": True, "faults": faults, "scenarios": faults, "incidents": train,
        "train_seeds": list(config.train_seeds), "val_seeds": list(config.val_seeds),
        "seed_candidate": dict(outcome.seed_candidate), "seed_candidate_id": seed_id,
        "seed_score": seed["score"], "seed_mean_steps": seed["mean_steps"],
        "seed_resolved_rate": seed["resolved_rate"],
        "best_candidate": dict(outcome.best_candidate), "best_candidate_id": best_id,
        "best_score": best["score"], "best_mean_steps": best["mean_steps"],
        "best_resolved_rate": best["resolved_rate"],
        "improved": best["score"] > seed["score"],
        "by_scenario": {f: {"seed": seed["by_scenario"].get(f), "best": best["by_scenario"].get(f)}
                        for f in faults},
        "by_incident": {i: {"seed": seed["by_incident"].get(i), "best": best["by_incident"].get(i)}
                        for i in train},
        "validation": validation,
        "candidates": candidates,
        "metric_calls": evaluator.metric_calls, "max_metric_calls": config.max_metric_calls,
        "search_reported_metric_calls": outcome.reported_metric_calls, "stop_reason": outcome.stop_reason,
        "seed": config.seed, "scoring": SCORING, "soak_s": config.soak_s,
        "trace_log": str(evaluator.trace_log), "mined_trace_log": str(config.trace_log),
        "mined_runs": mined["runs"], "mined_evidence": mined["evidence"],
        "evaluations": [e.to_dict() for e in evaluator.ledger],
        "run_ids": [e.run_id for e in evaluator.ledger],
        "created_at": utc_now(), "duration_s": round(time.monotonic() - started, 3),
        # the reference design's field names, for readers written against it (same facts as above)
        **design_fields(outcome.best_candidate, best["score"], config.optimizer,
                        {f: best["by_scenario"].get(f) for f in faults})}


def design_fields(best_candidate: dict, score: float, optimizer: str, breakdown: dict) -> dict:
    """``hint`` (the best strategy text), ``score``, ``optimizer``, ``timestamp``, ``scenario_breakdown``."""
    return {"hint": str(best_candidate.get(COMPONENT, "")).strip(), "score": score, "optimizer": optimizer,
            "timestamp": utc_now(), "scenario_breakdown": breakdown}


def optimize(config: OptimizerConfig, *, console: TextIO | None = None) -> dict:
    """Run the optimizer for real and write the result file; returns the result dict."""
    if config.simulate:
        return plan(config)
    started = time.monotonic()
    console = console or sys.stderr
    faults, train, val = resolve_incidents(config)
    _check(config, train)
    seed = seed_candidate(config)
    evidence = _mined(config) if config.optimizer == "gepa" else Evidence()
    mined = {"runs": evidence.mined_rows, "evidence": evidence.summary()}
    from openhands_driver.fanout.blind import write_catalog

    catalog_dir = Path(tempfile.mkdtemp(prefix="optimize-catalog-"))
    try:
        evaluator = Evaluator(trace_log=config.eval_trace_log, evidence=evidence,
                              training_data=write_catalog(faults, catalog_dir),
                              verify_interval_s=config.verify_interval_s, soak_s=config.soak_s,
                              max_iterations=config.max_iterations, budget=config.max_metric_calls,
                              console=console, verbose=config.verbose)
        print(f"[optimize] {config.optimizer}: blind incidents of {', '.join(faults)}; train seeds "
              f"{list(config.train_seeds)} ({len(train)} incidents), held-out seeds {list(config.val_seeds)}; "
              f"budget {config.max_metric_calls} runs, seed {config.seed_strategy}, "
              f"{evidence.mined_rows} mined runs; evaluation rows -> {config.eval_trace_log}",
              file=console, flush=True)
        if config.optimizer == "gepa":
            from openhands_driver.optimizer.gepa_search import run_gepa
            from openhands_driver.optimizer.proposer import Proposer

            outcome = run_gepa(seed, train, evaluator, Proposer(evidence, train, evaluator.seen),
                               max_metric_calls=config.max_metric_calls, rng_seed=config.seed,
                               minibatch_size=config.minibatch_size,
                               lm_model=config.reflection_lm, lm_base_url=config.reflection_base_url,
                               console=console, verbose=config.verbose)
        else:
            from openhands_driver.optimizer.iterative import run_iterative

            outcome = run_iterative(seed, train, evaluator, max_metric_calls=config.max_metric_calls)
        validation = _validate_best(evaluator, outcome, val) if val else None
    finally:
        shutil.rmtree(catalog_dir, ignore_errors=True)
    result = build_result(config, faults, train, outcome, evaluator, mined, started, validation)
    problems = validate(result)
    if problems:  # an internal failure: keep the evidence, say what is wrong
        raise RuntimeError(f"optimizer result failed validation: {problems}")
    save(result, config.output_path)
    result["output"] = str(config.output_path)
    return result
