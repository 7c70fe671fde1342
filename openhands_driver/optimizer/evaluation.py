"""Evaluating a candidate: one real incident run per (candidate, scenario) — one metric call.

Each evaluation runs :func:`openhands_driver.runner.run_incident` in-process with the candidate text as
the strategy (``strategy_source="optimizer"``): a real target, the runbook brain driving a real SDK
conversation, the independent verifier, and a trace row in the evaluation trace log. The row is then
scored (:mod:`.score`) and attributed (:mod:`.mining`); the attribution joins the shared evidence the
proposer learns from. The ledger keeps every evaluation, so every score in the result file points at
a run id with its own trace row.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from openhands_driver.config import RunConfig
from openhands_driver.optimizer.candidate import candidate_id
from openhands_driver.optimizer.mining import Attribution, Evidence, attribute, feedback
from openhands_driver.optimizer.score import RunScore, score_row


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@dataclass(frozen=True)
class Evaluation:
    seq: int
    candidate_id: str
    scenario: str
    run_id: str
    score: RunScore
    attribution: Attribution
    feedback: str
    duration_s: float
    actions: tuple[str, ...] = ()  # "tool: command" for every action, in order

    def to_dict(self) -> dict:
        return {"seq": self.seq, "candidate_id": self.candidate_id, "scenario": self.scenario,
                "run_id": self.run_id, "score": self.score.value, "fixed": self.score.fixed,
                "steps": self.score.steps, "status": self.score.status,
                "max_risk": self.score.max_risk, "duration_s": self.duration_s,
                "found_by": list(self.attribution.needed), "wasted": list(self.attribution.wasted)}


@dataclass
class Evaluator:
    """Runs candidates on scenarios for real and keeps the ledger."""

    trace_log: Path
    evidence: Evidence
    training_data: Path | None = None
    verify_interval_s: float = 0.3
    max_iterations: int = 40
    budget: int | None = None
    console: TextIO | None = None          # progress lines (stderr by default)
    verbose: bool = False                  # stream the agent's actions too
    session: str = field(default_factory=lambda: time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4])
    ledger: list[Evaluation] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    invalid: dict[str, dict] = field(default_factory=dict)  # candidate id -> problem, text (never run)

    @property
    def metric_calls(self) -> int:
        return len(self.ledger)

    def evaluate(self, text: str, scenario: str) -> Evaluation:
        from openhands_driver.runner import run_incident

        cid = candidate_id(text)
        self.texts.setdefault(cid, text)
        self.seen.add(cid)
        seq = len(self.ledger) + 1
        config = RunConfig(scenario=scenario, training_data=self.training_data, mode="optimized",
                           strategy_source="optimizer", strategy_text=text, trace_log=self.trace_log,
                           run_id=f"opt-{self.session}-{seq:03d}-{cid[:6]}-{scenario}",
                           verify_interval_s=self.verify_interval_s,
                           max_iterations=self.max_iterations, verbose=self.verbose)
        started = time.monotonic()
        result = run_incident(config, console=(self.console or sys.stderr) if self.verbose else _Sink())
        if result.status == "interrupted":
            raise KeyboardInterrupt(f"interrupted during run {result.run_id}")
        from openhands_driver.trace import trace_row

        row = trace_row(result)
        score = score_row(row, self.max_iterations)
        attribution = attribute(row)
        self.evidence.add(attribution)
        evaluation = Evaluation(seq, cid, scenario, result.run_id, score, attribution,
                                feedback(attribution, score.value, score.max_risk, score.status,
                                         (row.get("security") or {}).get("violations")),
                                round(time.monotonic() - started, 3),
                                tuple(f"{a['tool']}: {a['command']}" for a in row["actions"]))
        self.ledger.append(evaluation)
        budget = f"/{self.budget}" if self.budget else ""
        verdict = f"fixed in {score.steps} steps" if score.fixed else f"NOT fixed ({score.status})"
        print(f"[optimize] run {seq}{budget}: {scenario} with candidate {cid[:6]}: {verdict}, "
              f"score {score.value:.3f} ({evaluation.duration_s}s, {result.run_id})",
              file=self.console or sys.stderr, flush=True)
        return evaluation

    def evaluate_all(self, text: str, scenarios: list[str]) -> list[Evaluation]:
        return [self.evaluate(text, scenario) for scenario in scenarios]

    def for_candidate(self, cid: str) -> list[Evaluation]:
        return [e for e in self.ledger if e.candidate_id == cid]
