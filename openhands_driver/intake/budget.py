"""Token budgets: a run that would exceed one is escalated instead of started.

Two limits, both optional: tokens per incident, and tokens per rolling hour across all runs. A run's
cost is not known before it runs, so the check uses an estimate: the configured
``--token-estimate``, else the mean actual usage of recent runs (0 before any run; the offline
runbook brain uses 0 tokens). Running executions count with their estimate until they finish with
their actual usage. A run whose actual usage exceeds the per-incident budget is recorded as over
budget (the runner cannot stop a conversation on tokens yet).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

HOUR_S = 3600.0


@dataclass(frozen=True)
class BudgetDecision:
    allowed: bool
    reason: str
    estimate: int
    used_last_hour: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TokenBudget:
    per_incident: int | None = None
    hourly: int | None = None
    estimate: int | None = None

    def estimate_for(self, store) -> int:
        return self.estimate if self.estimate is not None else store.mean_recent_tokens()

    def check(self, store, now: float) -> BudgetDecision:
        estimate = self.estimate_for(store)
        used = store.tokens_since(now - HOUR_S)
        if self.per_incident is not None and estimate > self.per_incident:
            return BudgetDecision(False, f"over budget: estimated {estimate} tokens for this incident, "
                                  f"per-incident budget {self.per_incident}", estimate, used)
        if self.hourly is not None and used + estimate > self.hourly:
            return BudgetDecision(False, f"over budget: {used} tokens used in the last hour + estimated "
                                  f"{estimate} > hourly budget {self.hourly}", estimate, used)
        return BudgetDecision(True, f"within budget (estimate {estimate}, used {used} in the last hour)",
                              estimate, used)

    def overrun(self, tokens_used: int) -> str | None:
        """Why an actual usage broke the per-incident budget, or None."""
        if self.per_incident is not None and tokens_used > self.per_incident:
            return f"used {tokens_used} tokens, per-incident budget {self.per_incident}"
        return None
