"""The score of one real run, from its trace row: proven resolution first, then steps, then risk.

``value`` is in [0, 1), higher is better:
- not resolved: 0.0, whatever else happened. ``resolved`` is the runner's proof (verifier, the fault
  class's mitigation oracle, durability after a restart, no collateral damage), never the agent's
  claim; a row without it (no ground truth: an attached or pre-blind run) falls back to the
  verifier's ``service_up``;
- resolved: 0.5 + 0.5 * (1 - steps / max_steps), minus 0.2 when the highest risk used (the trace's
  effective ``risk`` per action, ordered by :mod:`openhands_driver.security.risk`) was HIGH, so any
  resolved run outranks any unresolved one and fewer steps rank higher.
A candidate's score is the mean over its incidents. Durations do not count: they are noise here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from openhands_driver.security.risk import RISK_ORDER, UNKNOWN, max_risk

RISK_PENALTY = {"HIGH": 0.2}
SCORING = ("0 when the run was not resolved (verifier + mitigation oracle + durability + collateral; "
           "the verifier alone for rows without ground truth); otherwise 0.5 + 0.5 * (1 - steps/max_steps) "
           "minus 0.2 when the highest risk used was HIGH; mean over incidents")


def highest_risk(actions: list[dict]) -> str:
    """The highest effective risk among the actions (the project's one risk ordering)."""
    labels = [str(a.get("risk") or UNKNOWN).upper() for a in actions]
    return max_risk(*(label for label in labels if label in RISK_ORDER))


def is_resolved(row: dict) -> bool:
    if row.get("simulate"):
        return False
    if row.get("resolved") is not None:
        return bool(row["resolved"])
    return bool(row.get("service_up"))


@dataclass(frozen=True)
class RunScore:
    run_id: str
    scenario: str
    status: str
    fixed: bool            # resolved (see the module docstring): what the score counts
    steps: int
    max_risk: str
    value: float
    service_up: bool = False
    diagnosis_correct: bool | None = None

    @property
    def resolved(self) -> bool:
        return self.fixed

    def to_dict(self) -> dict:
        return asdict(self)


def score_row(row: dict, max_steps: int = 40) -> RunScore:
    """Score one trace row (``openhands_driver.trace`` shape)."""
    fixed = is_resolved(row)
    steps = int(row.get("step_count") or 0)
    risk = highest_risk(row.get("actions") or [])
    value = 0.0
    if fixed:
        value = 0.5 + 0.5 * (1 - min(steps, max_steps) / max_steps) - RISK_PENALTY.get(risk, 0.0)
    diagnosis = row.get("diagnosis")
    return RunScore(run_id=str(row.get("run_id")), scenario=str(row.get("scenario")),
                    status=str(row.get("status")), fixed=fixed, steps=steps, max_risk=risk,
                    value=round(value, 6), service_up=bool(row.get("service_up")),
                    diagnosis_correct=None if diagnosis is None else bool(diagnosis.get("correct")))
