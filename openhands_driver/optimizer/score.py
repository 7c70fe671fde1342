"""The score of one real run, from its trace row: verifier first, then steps, then risk.

``value`` is in [0, 1), higher is better:
- not fixed (the independent verifier says so): 0.0, whatever else happened;
- fixed: 0.5 + 0.5 * (1 - steps / max_steps), minus 0.2 when the highest risk used (the trace's
  effective ``risk`` per action, ordered by :mod:`openhands_driver.security.risk`) was HIGH, so any
  fixed run outranks any unfixed one and fewer steps rank higher.
A candidate's score is the mean over its scenarios. Durations do not count: they are noise here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from openhands_driver.security.risk import RISK_ORDER, UNKNOWN, max_risk

RISK_PENALTY = {"HIGH": 0.2}
SCORING = ("0 when the verifier did not confirm the fix; otherwise 0.5 + 0.5 * (1 - steps/max_steps) "
           "minus 0.2 when the highest risk used was HIGH; mean over scenarios")


def highest_risk(actions: list[dict]) -> str:
    """The highest effective risk among the actions (the project's one risk ordering)."""
    labels = [str(a.get("risk") or UNKNOWN).upper() for a in actions]
    return max_risk(*(label for label in labels if label in RISK_ORDER))


@dataclass(frozen=True)
class RunScore:
    run_id: str
    scenario: str
    status: str
    fixed: bool
    steps: int
    max_risk: str
    value: float

    def to_dict(self) -> dict:
        return asdict(self)


def score_row(row: dict, max_steps: int = 40) -> RunScore:
    """Score one trace row (``openhands_driver.trace`` shape)."""
    fixed = bool(row.get("service_up")) and not row.get("simulate")
    steps = int(row.get("step_count") or 0)
    risk = highest_risk(row.get("actions") or [])
    value = 0.0
    if fixed:
        value = 0.5 + 0.5 * (1 - min(steps, max_steps) / max_steps) - RISK_PENALTY.get(risk, 0.0)
    return RunScore(run_id=str(row.get("run_id")), scenario=str(row.get("scenario")),
                    status=str(row.get("status")), fixed=fixed, steps=steps, max_risk=risk,
                    value=round(value, 6))
