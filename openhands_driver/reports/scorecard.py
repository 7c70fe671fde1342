"""The approach scorecard: baseline vs optimized strategies, measured in one sitting.

Approaches (each a way to build the run's strategy):
- ``baseline``: the generic triage checklist (``--mode baseline``, no skills);
- ``optimized-skills``: the skills (``--strategy-source skills``: the routed skill, or blind the
  skill catalog with the generic triage checklist);
- ``optimized-manual``: the hand-tuned triage runbook with the skills (``--strategy-source manual``);
- ``optimized-gepa`` / ``optimized-iterative``: the best candidate of an ``optimize.py`` result file
  (``--strategy-source optimizer``). A missing or unusable file is reported as such, with the command
  that creates it; that approach then has no runs.
:func:`run_scorecard` runs every approach on the same scenarios and repeats (interleaved, so machine
noise spreads evenly), then computes the figures from the trace rows those runs wrote
(:func:`scorecard_from_rows`, which tests also call on a fixture log). With ``blind`` and ``seeds``
every approach gets the same blind incidents: each fault class (the scenarios' fault classes) drawn
from each variant seed, paged with a symptom-level alert only; the figures then include the resolved
rate (the runner's proof) and the diagnosis accuracy (the reported cause against the ground truth).
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from openhands_driver import verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.optimizer.candidate import skill_overrides
from openhands_driver.optimizer.result import DEFAULT_ITERATIVE_RESULT, DEFAULT_OPTIMIZER_RESULT, create_command, load
from openhands_driver.paths import DEFAULT_TRACE_LOG
from openhands_driver.reports.stats import records, summarize
from openhands_driver.reports.table import text_table
from openhands_driver.scenarios import load_catalog
from openhands_driver.trace import read_rows

APPROACHES = ("baseline", "optimized-skills", "optimized-manual", "optimized-gepa", "optimized-iterative")
# The short names people type (the skills-first approach is "skills"): same approaches.
ALIASES = {"skills": "optimized-skills", "skills-first": "optimized-skills", "manual": "optimized-manual",
           "gepa": "optimized-gepa", "iterative": "optimized-iterative", "optimized": "optimized-skills"}


def approach_names(names) -> tuple[str, ...]:
    """Approach names with aliases resolved (order kept, duplicates dropped)."""
    return tuple(dict.fromkeys(ALIASES.get(name, name) for name in names))
HEADERS = ["approach", "runs", "success", "resolved", "diagnosis", "mean steps", "p50 s", "p95 s",
           "tokens in/out", "mean cost $"]


@dataclass
class ScorecardConfig:
    scenarios: tuple[str, ...] | None = None   # None: the catalog's active fault scenarios
    repeats: int = 1
    approaches: tuple[str, ...] = APPROACHES
    simulate: bool = False  # print the plan only
    gepa_result: Path = DEFAULT_OPTIMIZER_RESULT
    iterative_result: Path = DEFAULT_ITERATIVE_RESULT
    training_data: Path | None = None
    trace_log: Path = DEFAULT_TRACE_LOG
    verify_interval_s: float = verifier.DEFAULT_INTERVAL_S
    max_iterations: int = 40
    blind: bool = False                        # blind incidents: each fault class x each seed
    seeds: tuple[int, ...] = ()                # variant seeds (blind needs at least one)
    soak_s: float = 3.0                        # durability soak of the runner's proof


def _result_file(config: ScorecardConfig, name: str) -> Path | None:
    return {"optimized-gepa": config.gepa_result, "optimized-iterative": config.iterative_result}.get(name)


def check_sources(config: ScorecardConfig) -> tuple[dict[str, str], dict[str, dict]]:
    """({approach: why it cannot run}, {approach: facts about its result file})."""
    missing, sources = {}, {}
    for name in config.approaches:
        path = _result_file(config, name)
        if path is None:
            continue
        try:
            data = load(path)
        except UserError as exc:
            optimizer = name.removeprefix("optimized-")
            missing[name] = (f"{exc}" if Path(path).exists() else
                             f"no result file at {path}; create it with: {create_command(path, optimizer)}")
            continue
        sources[name] = {"result_file": str(path), "optimizer": data["optimizer"],
                         "trained_on": data.get("scenarios"), "result_best_score": data["best_score"],
                         "train_seeds": data.get("train_seeds"),
                         "skill_overrides": sorted(skill_overrides(data["best_candidate"]))}
        overlap = sorted(set(data.get("train_seeds") or []) & set(config.seeds)) if config.blind else []
        if overlap:  # the figures on these seeds are not held out
            sources[name]["seeds_seen_in_training"] = overlap
    return missing, sources


def approach_run_config(config: ScorecardConfig, name: str, scenario: str, run_id: str,
                        seed: int | None = None, training_data: Path | None = None) -> RunConfig:
    common = dict(scenario=scenario, training_data=training_data or config.training_data,
                  trace_log=config.trace_log, run_id=run_id, verify_interval_s=config.verify_interval_s,
                  max_iterations=config.max_iterations, blind=config.blind, variant_seed=seed,
                  soak_s=config.soak_s)
    if name == "baseline":
        return RunConfig(mode="baseline", **common)
    if name == "optimized-skills":
        return RunConfig(mode="optimized", strategy_source="skills", **common)
    if name == "optimized-manual":
        return RunConfig(mode="optimized", strategy_source="manual", **common)
    path = _result_file(config, name)
    if path is None:
        raise UserError(f"unknown approach {name!r}. Valid approaches: {', '.join(APPROACHES)}")
    overrides = skill_overrides(load(path)["best_candidate"]) or None  # a skill candidate, if any
    return RunConfig(mode="optimized", strategy_source="optimizer", optimizer_result=path,
                     skill_overrides=overrides, **common)


def scorecard_from_rows(rows: list[dict], run_ids: dict[str, list[str]],
                        missing: dict[str, str] | None = None, sources: dict[str, dict] | None = None) -> dict:
    """The figures per approach, from the trace rows of that approach's run ids."""
    missing, sources = missing or {}, sources or {}
    by_id = {row.get("run_id"): row for row in rows}
    approaches = []
    for name, ids in run_ids.items():
        found = [by_id[i] for i in ids if i in by_id]
        items, bad = records(found)
        stats = summarize(items)
        approaches.append({"name": name, **stats.to_dict(), **proof_figures(found), "run_ids": ids,
                           "rows_missing": len(ids) - len(found) + bad, "missing": missing.get(name),
                           **sources.get(name, {})})
    return {"approaches": approaches}


