"""Safety gates that act before a command runs.

Every action the agent proposes gets a risk from the project's own command policy
(``security.assess``), independent of the model's self-reported label; the effective risk is the
higher of the two and both are recorded. The SDK asks this analyzer before executing anything; a
confirmation policy pauses the conversation for every action at or above the lowest gate, and
:class:`Gatekeeper` then decides: above ``max_risk`` -> rejected (the agent is told why and may
continue, the run records a violation); at or above ``confirm_risk`` -> an approver decides
(``--auto-confirm`` approves, an interactive person may approve, reject or edit). Edited commands go
through the same policy and run as argv lists, never through a shell.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Callable

from openhands_driver.security import (RISK_ORDER, IncidentScope, RiskAssessment, assess, explain,
                                       max_risk, risk_rank)

APPROVE, REJECT, EDIT = "approve", "reject", "edit"


@dataclass(frozen=True)
class Proposal:
    """An action waiting at a gate."""

    tool_call_id: str
    tool: str
    command: str
    policy: RiskAssessment
    model_risk: str | None
    risk: str  # effective


@dataclass(frozen=True)
class Decision:
    verdict: str  # approve | reject | edit
    reason: str = ""
    command: str | None = None  # the edited command


Approver = Callable[[Proposal], Decision]


def auto_approve(proposal: Proposal) -> Decision:
    return Decision(APPROVE, "approved by --auto-confirm")


def no_approver(proposal: Proposal) -> Decision:
    return Decision(REJECT, "this action needs confirmation and nobody can confirm it "
                            "(pass --auto-confirm, or use scripts/start_demo.py --interactive)")


def interactive_approver(ask: Callable[[str], str] = input, say: Callable[[str], None] = print) -> Approver:
    """A person at the terminal approves, rejects or edits each paused action."""

    def approve(proposal: Proposal) -> Decision:
        say(f"\n[gate] the agent wants to run ({proposal.tool}): {proposal.command}")
        say(f"[gate] risk {proposal.risk} (policy {proposal.policy.risk}, model "
            f"{proposal.model_risk or 'no label'}): {'; '.join(proposal.policy.reasons) or 'read-only'}")
        for _ in range(5):
            answer = ask("[gate] approve / reject / edit? [a/r/e] ").strip().lower()
            if answer in ("a", "approve", "y", "yes"):
                return Decision(APPROVE, "approved by the operator")
            if answer in ("r", "reject", "n", "no"):
                reason = ask("[gate] reason for the agent (optional): ").strip()
                return Decision(REJECT, f"rejected by the operator{': ' + reason if reason else ''}")
            if answer in ("e", "edit"):
                command = ask("[gate] command to run instead: ").strip()
                if command:
                    return Decision(EDIT, "edited by the operator", command)
        return Decision(REJECT, "rejected: no valid answer from the operator")

    return approve


@dataclass
class GateRecord:
    tool_call_id: str
    tool: str
    command: str
    policy_risk: str
    model_risk: str | None
    risk: str
    reasons: list[str]
    gate: str = "allowed"  # allowed | rejected | approved | edited
    gate_reason: str = ""
    gate_by: str = ""      # who decided: policy (above --max-security-risk) | operator (a confirmation)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Gatekeeper:
    scope: IncidentScope
    max_risk: str = "MEDIUM"
    confirm_risk: str | None = None
    approver: Approver = no_approver
    records: dict[str, GateRecord] = field(default_factory=dict)
    violations: list[dict] = field(default_factory=list)
    # The agent terminal's working directory after its last command (the shell persists between
    # actions: `cd /etc`, then a relative write), from the terminal observation's metadata.
    cwd: str | None = None

    def __post_init__(self) -> None:
        for label in (self.max_risk, self.confirm_risk):
            if label is not None and label not in RISK_ORDER:
                raise ValueError(f"unknown risk {label!r}; valid: {', '.join(RISK_ORDER)}")

    # --- assessment (called by the SDK analyzer before execution) ---------------------------
    def assess(self, tool_call_id: str, tool: str, arguments: dict) -> str:
        policy = assess(tool, arguments, self.scope, cwd=self.cwd)
        model = arguments.get("security_risk")
        model = str(model).upper() if model else None
        effective = max_risk(policy.risk, model if model in RISK_ORDER else None)
        command = str(arguments.get("command") or arguments.get("path") or arguments.get("name") or "")
        self.records[tool_call_id] = GateRecord(tool_call_id, tool, command, policy.risk, model,
                                                effective, list(policy.reasons))
        return effective

    def lowest_gate(self) -> str | None:
        """The lowest risk at which the conversation must stop before executing."""
        gates = []
        if risk_rank(self.max_risk) < risk_rank("HIGH"):
            gates.append(RISK_ORDER[risk_rank(self.max_risk) + 1])
        if self.confirm_risk:
            gates.append(self.confirm_risk)
        return min(gates, key=risk_rank) if gates else None

    # --- decision on a paused action --------------------------------------------------------
    def decide(self, proposal: Proposal) -> Decision:
        record = self.records.get(proposal.tool_call_id)
        if risk_rank(proposal.risk) > risk_rank(self.max_risk):
            reason = explain(proposal.policy, self.max_risk) if risk_rank(proposal.policy.risk) > risk_rank(self.max_risk) \
                else (f"Blocked before execution: the proposed action is labelled {proposal.risk} "
                      f"(above the allowed {self.max_risk}).")
            self.violations.append({"tool": proposal.tool, "command": proposal.command,
                                    "risk": proposal.risk, "policy_risk": proposal.policy.risk,
                                    "model_risk": proposal.model_risk, "max_allowed": self.max_risk,
                                    "reasons": list(proposal.policy.reasons)})
            self._mark(record, "rejected", reason, by="policy")
            return Decision(REJECT, reason)
        decision = self.approver(proposal)
        if decision.verdict == EDIT and decision.command:
            edited = assess(proposal.tool, {"command": decision.command}, self.scope, cwd=self.cwd)
            if risk_rank(edited.risk) > risk_rank(self.max_risk):
                reason = "the edited command is blocked too: " + explain(edited, self.max_risk)
                self._mark(record, "rejected", reason, by="policy")
                return Decision(REJECT, reason)
        self._mark(record, {APPROVE: "approved", REJECT: "rejected", EDIT: "edited"}[decision.verdict],
                   decision.reason, by="operator")
        return decision

    @staticmethod
    def _mark(record: GateRecord | None, gate: str, reason: str, by: str) -> None:
        if record is not None:
            record.gate, record.gate_reason, record.gate_by = gate, reason, by


def run_edited(command: str, cwd: str, env: dict[str, str], timeout_s: float = 60,
               prefix: list[str] | None = None) -> str:
    """Run an operator-edited command as an argv list (no shell) and describe what happened.
    ``prefix``: the incident sandbox's argv (bwrap ... --), so the edit runs inside it too."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return f"the edited command could not be parsed ({exc}); nothing ran"
    if not argv:
        return "the edited command was empty; nothing ran"
    try:
        proc = subprocess.run([*(prefix or ()), *argv], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the operator's command `{command}` failed to run: {exc}"
    output = (proc.stdout + proc.stderr)[-2000:]
    return (f"The operator replaced your command with `{command}` and ran it (exit code "
            f"{proc.returncode}). Output:\n{output}")


def make_sdk_analyzer(gatekeeper: Gatekeeper):
    """An SDK SecurityAnalyzer that asks the gatekeeper (SDK imported lazily)."""
    import json

    from openhands.sdk.security.analyzer import SecurityAnalyzerBase
    from openhands.sdk.security.risk import SecurityRisk
    from pydantic import PrivateAttr

    class ProjectPolicyAnalyzer(SecurityAnalyzerBase):
        _gatekeeper: Gatekeeper = PrivateAttr()

        def security_risk(self, action) -> SecurityRisk:
            try:
                arguments = json.loads(action.tool_call.arguments) if action.tool_call else {}
            except (TypeError, ValueError):
                arguments = {}
            if not isinstance(arguments, dict):
                arguments = {}
            return SecurityRisk(self._gatekeeper.assess(action.tool_call_id, action.tool_name, arguments))

    analyzer = ProjectPolicyAnalyzer()
    analyzer._gatekeeper = gatekeeper
    return analyzer
