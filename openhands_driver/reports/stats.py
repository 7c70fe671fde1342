"""Trace rows -> typed run records -> the figures every report shows (one definition each).

- A *run* is a row that is not a plan: ``simulate`` rows (status ``simulated``) are excluded, and so
  are ``interrupted`` rows (the user stopped them; they say nothing about the approach) and
  ``crashed`` rows (the run's process died; closed by someone else), each counted separately.
  ``started`` rows are never final: ``trace.read_rows`` drops them, so a run counts once.
- A row whose fields have the wrong type is not a run: :func:`records` counts it in ``bad_rows``.
- ``success_rate`` = verifier-confirmed fixes / runs. ``mean_steps`` = mean ``step_count`` over runs.
- ``p50_s`` / ``p95_s``: percentiles of ``duration_s`` with linear interpolation between closest
  ranks (numpy's default): p of [x0..x(n-1)] sorted is at position (n-1)*p/100.
- Cost: ``mean_cost_usd`` over runs; tokens are summed.
- ``cause`` of a failed run (:func:`failure_cause`): ``skill`` (the agent ran its course and the
  service is not fixed), or a cause that is not the skill's: ``gate`` (an action was rejected by
  the policy or an operator, e.g. the security-gates demo), ``model`` (the model endpoint failed),
  ``budget`` (timeout, stuck, out of steps), ``harness`` (the run could not be carried out).
  ``skill_success_rate`` = fixed / (fixed + failures caused by the skill).
- Operator handoff: a ``paused`` row whose run was resumed (another row's ``resumed_from``) is
  combined with the resumed row into one run (steps, duration, tokens and cost added; the resumed
  row's verdict); a paused run not resumed (yet) is not a run either (``paused`` in NOT_RUNS).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import mean

from openhands_driver.trace import READABLE_SCHEMA_VERSIONS


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class RunRecord:
    """The fields reports use, read the same way from every trace schema version."""

    run_id: str
    scenario: str
    skill_id: str | None
    mode: str
    strategy_source: str
    status: str
    fixed: bool
    simulate: bool
    steps: int
    duration_s: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    finished_at: str
    failure: str | None
    cause: str | None = None  # why a failed run failed (failure_cause); None when fixed


CAUSES = ("skill", "gate", "model", "budget", "harness")
_MODEL_ERRORS = ("litellm", "llm", "model", "api key", "apiconnection", "rate limit", "ratelimit",
                 "completion", "endpoint", "connection refused", "authentication")


def failure_cause(row: dict) -> str | None:
    """Why a run that is not fixed failed; None when it is fixed (see the module docstring)."""
    if row.get("service_up") and row.get("resolved") is not False:
        return None
    status = str(row.get("status") or "")
    error = str(row.get("error") or "").lower()
    if any(isinstance(a, dict) and a.get("gate") == "rejected" for a in row.get("actions") or []):
        return "gate"
    if error and any(word in error for word in _MODEL_ERRORS):
        return "model"
    if status in ("timeout", "stuck") or row.get("conversation_status") in ("timeout", "stuck"):
        return "budget"
    if status == "error":
        return "harness"
    return "skill"


def _failure(row: dict) -> str | None:
    if row.get("service_up"):
        return None
    if row.get("error"):
        return str(row["error"])
    attempts = (row.get("verification") or {}).get("attempts") or []
    if attempts:
        return f"{row.get('status')}: last probe {attempts[-1].get('reason')}"
    return str(row.get("agent_message") or row.get("status") or "unknown")


def _record_v1(row: dict) -> RunRecord:
    tokens = row.get("tokens") or {}
    return RunRecord(
        run_id=str(row.get("run_id")), scenario=str(row.get("scenario")), skill_id=row.get("skill_id"),
        mode=str(row.get("mode") or ""), strategy_source=str(row.get("strategy_source") or ""),
        status=str(row.get("status")), fixed=bool(row.get("service_up")) and not row.get("simulate"),
        simulate=bool(row.get("simulate")) or row.get("status") == "simulated",
        steps=int(row.get("step_count") or 0), duration_s=float(row.get("duration_s") or 0.0),
        tokens_in=int(tokens.get("input") or 0), tokens_out=int(tokens.get("output") or 0),
        cost_usd=float(row.get("cost_usd") or 0.0),
        finished_at=str(row.get("finished_at") or row.get("written_at") or ""), failure=_failure(row),
        cause=None if row.get("service_up") else failure_cause(row))


# One reader per trace schema version the project has written (trace.READABLE_SCHEMA_VERSIONS).
RECORD_READERS = {1: _record_v1, 2: _record_v1}  # 2 only adds fields (audit, resumed_from, ...)
assert set(RECORD_READERS) == set(READABLE_SCHEMA_VERSIONS), "a trace schema version has no report reader"


class BadRow(ValueError):
    """A trace row whose fields have the wrong type (e.g. ``"step_count": "many"``)."""


def record(row: dict) -> RunRecord:
    try:
        return RECORD_READERS[row.get("schema_version", 1)](row)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise BadRow(f"trace row of run {row.get('run_id')!r} has a field of the wrong type "
                     f"({type(exc).__name__}: {exc})") from None


def combine_resumed(rows: list[dict]) -> list[dict]:
    """Rows with each resumed run merged with the paused row it continued (one incident, one run)."""
    paused = {r.get("run_id"): r for r in rows if r.get("status") == "paused"}
    merged, used = [], set()
    for row in rows:
        origin = paused.get(row.get("resumed_from")) if row.get("resumed_from") else None
        if origin is None:
            merged.append(row)
            continue
        used.add(origin.get("run_id"))
        combined = dict(row)
        for key in ("step_count", "duration_s", "cost_usd"):
            combined[key] = (row.get(key) or 0) + (origin.get(key) or 0)
        tokens_a, tokens_b = row.get("tokens") or {}, origin.get("tokens") or {}
        combined["tokens"] = {k: (tokens_a.get(k) or 0) + (tokens_b.get(k) or 0) for k in ("input", "output")}
        merged.append(combined)
    return [r for r in merged if not (r.get("status") == "paused" and r.get("run_id") in used)]


def records(rows: list[dict]) -> tuple[list[RunRecord], int]:
    """The readable records of ``rows`` and how many rows could not be read."""
    out, bad = [], 0
    for row in combine_resumed(list(rows)):
        try:
            out.append(record(row))
        except BadRow:
            bad += 1
    return out, bad


NOT_RUNS = ("interrupted", "crashed", "started", "paused")


def is_run(item: RunRecord) -> bool:
    return not item.simulate and item.status not in NOT_RUNS


@dataclass(frozen=True)
class RunStats:
    runs: int
    fixed: int
    success_rate: float | None
    mean_steps: float | None
    p50_s: float | None
    p95_s: float | None
    tokens_in: int
    tokens_out: int
    mean_cost_usd: float | None
    interrupted: int
    crashed: int
    last_failure: str | None
    last_failure_run_id: str | None
    causes: dict | None = None               # failed runs by cause ({} when none failed)
    skill_success_rate: float | None = None  # fixed / (fixed + failures the skill caused)

    def to_dict(self) -> dict:
        return asdict(self)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summarize(records: list[RunRecord]) -> RunStats:
    runs = [r for r in records if is_run(r)]
    failures = sorted((r for r in runs if not r.fixed), key=lambda r: r.finished_at)
    durations = [r.duration_s for r in runs]
    return RunStats(
        runs=len(runs), fixed=sum(r.fixed for r in runs),
        success_rate=_round(sum(r.fixed for r in runs) / len(runs)) if runs else None,
        mean_steps=_round(mean(r.steps for r in runs)) if runs else None,
        p50_s=_round(percentile(durations, 50)), p95_s=_round(percentile(durations, 95)),
        tokens_in=sum(r.tokens_in for r in runs), tokens_out=sum(r.tokens_out for r in runs),
        mean_cost_usd=_round(mean(r.cost_usd for r in runs), 6) if runs else None,
        interrupted=sum(1 for r in records if not r.simulate and r.status == "interrupted"),
        crashed=sum(1 for r in records if not r.simulate and r.status == "crashed"),
        last_failure=failures[-1].failure if failures else None,
        last_failure_run_id=failures[-1].run_id if failures else None,
        causes={c: n for c in CAUSES if (n := sum(r.cause == c for r in failures))},
        skill_success_rate=_skill_rate(runs))


def _skill_rate(runs: list[RunRecord]) -> float | None:
    judged = [r for r in runs if r.fixed or r.cause == "skill"]
    return _round(sum(r.fixed for r in judged) / len(judged)) if judged else None