def proof_figures(rows: list[dict]) -> dict:
    """Resolved rate and diagnosis accuracy over the runs (rows with the runner's proof only)."""
    runs = [r for r in rows if not r.get("simulate") and r.get("status") not in ("simulated", "interrupted")]
    proven = [r for r in runs if r.get("resolved") is not None]
    judged = [r for r in runs if r.get("diagnosis") is not None]
    resolved = sum(bool(r["resolved"]) for r in proven)
    correct = sum(bool(r["diagnosis"].get("correct")) for r in judged)
    return {"resolved": resolved, "resolved_rate": round(resolved / len(proven), 3) if proven else None,
            "diagnosis_correct": correct,
            "diagnosis_accuracy": round(correct / len(judged), 3) if judged else None}


def run_scorecard(config: ScorecardConfig, *, console: TextIO | None = None) -> dict:
    """Run every approach on every scenario, ``repeats`` times, and return the scorecard."""
    console = console or sys.stderr
    config.approaches = approach_names(config.approaches)
    unknown = [a for a in config.approaches if a not in APPROACHES]
    if unknown:
        raise UserError(f"unknown approach(es) {', '.join(unknown)}. Valid: {', '.join(APPROACHES)} "
                        f"(or {', '.join(ALIASES)})")
    if config.repeats < 1:
        raise UserError("--repeats must be at least 1")
    if config.blind and not config.seeds:
        raise UserError("--blind needs --seeds A-B: the variant seeds every approach runs on")
    if config.seeds and not config.blind:
        raise UserError("--seeds draws blind incidents: add --blind")
    blind_catalog, tmp = None, None
    if config.blind:  # every approach, the same blind incidents: each fault class x each seed
        import tempfile

        from openhands_driver.fanout.blind import fault_classes, write_catalog

        scenarios = fault_classes(",".join(config.scenarios) if config.scenarios else None)
        tmp = tempfile.TemporaryDirectory(prefix="scorecard-catalog-")
        blind_catalog = write_catalog(scenarios, Path(tmp.name))
    else:
        catalog = load_catalog(config.training_data)
        scenarios = list(config.scenarios or [s.scenario_id for s in catalog.active() if s.local_fault])
        for scenario in scenarios:
            catalog.get(scenario)
    if config.simulate:
        if tmp is not None:
            tmp.cleanup()
        return plan(config, scenarios)
    try:
        return _run(config, scenarios, blind_catalog, console)
    finally:
        if tmp is not None:
            tmp.cleanup()


def plan(config: ScorecardConfig, scenarios: list[str]) -> dict:
    """``--simulate``: the comparison's plan (approaches x scenarios [x seeds] x repeats); no runs,
    no figures."""
    missing, _ = check_sources(config)
    runnable = [a for a in config.approaches if a not in missing]
    seeds = list(config.seeds) if config.blind else [None]
    return {"simulate": True, "note": "dry run: nothing was run, no results are claimed",
            "approaches": list(config.approaches), "scenarios": scenarios, "seeds": list(config.seeds),
            "repeats": config.repeats, "blind": config.blind, "missing": missing,
            "runs_planned": len(runnable) * len(scenarios) * len(seeds) * config.repeats,
            "trace_log": str(config.trace_log)}


