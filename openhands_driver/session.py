"""One agent session on a running target: brain + gates + secrets (+ fallback) -> outcome.

The brain is the configured model (``model.ModelConfig``) or the offline runbook policy served on
127.0.0.1. Real mode is strict: an SDK or model failure is a failed run, unless ``allow_fallback``
lets the runbook brain take over (recorded with the reason). A run that hit a security gate is never
turned into a fallback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from openhands_driver.config import RunConfig
from openhands_driver.model import ModelConfig, scrub_environment, secret_values

if TYPE_CHECKING:  # the policy package is imported where a scope is built
    from openhands_driver.security import IncidentScope


OBSERVABILITY_VARS = ("LMNR_PROJECT_API_KEY", "OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                      "OTEL_EXPORTER_OTLP_ENDPOINT")


@contextlib.contextmanager
def laminar_span(name: str):
    """A Laminar span around the session when (and only when) Laminar is configured.

    The SDK initialises Laminar at import time when one of OBSERVABILITY_VARS is set; this adds a
    parent span per incident and yields a getter for its trace id (None when not configured).
    """
    trace_id: list[str | None] = [None]
    if not any(os.environ.get(v) for v in OBSERVABILITY_VARS):
        yield lambda: None
        return
    try:
        from openhands_driver.conversation import prepare_sdk_env

        prepare_sdk_env()
        from lmnr import Laminar
        from openhands.sdk.observability.laminar import maybe_init_laminar

        maybe_init_laminar()
        if not Laminar.is_initialized():
            raise RuntimeError("Laminar not initialised")
        span = Laminar.start_as_current_span(name=name)
    except Exception:  # observability must never break an incident run
        yield lambda: None
        return
    with span:
        try:
            found = Laminar.get_trace_id()
            trace_id[0] = str(found) if found else None
        except Exception:
            pass
        yield lambda: trace_id[0]


@dataclass
class SessionOutcome:
    conversation: object  # conversation.ConversationOutcome of the session that counts
    close: Callable[[], None]
    brain: str
    model: str | None
    fallback_used: bool = False
    fallback_reason: str | None = None
    security: dict = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    retries: list[dict] = field(default_factory=list)  # transient model errors retried


def incident_scope(target, workspace: Path, secrets: dict[str, str]):
    from openhands_driver.security import IncidentScope

    described = target.describe()
    pids = tuple(int(p) for p in (target.status().get("supervisor_pid"), target.status().get("app_pid"))
                 if p)
    # The scope as the agent's terminal sees the target (a worker's target is local to its agent)
    return IncidentScope(target_url=target.control_env().get("TARGETCTL_URL") or target.url,
                         target_root=str(target.root), backend=getattr(target, "agent_backend", target.backend),
                         container=described.get("container") or described.get("container_name"),
                         workspace=str(workspace), target_pids=pids,
                         secret_names=tuple(secrets), secret_values=tuple(secrets.values()))


def _gatekeeper(config: RunConfig, scope: IncidentScope, approver=None):
    from openhands_driver.gates import Gatekeeper, auto_approve, no_approver

    return Gatekeeper(scope=scope, max_risk=config.max_security_risk,
                      confirm_risk=config.require_confirmation_for_risk,
                      approver=approver or (auto_approve if config.auto_confirm else no_approver))


def run_session(config: RunConfig, model: ModelConfig, *, target, workspace: Path, message: str,
                console: TextIO = sys.stderr, approver=None, sandbox=None,
                handoff: dict | None = None, api_config_id: str | None = None,
                api_secrets: dict[str, str] | None = None) -> SessionOutcome:
    """``handoff``: ConversationSpec fields of the operator handoff (persistence_dir, conversation_id,
    pause_after_diagnosis, resuming, operator_note; see handoff.py)."""
    from openhands_driver.conversation import ConversationSpec, prepare_sdk_env

    prepare_sdk_env(verbose=config.verbose)
    from openhands_driver.brain.server import PolicyServer
    from openhands_driver.conversation import run_conversation
    from openhands_driver.llm import model_llm, runbook_llm

    # Secret values: masked by the SDK in observations, redacted from traces, and removed from the
    # environment the agent's terminal inherits (after the SDK read what it needs at import).
    named = {name: value for name, value in _named_secrets(model).items() if value}
    named.update({k: v for k, v in (api_secrets or {}).items() if v})  # toolset api: ops token, keys
    scrub_environment()
    terminal_env = dict(target.control_env())
    terminal_env["PATH"] = os.environ["PATH"]
    terminal_env["TARGETCTL_PYTHON"] = sys.executable  # not a pyenv shim: targetctl runs often
    scope = incident_scope(target, workspace, named)

    def spec(gatekeeper) -> ConversationSpec:
        return ConversationSpec(workspace=workspace, incident_message=message, terminal_env=terminal_env,
                                max_iterations=config.max_iterations, run_timeout_s=config.run_timeout_s,
                                step_timeout_s=getattr(config, "step_timeout_s", None),
                                gatekeeper=gatekeeper, secrets=named,
                                condense_context=config.condense_context,
                                remote_host=getattr(config, "remote_host", None), sandbox=sandbox,
                                remote_working_dir=getattr(config, "remote_working_dir", None),
                                toolset=getattr(config, "toolset", "shell"), api_config_id=api_config_id,
                                **(handoff or {}))

    def runbook_session(reason: str | None = None) -> SessionOutcome:
        server = PolicyServer(host=getattr(config, "brain_host", None) or "127.0.0.1").start()
        gatekeeper = _gatekeeper(config, scope, approver)
        try:
            outcome, close = run_conversation(spec(gatekeeper), runbook_llm(server.base_url), console=console)
        except BaseException:
            server.stop()
            raise

        def close_all() -> None:
            try:
                close()
            finally:
                server.stop()

        return SessionOutcome(outcome, close_all, "runbook", None, reason is not None, reason,
                              _security(config, gatekeeper), list(named.values()))

    if not model.model:
        return runbook_session()
    gatekeeper = _gatekeeper(config, scope, approver)
    retried: list[dict] = []

    def on_retry(attempt: int, attempts: int, error: BaseException | None) -> None:
        text = f"{type(error).__name__}: {error}" if error is not None else "unknown"
        retried.append({"what": "model", "attempt": attempt, "attempts": attempts,
                        "error": redact_text(text[:300], named.values())})
        print(f"[runner] model call failed ({text[:120]}); retry {attempt} of {attempts - 1}",
              file=console, flush=True)

    llm = model_llm(model, retries=getattr(config, "retries", 0), backoff_s=getattr(config, "retry_backoff_s", 2.0),
                    on_retry=on_retry)
    try:
        outcome, close = run_conversation(spec(gatekeeper), llm, console=console)
        failure = outcome.error if outcome.status in ("error",) or outcome.error else None
    except Exception as exc:  # the SDK raised before the conversation could record it
        outcome, close, failure = None, (lambda: None), f"{type(exc).__name__}: {exc}"
    security = _security(config, gatekeeper)
    if failure and config.allow_fallback and not gatekeeper.violations:
        close()
        print(f"[runner] model run failed ({failure}); falling back to the runbook brain",
              file=console, flush=True)
        fallback = runbook_session(f"model {model.model} failed: {failure}")
        fallback.retries = retried
        return fallback
    if outcome is None:
        raise RuntimeError(f"model run failed: {failure}")
    return SessionOutcome(outcome, close, "llm", model.model, security=security,
                          secrets=list(named.values()), retries=retried)


def redact_text(text: str, secrets) -> str:
    from openhands_driver.trace import redact

    return redact(text, list(secrets))


def _named_secrets(model: ModelConfig) -> dict[str, str]:
    from openhands_driver.model import named_secrets

    named = named_secrets()
    if model.api_key and model.key_source:
        named[model.key_source] = model.api_key
    return {k: v for k, v in named.items() if v}


def _security(config: RunConfig, gatekeeper) -> dict:
    return {"max_security_risk": config.max_security_risk,
            "require_confirmation_for_risk": config.require_confirmation_for_risk,
            "auto_confirm": config.auto_confirm, "violations": list(gatekeeper.violations),
            "gated_actions": [r.to_dict() for r in gatekeeper.records.values() if r.gate != "allowed"]}


__all__ = ["SessionOutcome", "run_session", "secret_values"]
