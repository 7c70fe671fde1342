"""The optimizer configuration: every flag of ``optimize.py`` as one typed record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.optimizer.result import DEFAULT_EVAL_TRACE_LOG, default_output
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG
from openhands_driver.strategy import STRATEGY_DIR

OPTIMIZERS = ("gepa", "iterative")
DEFAULT_PROPOSAL_DIR = ARTIFACTS_DIR / "skill_proposals"
POOR_RUNBOOK = STRATEGY_DIR / "poor_triage.md"   # the default seed: deliberately weak
# Default fault classes (those registered in target_service/faults.py are used; all of them when
# none of these is): one per family, so a runbook must gather more than one kind of evidence.
DEFAULT_FAULTS = ("stale_lockfile", "feature_flag", "readiness_probe_fail", "bad_release")
DEFAULT_TRAIN_SEEDS = (0, 1, 2)
DEFAULT_VAL_SEEDS = (100, 101, 102)


@dataclass
class OptimizerConfig:
    optimizer: str = "gepa"
    training_data: Path | None = None          # unused by blind runs (kept for old callers)
    scenarios: tuple[str, ...] | None = None   # old name of ``faults`` (used when faults is None)
    faults: tuple[str, ...] | None = None      # fault classes; None: DEFAULT_FAULTS that exist
    train_seeds: tuple[int, ...] = DEFAULT_TRAIN_SEEDS  # variant seeds the search runs on
    val_seeds: tuple[int, ...] = DEFAULT_VAL_SEEDS      # held-out seeds: seed and best re-run on them
    candidate_skills: tuple[str, ...] = ()     # skills whose SKILL.md body is a candidate component too
    seed_strategy: Path = POOR_RUNBOOK         # the seed triage runbook
    trace_log: Path = DEFAULT_TRACE_LOG        # traces to mine (read only)
    eval_trace_log: Path = DEFAULT_EVAL_TRACE_LOG  # where evaluation runs write their rows
    max_metric_calls: int = 30                 # budget of the search: real runs (validation apart)
    seed: int = 0
    output: Path | None = None                 # None: default_output(optimizer)
    minibatch_size: int | None = None          # GEPA reflection minibatch (default min(3, incidents))
    reflection_lm: str | None = None           # a litellm model id; None: deterministic proposer
    reflection_base_url: str | None = None
    verify_interval_s: float = 0.3
    soak_s: float = 1.0                        # durability soak per run (the runner's proof)
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
