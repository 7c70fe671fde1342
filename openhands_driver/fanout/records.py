"""Typed records of a fan-out: its configuration, one queue entry, one result row, the summary.

Row statuses (each incident ends in exactly one; the summary counts add up to ``total``):
- ``fixed``: the verifier confirmed the service healthy (never the agent's claim);
- ``failed``: the agent ran to its end (finished, stuck, out of steps) and the service is not healthy;
- ``timeout``: the agent hit ``--run-timeout-s`` and was stopped (counts as a failure in
  ``success_rate``, whatever the verifier later saw);
- ``unsupported``: the incident has no local analogue (``local_fault`` null): not run;
- ``error``: the harness could not run it (the target does not know the fault yet, a crash, an
  agent-server failure, or the fan-out was interrupted while it ran): not an agent verdict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean

from openhands_driver.config import RunConfig
from openhands_driver.reports.stats import percentile
from openhands_driver.scenarios import Scenario

FANOUT_SCHEMA_VERSION = 1
ROW_STATUSES = ("fixed", "failed", "timeout", "unsupported", "error")
SUMMARY_COUNTS = {"fixed": "fixed", "failed": "failed", "timeout": "timeouts",
                  "unsupported": "unsupported", "error": "errors"}
# Runner statuses (records.STATUSES) -> fan-out row status.
_FROM_RUN_STATUS = {"fixed": "fixed", "not_fixed": "failed", "stuck": "failed", "timeout": "timeout",
                    "error": "error", "interrupted": "error"}


def row_status(run_status: str, conversation_status: str | None = None) -> str:
    """A run whose agent hit its deadline is a ``timeout`` even if the service came back later: the
    pause lands at a step boundary, so a fix may complete after the deadline (``service_up`` still
    records the verifier's verdict)."""
    if conversation_status == "timeout":
        return "timeout"
    return _FROM_RUN_STATUS.get(run_status, "failed")


@dataclass
class FanoutConfig:
    """One fan-out: which incidents, how many at once, where they run. ``run`` is the per-incident
    template (mode, backend, verifier settings, trace log, ...); scenario and run id are set per incident."""

    run: RunConfig = field(default_factory=RunConfig)
    scenario_ids: list[str] | None = None  # an explicit incident set (repeats allowed), else a sample
    sample_size: int | None = None          # None: every incident of the training data
    incidents: int | None = None            # exactly N incidents, cycling through a seeded shuffle
    seed: int = 0
    variant_seeds: list[int] | None = None  # blind: each incident runs once per seed (else one seed each)
    concurrency: int = 3
    remote_hosts: list[str] = field(default_factory=list)  # agent servers, round-robin per incident
    continuous: bool = False                # Poisson intake instead of a batch
    duration_s: float = 60.0                # continuous: how long incidents keep arriving
    arrival_rate: float = 6.0               # continuous: mean arrivals per minute
    log_dir: Path | None = None             # per-incident console logs (default: artifacts/fanout/<id>)
    fanout_id: str | None = None

    @property
    def simulate(self) -> bool:
        return self.run.simulate


@dataclass
class Incident:
    """One queue entry: a scenario to run, when it arrived (seconds after the fan-out started)."""

    index: int
    scenario: Scenario
    arrival_s: float = 0.0
    variant_seed: int | None = None   # blind/variant runs: the incident's seed

    @property
    def source(self) -> dict:
        source = self.scenario.extra.get("source")
        return source if isinstance(source, dict) else {}


@dataclass
class FanoutRow:
    """One incident's outcome; ``run_id`` points at its trace row."""

    scenario_id: str
    source_id: str | int | None
    local_fault: str | None
    status: str
    service_up: bool | None
    step_count: int
    duration_s: float
    run_id: str | None
    index: int = 0
    source: str | None = None           # the benchmark the incident was imported from
    run_status: str | None = None       # the runner's own status (not_fixed, stuck, ...)
    skill_id: str | None = None
    queue_wait_s: float = 0.0           # arrival -> start
    arrival_s: float = 0.0
    started_s: float | None = None      # offsets from the fan-out start
    finished_s: float | None = None
    remote_host: str | None = None
    harness_overhead_s: float | None = None  # duration minus tool time and verifier time
    error: str | None = None
    log: str | None = None
    # Blind incidents: the proof of the fix (see openhands_driver/proof/)
    variant_seed: int | None = None
    resolved: bool | None = None
    ground_truth: dict | None = None
    diagnosis: dict | None = None
    mitigation: dict | None = None
    durability: dict | None = None
    collateral: dict | None = None
    tokens: dict | None = None
    cost_usd: float | None = None
    mttd_s: float | None = None   # run start -> correct diagnosis (RunResult.mttd_s)
    mttr_s: float | None = None   # run start -> proven resolution (RunResult.mttr_s)
    # Orchestrated runs (openhands_driver/orchestrator): the worker that ran it, and its target as the
    # runner described it (``target["url"]``: the worker address the orchestrator verified)
    worker: str | None = None
    target: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summarize(rows: list[FanoutRow], *, concurrency: int, wall_s: float) -> dict:
    """The fan-out summary. ``success_rate`` = fixed / attempted, attempted = fixed + failed + timeouts;
    MTTR = arrival -> verified fix over fixed incidents (queue wait included)."""
    counts = {key: 0 for key in SUMMARY_COUNTS.values()}
    for row in rows:
        counts[SUMMARY_COUNTS[row.status]] += 1
    attempted = counts["fixed"] + counts["failed"] + counts["timeouts"]
    ran = [r for r in rows if r.status != "unsupported" and r.run_id]
    mttr = [r.queue_wait_s + r.duration_s for r in rows if r.status == "fixed"]
    completed = [r for r in rows if r.status != "unsupported"]
    overheads = [r.harness_overhead_s for r in ran if r.harness_overhead_s is not None]
    return {
        "total": len(rows), **counts, "attempted": attempted,
        "success_rate": _round(counts["fixed"] / attempted) if attempted else None,
        "mean_steps": _round(mean(r.step_count for r in ran)) if ran else None,
        "mttr_p50_s": _round(percentile(mttr, 50)), "mttr_p95_s": _round(percentile(mttr, 95)),
        "duration_p50_s": _round(percentile([r.duration_s for r in ran], 50)),
        "queue_wait_p95_s": _round(percentile([r.queue_wait_s for r in ran], 95)),
        "throughput_per_min": _round(len(completed) / wall_s * 60) if wall_s > 0 and completed else 0.0,
        "mean_harness_overhead_s": _round(mean(overheads)) if overheads else None,
        "concurrency": concurrency, "wall_s": _round(wall_s),
    }


def harness_overhead(result_dict: dict) -> float | None:
    """Seconds of an incident spent outside the agent's tool calls and the verifier's probing:
    target start, workspace, conversation set-up and tear-down, brain calls, trace write."""
    duration = result_dict.get("duration_s")
    if not duration:
        return None
    tools = sum(a.get("duration_s") or 0.0 for a in result_dict.get("actions") or [])
    verify = (result_dict.get("verification") or {}).get("duration_s") or 0.0
    return round(max(0.0, duration - tools - verify), 3)

