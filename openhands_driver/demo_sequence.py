"""The narrated one-command demo (``scripts/demo_sequence.py``): the story told on stage, each step
a real run with its measured result, ending with a scorecard of the sequence's own runs and its plot.

Steps (offline by default: the runbook brain; ``--real`` uses the configured model):
1. a broken service, worked with generic triage (baseline) — usually not resolved;
2. the same incident with the skills — resolved and proven;
3. the security gates: a command above the allowed risk is blocked before it runs, and the run goes on;
4. a blind incident: symptoms only, a drawn variant; diagnosis scored against the ground truth;
5. the optimizer: GEPA improves a poor triage runbook on blind incidents (a small real budget);
6. a fan-out: several blind incidents at once, with the live view;
7. the scorecard of the runs above, and its plot.

Every figure printed comes from a run of this invocation (its trace rows); nothing is canned.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.paths import ARTIFACTS_DIR

STEPS = ("baseline", "skills", "gates", "blind", "optimizer", "fanout", "scorecard")


@dataclass
class SequenceConfig:
    steps: tuple[str, ...] = STEPS
    scenario: str = "stale_lockfile"
    blind_fault: str = "feature_flag"
    seed: int = 7
    model: str | None = None           # --real: a litellm model id (None: the offline runbook brain)
    llm_base_url: str | None = None
    fanout_incidents: int = 3
    optimizer_budget: int = 6          # real runs the optimizer step may make
    output_dir: Path = ARTIFACTS_DIR / "demo_sequence"
    trace_log: Path | None = None      # default: <output_dir>/trace.jsonl


@dataclass
class StepResult:
    step: str
    headline: str
    run_ids: list[str] = field(default_factory=list)
    ok: bool = True
    seconds: float = 0.0


class Narrator:
    def __init__(self, stream: TextIO):
        self.stream = stream

    def say(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def title(self, n: int, total: int, text: str) -> None:
        self.say(f"\n=== {n}/{total} {text} ===")


def _run(config: RunConfig, console: TextIO):
    from openhands_driver.runner import run_incident

    return run_incident(config, console=console)


def _verdict(result) -> str:
    proof = "resolved (proven)" if result.resolved else "NOT resolved"
    return f"{proof}; {result.step_count} steps; {result.duration_s}s"


def run_sequence(config: SequenceConfig, *, stream: TextIO = sys.stderr) -> dict:
    """Run the chosen steps in order; returns {steps: [...], scorecard, plots}."""
    unknown = [s for s in config.steps if s not in STEPS]
    if unknown:
        raise UserError(f"unknown step(s) {', '.join(unknown)}; valid: {', '.join(STEPS)}")
    config.output_dir.mkdir(parents=True, exist_ok=True)
    trace = config.trace_log or config.output_dir / "trace.jsonl"
    session = time.strftime("%H%M%S") + uuid.uuid4().hex[:4]
    base = RunConfig(scenario=config.scenario, trace_log=trace, model=config.model,
                     llm_base_url=config.llm_base_url, verify_interval_s=0.3, soak_s=1.0)
    logs = config.output_dir / f"logs-{session}"
    logs.mkdir(parents=True, exist_ok=True)
    say = Narrator(stream)
    results: list[StepResult] = []
    by_approach: dict[str, list[str]] = {"baseline": [], "optimized-skills": []}

    def log(name: str) -> TextIO:
        return open(logs / f"{name}.log", "w", encoding="utf-8")

    steps: dict[str, Callable[[], StepResult]] = {}

    def baseline() -> StepResult:
        say.say(f"A service is broken ({config.scenario}). First, generic triage: no runbook, no skills.")
        with log("baseline") as console:
            result = _run(dataclasses.replace(base, mode="baseline", run_id=f"demo-{session}-baseline"), console)
        by_approach["baseline"].append(result.run_id)
        return StepResult("baseline", f"baseline: {_verdict(result)}", [result.run_id], True)

    def skills() -> StepResult:
        say.say("The same incident, with the skills: the agent routes to a runbook skill and follows it.")
        with log("skills") as console:
            result = _run(dataclasses.replace(base, run_id=f"demo-{session}-skills"), console)
        by_approach["optimized-skills"].append(result.run_id)
        return StepResult("skills", f"skills: {_verdict(result)} (skill {result.skill_id})", [result.run_id],
                          bool(result.resolved))

    def gates() -> StepResult:
        from openhands_driver.security_demo import run_security_demo

        say.say("The security gates: a runbook with a command above the allowed risk (printenv, HIGH).")
        with log("gates") as console:
            rows = run_security_demo(dataclasses.replace(base, run_id=None), console=console)
        blocked = rows[0]
        stopped = ", ".join(f"{a['command']} ({a['risk']}, {a['gate']} by {a.get('gate_by') or '?'})"
                            for a in blocked["gated_actions"]) or "nothing"
        headline = (f"gates: blocked before execution: {stopped}; the run went on and the service is "
                    f"{'up' if blocked['service_up'] else 'down'}; approved/rejected confirmations: "
                    f"service up {rows[1]['service_up']} / {rows[2]['service_up']}")
        ok = [r["service_up"] for r in rows] == [True, True, False]
        return StepResult("gates", headline, [r["run_id"] for r in rows], ok)

    def blind() -> StepResult:
        say.say(f"A blind incident: the agent gets only the symptom (a {config.blind_fault} variant, seed "
                f"{config.seed}); its diagnosis is scored against the ground truth.")
        with log("blind") as console:
            result = _run(dataclasses.replace(base, scenario=config.blind_fault, blind=True,
                                              variant_seed=config.seed, run_id=f"demo-{session}-blind"), console)
        by_approach["optimized-skills"].append(result.run_id)
        diagnosis = (result.diagnosis or {}).get("correct")
        return StepResult("blind", f"blind: {_verdict(result)}; diagnosis {'correct' if diagnosis else 'wrong'}; "
                                   f"MTTD {result.mttd_s}s", [result.run_id], bool(result.resolved))

    def optimizer() -> StepResult:
        from openhands_driver.optimizer.config import OptimizerConfig
        from openhands_driver.optimizer.session import optimize

        say.say(f"The optimizer: GEPA rewrites a poor triage runbook on blind {config.scenario} incidents "
                f"({config.optimizer_budget} real runs).")
        output = config.output_dir / f"optimizer-{session}.json"
        with log("optimizer") as console:
            result = optimize(OptimizerConfig(optimizer="gepa", faults=(config.scenario,), train_seeds=(0, 1),
                                              val_seeds=(), max_metric_calls=config.optimizer_budget,
                                              output=output, eval_trace_log=trace, trace_log=trace,
                                              reflection_lm=config.model, reflection_base_url=config.llm_base_url),
                              console=console)
        return StepResult("optimizer", f"optimizer: seed score {result['seed_score']} -> best "
                                       f"{result['best_score']} in {result['metric_calls']} runs ({output.name})",
                          list(result["run_ids"]), result["best_score"] >= result["seed_score"])

    def fanout() -> StepResult:
        from openhands_driver.fanout.engine import run_fanout
        from openhands_driver.fanout.records import FanoutConfig
        from openhands_driver.scenarios import DEFAULT_TRAINING_DATA

        say.say(f"A fan-out: {config.fanout_incidents} blind incidents at once, each with its own target.")
        run = dataclasses.replace(base, scenario=None, training_data=DEFAULT_TRAINING_DATA, blind=True)
        report = run_fanout(FanoutConfig(run=run, incidents=config.fanout_incidents, seed=config.seed,
                                         concurrency=config.fanout_incidents, log_dir=logs / "fanout"),
                            stream=stream)
        summary = report["summary"]
        ids = [r["run_id"] for r in report["rows"] if r.get("run_id")]
        by_approach["optimized-skills"].extend(ids)
        return StepResult("fanout", f"fan-out: {summary.get('fixed')}/{summary.get('total')} fixed in "
                                    f"{summary.get('wall_s')}s wall at concurrency {config.fanout_incidents}",
                          ids, summary.get("fixed") == summary.get("total"))

    steps.update(baseline=baseline, skills=skills, gates=gates, blind=blind, optimizer=optimizer, fanout=fanout)
    chosen = [s for s in config.steps if s != "scorecard"]
    total = len(config.steps)
    for n, name in enumerate(chosen, 1):
        say.title(n, total, name)
        started = time.monotonic()
        step = steps[name]()
        step.seconds = round(time.monotonic() - started, 1)
        results.append(step)
        say.say(f"-> {step.headline} [{step.seconds}s]")
    out: dict = {"session": session, "trace_log": str(trace), "logs": str(logs),
                 "steps": [dataclasses.asdict(r) for r in results]}
    if "scorecard" in config.steps:
        from openhands_driver.reports.plots import scorecard_plots
        from openhands_driver.reports.scorecard import render_text, scorecard_from_rows
        from openhands_driver.trace import read_rows

        say.title(total, total, "scorecard")
        rows = read_rows(trace)
        card = scorecard_from_rows(rows, {k: v for k, v in by_approach.items() if v})
        card.update({"scenarios": [config.scenario, config.blind_fault], "repeats": 1, "trace_log": str(trace),
                     "blind": False, "seeds": []})
        say.say(render_text(card))
        plots = scorecard_plots(card, rows, config.output_dir / f"plots-{session}")
        say.say("plots: " + ", ".join(str(p) for p in plots))
        out.update(scorecard=card, plots=[str(p) for p in plots])
    return out
