"""The run configuration: every flag of ``run_demo.py`` as one typed record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openhands_driver import verifier
from openhands_driver.paths import DEFAULT_TRACE_LOG


@dataclass
class RunConfig:
    scenario: str = "stale_lockfile"
    training_data: Path | None = None
    mode: str = "optimized"
    strategy_source: str = "skills"
    skill_id: str | None = None
    backend: str = "local"
    simulate: bool = False
    keep_target: bool = False
    trace_log: Path = DEFAULT_TRACE_LOG
    disable_trace_log: bool = False
    run_id: str | None = None
    verify_consecutive_successes: int = verifier.DEFAULT_CONSECUTIVE
    verify_max_attempts: int = verifier.DEFAULT_MAX_ATTEMPTS
    verify_interval_s: float = verifier.DEFAULT_INTERVAL_S
    max_iterations: int = 40
    verbose: bool = False
