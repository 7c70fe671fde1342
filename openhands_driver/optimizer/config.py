"""The optimizer configuration: every flag of ``optimize.py`` as one typed record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.optimizer.result import DEFAULT_EVAL_TRACE_LOG, default_output
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG
from openhands_driver.strategy import BASELINE_RUNBOOK

OPTIMIZERS = ("gepa", "iterative")
DEFAULT_PROPOSAL_DIR = ARTIFACTS_DIR / "skill_proposals"


@dataclass
class OptimizerConfig:
    optimizer: str = "gepa"
    training_data: Path | None = None          # scenario catalog (default training_data/scenarios.json)
    scenarios: tuple[str, ...] | None = None   # None: the catalog's active fault scenarios
    seed_strategy: Path = BASELINE_RUNBOOK     # the seed candidate text
    trace_log: Path = DEFAULT_TRACE_LOG        # traces to mine (read only)
    eval_trace_log: Path = DEFAULT_EVAL_TRACE_LOG  # where evaluation runs write their rows
    max_metric_calls: int = 15                 # budget: real runs
    seed: int = 0
    output: Path | None = None                 # None: default_output(optimizer)
    minibatch_size: int | None = None          # GEPA reflection minibatch (default min(3, scenarios))
    reflection_lm: str | None = None           # a litellm model id; None: deterministic proposer
    reflection_base_url: str | None = None
    verify_interval_s: float = 0.3
    max_iterations: int = 40
    simulate: bool = False
    verbose: bool = False
    proposal_dir: Path = DEFAULT_PROPOSAL_DIR  # --distill-skills output

    @property
    def output_path(self) -> Path:
        return self.output or default_output(self.optimizer)

    @staticmethod
    def env_reflection_lm() -> tuple[str | None, str | None]:
        """(model, base url) from LLM_MODEL / LLM_BASE_URL, when set."""
        return os.environ.get("LLM_MODEL") or None, os.environ.get("LLM_BASE_URL") or None