def render_plan(card: dict) -> str:
    lines = [f"DRY RUN — {card['note']}",
             f"  approaches: {', '.join(card['approaches'])}",
             f"  scenarios : {', '.join(card['scenarios'])}" + (f" (blind, seeds {card['seeds']})" if card["blind"] else ""),
             f"  repeats   : {card['repeats']}",
             f"  runs      : {card['runs_planned']} real incident runs would be made"]
    lines += [f"  {name}: MISSING — {why}" for name, why in card["missing"].items()]
    return "\n".join(lines)


def _run(config: ScorecardConfig, scenarios: list[str], blind_catalog: Path | None, console: TextIO) -> dict:
    missing, sources = check_sources(config)
    for name, why in missing.items():
        print(f"[scorecard] {name}: MISSING — {why}", file=console, flush=True)
    from openhands_driver.runner import run_incident

    session = time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4]
    run_ids: dict[str, list[str]] = {name: [] for name in config.approaches}
    started = time.monotonic()
    seeds: list[int | None] = list(config.seeds) if config.blind else [None]
    for repeat in range(1, config.repeats + 1):
        for seed in seeds:
            for scenario in scenarios:
                for name in config.approaches:
                    if name in missing:
                        continue
                    tag = f"-s{seed}" if seed is not None else ""
                    run_id = f"score-{session}-{name}-{scenario}{tag}-r{repeat}"
                    result = run_incident(approach_run_config(config, name, scenario, run_id, seed, blind_catalog),
                                          console=_Sink())
                    run_ids[name].append(run_id)
                    proof = "" if result.resolved is None else (
                        f", {'resolved' if result.resolved else 'NOT resolved'}, diagnosis "
                        f"{'correct' if (result.diagnosis or {}).get('correct') else 'wrong'}")
                    print(f"[scorecard] {name} {scenario}{' seed ' + str(seed) if seed is not None else ''} "
                          f"#{repeat}: {result.status}{proof}, {result.step_count} steps, {result.duration_s}s",
                          file=console, flush=True)
                    if result.status == "interrupted":
                        raise KeyboardInterrupt
    rows = read_rows(config.trace_log)
    rows.warn(console)
    card = scorecard_from_rows(rows, run_ids, missing, sources)
    card["skipped_lines"] = rows.skipped_lines
    card.update({"scenarios": scenarios, "repeats": config.repeats, "trace_log": str(config.trace_log),
                 "blind": config.blind, "seeds": list(config.seeds),
                 "duration_s": round(time.monotonic() - started, 3)})
    return card


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def render_text(card: dict) -> str:
    rows = []
    for a in card["approaches"]:
        if a["missing"]:
            rows.append([a["name"], 0, "MISSING", None, None, None, None, None, None, None])
            continue
        success = f"{a['fixed']}/{a['runs']} ({a['success_rate']:.0%})" if a["runs"] else "-"
        resolved = (f"{a['resolved']}/{a['runs']} ({a['resolved_rate']:.0%})"
                    if a.get("resolved_rate") is not None else "-")
        diagnosis = f"{a['diagnosis_accuracy']:.0%}" if a.get("diagnosis_accuracy") is not None else "-"
        rows.append([a["name"], a["runs"], success, resolved, diagnosis, a["mean_steps"], a["p50_s"],
                     a["p95_s"], f"{a['tokens_in']}/{a['tokens_out']}", a["mean_cost_usd"]])
    seeds = card.get("seeds") or []
    what = (f"blind incidents of {', '.join(card.get('scenarios', []))} x seeds {_seed_text(seeds)}"
            if card.get("blind") else f"scenarios {', '.join(card.get('scenarios', []))}")
    head = (f"Approach scorecard — {what}; {card.get('repeats', 1)} repeat(s); "
            f"trace {card.get('trace_log', '-')}")
    notes = [f"  {a['name']}: {a['missing']}" for a in card["approaches"] if a["missing"]]
    seen = [f"  {a['name']}: seeds {a['seeds_seen_in_training']} were training seeds of its result file"
            for a in card["approaches"] if a.get("seeds_seen_in_training")]
    if seen:
        notes_head = ["not held out:"] + seen
    else:
        notes_head = []
    return "\n".join([head, text_table(HEADERS, rows), *(["missing approaches:"] + notes if notes else []),
                      *notes_head])


def _seed_text(seeds: list[int]) -> str:
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds)) or "-"
