"""The gates around a running conversation: the SDK's confirmation policy and analyzer, the
confirmation loop (the gatekeeper decides every pending action), the pause after diagnosis, the
resume of a paused conversation and the change guard (runrecord's lease check)."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openhands_driver.conversation import ConversationSpec
    from openhands_driver.event_recorder import Recorder


def install_gates(conversation, gatekeeper, remote: bool = False, pause: bool = False) -> None:
    from openhands.sdk.security.confirmation_policy import ConfirmRisky, NeverConfirm
    from openhands.sdk.security.risk import SecurityRisk

    from openhands_driver.gates import make_sdk_analyzer

    # An agent server cannot load this Python analyzer (HTTP 422). Without one, every action's risk
    # is UNKNOWN there, so confirm_unknown stops before every action and run_with_gates assesses it
    # here, on the client, before it runs.
    if not remote:
        conversation.set_security_analyzer(make_sdk_analyzer(gatekeeper))
    gate = gatekeeper.lowest_gate()
    from openhands_driver import runrecord

    if runrecord.has_change_guard() or pause:  # stop before every change: the guard / operator decides
        gate = "MEDIUM" if gate is None or gate == "HIGH" else gate
    conversation.set_confirmation_policy(
        ConfirmRisky(threshold=SecurityRisk(gate), confirm_unknown=True) if gate else NeverConfirm())


def resume(conversation, spec: ConversationSpec, recorder: Recorder) -> None:
    """A restored conversation: the pending actions run (the operator approved them by resuming),
    then the operator's note reaches the agent as a user message (after their results, so every
    tool call is still followed by its result)."""
    from openhands.sdk.conversation.state import ConversationState

    pending = ConversationState.get_unmatched_actions(conversation.state.events)
    note = ("Operator (resumed after review): the proposed actions are approved and were run; "
            "continue the incident." + (f" Note: {spec.operator_note}" if spec.operator_note else ""))
    def after_pending() -> None:
        # The view restored with the conversation dropped the then-unmatched actions (the SDK
        # enforces tool-call matching only when it rebuilds the view): rebuild it now that they
        # have their results, so the model sees each call with its result, then the note.
        conversation.state.rebuild_view()
        conversation.send_message(note)

    from openhands_driver import runrecord

    if pending and runrecord.has_change_guard() and not all(runrecord.before_change(a) for a in pending):
        # the intake's lease (exactly-once remediation): no lease, no change
        conversation.reject_pending_actions("Refused before execution: this run no longer holds the "
                                            "incident's lease; stop and change nothing.")
        return
    if pending:
        recorder.expect(pending, after_pending, "approved by the operator (resume)")
    else:
        conversation.send_message(note)


def _pause_point(spec: ConversationSpec, proposals: list) -> list[dict]:
    """Pause after diagnosis: the first change the agent proposes (MEDIUM or higher) that the gates
    would let run stops the run for the operator. Returns the proposed actions, [] to go on."""
    from openhands_driver.security import risk_rank

    if not spec.pause_after_diagnosis:
        return []
    gatekeeper = spec.gatekeeper
    limit = risk_rank(getattr(gatekeeper, "max_risk", "HIGH") or "HIGH")
    changes = [p for p in proposals if risk_rank("MEDIUM") <= risk_rank(p.risk) <= limit]
    return [{"tool": p.tool, "command": p.command, "risk": p.risk} for p in changes]


def run_with_gates(conversation, spec: ConversationSpec, timed_out: threading.Event) -> list[dict] | None:
    """run(); whenever the SDK stops for confirmation, let the gatekeeper decide, then go on.

    Returns the proposed changes when the run paused for the operator (pause after diagnosis)."""
    from openhands.sdk.conversation.state import ConversationExecutionStatus, ConversationState

    from openhands_driver.gates import Proposal
    from openhands_driver.security import assess

    gatekeeper = spec.gatekeeper
    for _ in range(spec.max_iterations * 2 + 2):  # bounded: each round consumes an action
        conversation.run()
        if timed_out.is_set():
            return
        if conversation.state.execution_status != ConversationExecutionStatus.WAITING_FOR_CONFIRMATION:
            return
        pending = ConversationState.get_unmatched_actions(conversation.state.events)
        rejections = []
        proposals = []
        for action in pending:
            record = gatekeeper.records.get(action.tool_call_id)
            if record is None and spec.remote_host:  # remote: no server-side analyzer (see above)
                if not _assess_remote(gatekeeper, action):
                    continue  # below every gate: it runs, as ConfirmRisky would let it locally
                record = gatekeeper.records[action.tool_call_id]
            arguments = {"command": record.command} if record else {}
            proposal = Proposal(action.tool_call_id, action.tool_name, record.command if record else "",
                                assess(action.tool_name, arguments, gatekeeper.scope, cwd=gatekeeper.cwd),
                                record.model_risk if record else None,
                                record.risk if record else "HIGH")
            proposals.append(proposal)
        paused = _pause_point(spec, proposals)
        if paused:
            return paused
        for proposal in proposals:
            _decide(spec, proposal, rejections)
        if rejections:
            conversation.reject_pending_actions(" ".join(rejections))
    raise RuntimeError("confirmation loop did not settle within the iteration budget")


def _decide(spec: ConversationSpec, proposal, rejections: list[str]) -> None:
    """The gatekeeper's verdict on one pending action; a refusal's reason goes to ``rejections``."""
    from openhands_driver.gates import EDIT, REJECT, run_edited

    if not _change_allowed(spec.gatekeeper, proposal, rejections):
        return
    decision = spec.gatekeeper.decide(proposal)
    if decision.verdict == REJECT:
        rejections.append(decision.reason)
    elif decision.verdict == EDIT:
        rejections.append(run_edited(decision.command, str(spec.workspace), _edit_env(spec),
                                     prefix=getattr(spec.sandbox, "exec_prefix", None)))


def _change_allowed(gatekeeper, proposal, rejections: list[str]) -> bool:
    """Crash safety (runrecord change guard, e.g. the intake's lease): False when the proposal is
    settled here -- refused because the guard says no, or below every real gate (it then runs as
    it would without the guard). True: the gatekeeper decides as usual."""
    from openhands_driver import runrecord
    from openhands_driver.security import risk_rank

    if not runrecord.has_change_guard() or risk_rank(proposal.risk) < risk_rank("MEDIUM"):
        return True
    if not runrecord.before_change(proposal):
        rejections.append("Refused before execution: this run no longer holds the incident's lease "
                          "(another owner took over); stop and change nothing.")
        return False
    gate = gatekeeper.lowest_gate()
    return gate is not None and risk_rank(proposal.risk) >= risk_rank(gate)


def _assess_remote(gatekeeper, action) -> bool:
    """Assess a remote conversation's pending action; True when it is at or above a gate."""
    import json

    from openhands_driver.security import risk_rank

    try:
        arguments = json.loads(action.tool_call.arguments) if action.tool_call else {}
    except (TypeError, ValueError):
        arguments = {}
    risk = gatekeeper.assess(action.tool_call_id, action.tool_name,
                             arguments if isinstance(arguments, dict) else {})
    gate = gatekeeper.lowest_gate()
    return gate is not None and risk_rank(risk) >= risk_rank(gate)


def _edit_env(spec: ConversationSpec) -> dict[str, str]:
    from openhands.sdk.utils import sanitized_env

    return sanitized_env({**os.environ, **spec.terminal_env})
