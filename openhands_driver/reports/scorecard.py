"""The approach scorecard: baseline vs optimized strategies, measured in one sitting.

Approaches (each a way to build the run's strategy):
- ``baseline``: the generic triage checklist (``--mode baseline``);
- ``optimized-manual``: the hand-tuned runbook (``--strategy-source manual``);
- ``optimized-gepa`` / ``optimized-iterative``: the best candidate of an ``optimize.py`` result file
  (``--strategy-source optimizer``). A missing or unusable file is reported as such, with the command
  that creates it; that approach then has no runs.
:func:`run_scorecard` runs every approach on the same scenarios and repeats (interleaved, so machine
noise spreads evenly), then computes the figures from the trace rows those runs wrote
(:func:`scorecard_from_rows`, which tests also call on a fixture log).
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
from openhands_driver.optimizer.result import DEFAULT_ITERATIVE_RESULT, DEFAULT_OPTIMIZER_RESULT, create_command, load
from openhands_driver.paths import DEFAULT_TRACE_LOG
from openhands_driver.reports.stats import records, summarize
from openhands_driver.reports.table import text_table
from openhands_driver.scenarios import load_catalog
from openhands_driver.trace import read_rows

APPROACHES = ("baseline", "optimized-manual", "optimized-gepa", "optimized-iterative")
HEADERS = ["approach", "runs", "success", "mean steps", "p50 s", "p95 s", "tokens in/out", "mean cost $"]


@dataclass
class ScorecardConfig:
    scenarios: tuple[str, ...] | None = None   # None: the catalog's active fault scenarios
    repeats: int = 1
    approaches: tuple[str, ...] = APPROACHES
    gepa_result: Path = DEFAULT_OPTIMIZER_RESULT
    iterative_result: Path = DEFAULT_ITERATIVE_RESULT
    training_data: Path | None = None
    trace_log: Path = DEFAULT_TRACE_LOG
    verify_interval_s: float = verifier.DEFAULT_INTERVAL_S
    max_iterations: int = 40


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
                         "trained_on": data.get("scenarios"), "result_best_score": data["best_score"]}
    return missing, sources


def approach_run_config(config: ScorecardConfig, name: str, scenario: str, run_id: str) -> RunConfig:
    common = dict(scenario=scenario, training_data=config.training_data, trace_log=config.trace_log,
                  run_id=run_id, verify_interval_s=config.verify_interval_s,
                  max_iterations=config.max_iterations)
    if name == "baseline":
        return RunConfig(mode="baseline", **common)
    if name == "optimized-manual":
        return RunConfig(mode="optimized", strategy_source="manual", **common)
    path = _result_file(config, name)
    if path is None:
        raise UserError(f"unknown approach {name!r}. Valid approaches: {', '.join(APPROACHES)}")
    return RunConfig(mode="optimized", strategy_source="optimizer", optimizer_result=path, **common)


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
        approaches.append({"name": name, **stats.to_dict(), "run_ids": ids,
                           "rows_missing": len(ids) - len(found) + bad, "missing": missing.get(name),
                           **sources.get(name, {})})
    return {"approaches": approaches}


def run_scorecard(config: ScorecardConfig, *, console: TextIO | None = None) -> dict:
    """Run every approach on every scenario, ``repeats`` times, and return the scorecard."""
    console = console or sys.stderr
    unknown = [a for a in config.approaches if a not in APPROACHES]
    if unknown:
        raise UserError(f"unknown approach(es) {', '.join(unknown)}. Valid: {', '.join(APPROACHES)}")
    if config.repeats < 1:
        raise UserError("--repeats must be at least 1")
    catalog = load_catalog(config.training_data)
    scenarios = list(config.scenarios or [s.scenario_id for s in catalog.active() if s.local_fault])
    for scenario in scenarios:
        catalog.get(scenario)
    missing, sources = check_sources(config)
    for name, why in missing.items():
        print(f"[scorecard] {name}: MISSING — {why}", file=console, flush=True)
    from openhands_driver.runner import run_incident

    session = time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4]
    run_ids: dict[str, list[str]] = {name: [] for name in config.approaches}
    started = time.monotonic()
    for repeat in range(1, config.repeats + 1):
        for scenario in scenarios:
            for name in config.approaches:
                if name in missing:
                    continue
                run_id = f"score-{session}-{name}-{scenario}-r{repeat}"
                result = run_incident(approach_run_config(config, name, scenario, run_id), console=_Sink())
                run_ids[name].append(run_id)
                print(f"[scorecard] {name} {scenario} #{repeat}: {result.status}, {result.step_count} steps, "
                      f"{result.duration_s}s", file=console, flush=True)
                if result.status == "interrupted":
                    raise KeyboardInterrupt
    rows = read_rows(config.trace_log)
    rows.warn(console)
    card = scorecard_from_rows(rows, run_ids, missing, sources)
    card["skipped_lines"] = rows.skipped_lines
    card.update({"scenarios": scenarios, "repeats": config.repeats, "trace_log": str(config.trace_log),
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
            rows.append([a["name"], 0, "MISSING", None, None, None, None, None])
            continue
        success = f"{a['fixed']}/{a['runs']} ({a['success_rate']:.0%})" if a["runs"] else "-"
        rows.append([a["name"], a["runs"], success, a["mean_steps"], a["p50_s"], a["p95_s"],
                     f"{a['tokens_in']}/{a['tokens_out']}", a["mean_cost_usd"]])
    head = (f"Approach scorecard — scenarios {', '.join(card.get('scenarios', []))}; "
            f"{card.get('repeats', 1)} repeat(s); trace {card.get('trace_log', '-')}")
    notes = [f"  {a['name']}: {a['missing']}" for a in card["approaches"] if a["missing"]]
    return "\n".join([head, text_table(HEADERS, rows), *(["missing approaches:"] + notes if notes else [])])
