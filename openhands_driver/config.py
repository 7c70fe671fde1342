"""The run configuration: every flag of ``run_demo.py`` as one typed record."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openhands_driver import verifier
from openhands_driver.optimizer.result import DEFAULT_OPTIMIZER_RESULT
from openhands_driver.paths import DEFAULT_TRACE_LOG


@dataclass
class RunConfig:
    scenario: str | None = "stale_lockfile"  # None with target_root: the one its etc/service.json names
    # Blind incidents: symptoms only, a variant drawn from the seed (openhands_driver/incident.py)
    blind: bool = False
    variant_seed: int | None = None
    soak_s: float = 3.0                      # durability: probe window after the runner's restart
    incident_text: str | None = None  # the alert as received (intake); default: the scenario's report
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
    # Brain: a model (any litellm id) or, when None, the offline runbook policy
    model: str | None = None
    llm_base_url: str | None = None
    env_file: Path | None = None
    allow_fallback: bool = False
    run_timeout_s: float | None = None
    # The whole incident's budget, start-up and clean-up included (fan-out --subprocess-timeout-s):
    # the agent gets what is left after start-up, minus the proof's own time
    incident_timeout_s: float | None = None
    step_timeout_s: float | None = None       # per terminal command: stopped past it (step_budget.py)
    retries: int = 0                          # retries of transient model / target-start errors
    retry_backoff_s: float = 2.0              # first wait; doubles per retry
    condense_context: bool = False
    # Safety gates (see openhands_driver/gates.py)
    max_security_risk: str = "MEDIUM"
    sandbox: str = "auto"  # auto | bwrap | none: where the agent's commands run (openhands_driver/sandbox)
    require_confirmation_for_risk: str | None = None
    auto_confirm: bool = False
    # Strategy source "optimizer": this text, else the best candidate saved in optimizer_result
    strategy_text: str | None = None
    # Skill name -> SKILL.md text for this run's workspace copy only (openhands_driver/skill_overrides.py)
    skill_overrides: dict[str, str] | None = None
    optimizer_result: Path = DEFAULT_OPTIMIZER_RESULT
    # Target placement (docker backend: image, or attach to an existing container + its URL;
    # local backend: attach to a running service by its service root + its URL)
    target_port: int | None = None
    runtime_image: str | None = None
    target_container: str | None = None
    target_root: Path | None = None
    target_url: str | None = None
    # Run the conversation on this OpenHands agent server (openhands_driver/remote.py); None = in-process
    remote_host: str | None = None
    remote_working_dir: str | None = None  # the incident's working directory on that server
    # Also write the run's trajectory (its actions, one JSON line each) to <trace dir>/<run_id>.jsonl
    save_trajectory: bool = False
    # Extra create_target arguments of the chosen backend (the orchestrator's worker backend: which
    # worker, its address and key); None = none
    target_options: dict | None = None
    # Address the offline runbook brain listens on and is called at (None = 127.0.0.1): a worker in
    # another network namespace needs one it can reach, e.g. its bridge network's gateway
    brain_host: str | None = None
    # Operator handoff (openhands_driver/handoff.py): pause before the first change, resume later
    pause_after_diagnosis: bool = False
    resume_from: str | None = None          # a paused run's id or state directory
    note: str | None = None                 # the operator's note for the resumed agent
    state_root: Path | None = None          # where paused runs keep their state (default artifacts/runs/state)
    # What the agent works with: shell (terminal + file editor) or api (HTTP tools only, api_tools.py)
    toolset: str = "shell"
