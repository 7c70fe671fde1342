"""Typed records at the pipeline's boundaries: one action, one run result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Run statuses. "fixed" is the verifier's verdict, never the agent's claim.
STATUSES = ("fixed", "not_fixed", "error", "timeout", "stuck", "interrupted", "simulated", "paused")
# Trace-only statuses (runrecord.py): "started" is a run's non-final first row; "crashed" is the
# final row written for it by someone else when its process died.
RECORD_STATUSES = ("started", "crashed")



@dataclass
class ActionRecord:
    tool: str
    command: str
    risk: str = "UNKNOWN"
    exit_code: int | None = None
    duration_s: float | None = None
    output_excerpt: str = ""
    summary: str = ""
    policy_risk: str | None = None   # the project's command policy
    model_risk: str | None = None    # the model's own label (a claim, not a guarantee)
    gate: str = "allowed"            # allowed | rejected | approved | edited | paused
    gate_reason: str = ""
    gate_by: str = ""                # policy | operator (who made the gate decision)
    ended_s: float | None = None     # when its result came back, seconds after the run started
    timed_out: bool = False          # stopped by the step timeout (--step-timeout-s); the run went on
    ended_mono: float | None = field(default=None, repr=False)  # (monotonic clock; not recorded)

    def public(self) -> dict:
        """The action as shown in the result JSON (the trace row also keeps the excerpt)."""
        data = asdict(self)
        data.pop("output_excerpt")
        data.pop("ended_mono")
        return data


@dataclass
class RunResult:
    run_id: str
    scenario: str
    mode: str
    strategy_source: str
    skill_id: str | None
    routing: dict
    brain: str
    backend: str
    simulate: bool
    status: str
    service_up: bool | None
    step_count: int
    started_at: str
    finished_at: str = ""
    duration_s: float = 0.0
    model: str | None = None
    local_fault: str | None = None
    verification: dict | None = None
    target: dict = field(default_factory=dict)
    trace_log: str | None = None
    actions: list[ActionRecord] = field(default_factory=list)
    agent_message: str = ""
    conversation_status: str | None = None
    plan: dict | None = None
    fallback_used: bool = False
    fallback_reason: str | None = None
    tokens: dict = field(default_factory=lambda: {"input": 0, "output": 0})
    cost_usd: float = 0.0
    llm_calls: int = 0
    llm_latency_s: float = 0.0
    error: str | None = None
    security: dict = field(default_factory=dict)  # gates in force and violations
    laminar_trace_id: str | None = None
    # Blind incidents and the proof of the fix (openhands_driver/incident.py, proof/)
    blind: bool = False
    instance: str | None = None          # the id the target reports (opaque token when blind)
    alert: str = ""                      # what the agent was paged with
    ground_truth: dict | None = None     # fault class, entity, seed: never shown to the agent
    diagnosis: dict | None = None        # what the agent reported, and whether it is correct
    mitigation: dict | None = None       # the fault class's oracle on the real state
    durability: dict | None = None       # restart + soak probes after the verifier passed
    collateral: dict | None = None       # decoys and files outside the fix unchanged
    resolved: bool | None = None         # verifier, mitigation, durability and collateral all pass
    skills_used: list[str] = field(default_factory=list)  # skills the agent loaded (invoke_skill)
    mttd_s: float | None = None          # run start -> a correct diagnosis (see proof/diagnosis.py)
    mttr_s: float | None = None          # run start -> proven resolution (verifier + proof passed)
    report: str | None = None            # the markdown report next to the trace (reports/run_report.py)
    retries: list[dict] = field(default_factory=list)  # transient errors retried: what, attempt, error, wait_s
    conversation_id: str | None = None   # the SDK conversation (persisted when the run may pause)
    resumed_from: str | None = None      # the paused run this one continued (handoff.py)
    pause: dict | None = None            # status "paused": proposed actions, evidence, how to resume
    toolset: str = "shell"               # shell (terminal + file editor) | api (HTTP tools only)
    agent_tools: list[str] = field(default_factory=list)  # the tools the agent was built with
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict) -> RunResult:
        """A result back from its trace row (any schema version): known fields by name, actions as
        ActionRecords, anything else in ``extra``."""
        names = {f.name for f in fields(cls)} - {"extra", "actions"}
        required = {"run_id": "?", "scenario": "?", "mode": "?", "strategy_source": "?", "skill_id": None,
                    "routing": {}, "brain": "?", "backend": "?", "simulate": False, "status": "?",
                    "service_up": None, "step_count": 0, "started_at": "?"}
        action_names = {f.name for f in fields(ActionRecord)} - {"ended_mono"}
        actions = [ActionRecord(**{k: v for k, v in a.items() if k in action_names})
                   for a in row.get("actions") or [] if isinstance(a, dict) and "tool" in a and "command" in a]
        known = {**required, **{k: v for k, v in row.items() if k in names}}
        extra = {k: v for k, v in row.items() if k not in names and k != "actions"}
        return cls(**known, actions=actions, extra=extra)

    def to_dict(self, *, with_excerpts: bool = False) -> dict:
        data = asdict(self)
        data["actions"] = [{k: v for k, v in asdict(a).items() if k != "ended_mono"} if with_excerpts
                           else a.public() for a in self.actions]
        extra = data.pop("extra")
        data.update(extra)
        return data
