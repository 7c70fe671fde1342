"""One incident, end to end: plan -> target -> conversation -> verifier -> trace.

``plan_incident`` needs no SDK (dry runs stay fast); ``run_incident`` starts the target first, so
the service boots while the SDK imports, then drives the real conversation, verifies
independently, writes the trace row and always cleans up (normal exit, error, Ctrl-C, SIGTERM).
Its parts: ``incident_plan.py`` (the plan), ``run_target.py`` (target options, start with retries),
``run_verdict.py`` (status and the proof -> ``resolved``), ``run_finish.py`` (the final row).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from openhands_driver import crash_safety, handoff, proof, runrecord, verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.incident_plan import IncidentPlan, plan_incident  # noqa: F401  (importers use runner's)
from openhands_driver.model import resolve_model, secret_values
from openhands_driver.paths import REPO_ROOT
from openhands_driver.records import RunResult
from openhands_driver.run_finish import finish
from openhands_driver.run_target import start_with_retries, target_options
from openhands_driver.run_verdict import prove, run_status, snapshot_after, streak_start_s
from openhands_driver.sandbox import copy_skills, open_sandbox, resolve_kind
from openhands_driver.session import laminar_span, run_session
from openhands_driver.skill_overrides import apply_skill_overrides
from openhands_driver.strategy import Strategy
from openhands_driver.strategy import describe as describe_strategy
from openhands_driver.trace import utc_now

BRAIN_RUNBOOK = "runbook"
TARGETCTL_BIN = REPO_ROOT / "bin"


def _base_result(config: RunConfig, plan: IncidentPlan, started_at: str) -> RunResult:
    attached = config.target_root is not None or config.target_container is not None
    return RunResult(
        run_id=plan.run_id, scenario=plan.scenario.scenario_id, mode=config.mode,
        strategy_source=plan.strategy.source, skill_id=plan.strategy.skill_id,
        routing=plan.routing.to_dict(), brain=BRAIN_RUNBOOK, backend=config.backend,
        simulate=config.simulate, status="simulated" if config.simulate else "error",
        service_up=None, step_count=0, started_at=started_at, local_fault=plan.scenario.local_fault,
        trace_log=None if config.disable_trace_log else str(config.trace_log),
        blind=plan.incident.blind, instance=plan.incident.instance, alert=plan.incident.alert,
        toolset=config.toolset,
        # An attached service was provisioned by somebody else: its ground truth is unknown.
        ground_truth=None if attached else plan.incident.ground_truth.to_dict())


def _prepare_workspace(run_id: str, strategy: Strategy, state_dir: Path | None = None) -> Path:
    # a run that may pause keeps its workspace in its state dir (no owner: it outlives this process)
    workspace = state_dir / "workspace" if state_dir else crash_safety.owned_tempdir(f"sre-incident-{run_id}-", run_id)
    if strategy.load_skills:
        copy_skills(workspace)  # a copy: the sandbox never sees the repository
    return workspace


class _Terminated(BaseException):
    """SIGTERM during a run: handled like Ctrl-C."""


def _raise_terminated(signum, frame):  # noqa: ARG001
    raise _Terminated()


def run_incident(config: RunConfig, *, console: TextIO = sys.stderr, approver=None) -> RunResult:
    """Run one incident end to end. ``approver`` decides actions paused for confirmation
    (default: ``--auto-confirm`` approves, otherwise they are rejected)."""
    started = time.monotonic()
    paused_run = None  # --- operator handoff (handoff.py): the paused run this one resumes
    if config.resume_from:
        config, paused_run = handoff.resume_config(config)
    plan = plan_incident(config)
    if paused_run is not None:  # the same incident (ground truth, instance) as the paused run
        plan = dataclasses.replace(plan, incident=handoff.restore_incident(paused_run.incident))
    model = resolve_model(config.model, config.llm_base_url, env_file=config.env_file)
    result = _base_result(config, plan, utc_now())
    result.brain, result.model = model.brain, model.model
    crash_safety.preflight(config)  # --- crash safety: trace log writable (exit 2), janitor sweep
    if config.simulate:
        result.plan = plan.to_dict()
        return finish(config, result, started)
    handoff_spec, state_dir = handoff.conversation_fields(config, plan, paused_run, result)

    from openhands_driver.target import create_target

    sandbox_kind = resolve_kind(config)  # UserError (exit 2) before anything starts
    if config.backend == "docker":  # the engine first: one line with the fix, not after the SDK loads
        from openhands_driver.target.docker_engine import connect

        connect(timeout=10).close()
    previous_term = previous_hup = None
    if threading_is_main():
        previous_term = signal.signal(signal.SIGTERM, _raise_terminated)
        previous_hup = signal.signal(signal.SIGHUP, _raise_terminated)  # a closed terminal: same
    if paused_run is not None:  # the kept target, attached (the resumed run stops it at its end)
        target = create_target("local", scenario_id=plan.incident.instance, fault=plan.incident.fault,
                               root=Path(paused_run.target["root"]), attach=True, url=paused_run.target["url"])
    else:
        target = create_target(config.backend, scenario_id=plan.incident.instance,
                               fault=plan.incident.fault, **target_options(config, plan))
    workspace = open_run = sandbox = api_config_id = None
    secrets: list[str] = secret_values()
    result.toolset = config.toolset
    try:
        open_run = runrecord.begin(None if config.disable_trace_log else config.trace_log,
                                   result.to_dict(), secrets)  # --- crash safety: "started" row
        # The SDK import (seconds of CPU) runs while the target boots in its own process.
        preload = threading.Thread(target=_preload_sdk, args=(config.verbose,), name="preload-sdk",
                                   daemon=True)
        brain = f"model {model.model}" if model.model else "the offline runbook brain"
        print(f"[runner] {plan.run_id}: starting the target ({config.backend}), {brain} and the agent "
              "runtime (the OpenHands SDK takes a few seconds to load)", file=console, flush=True)
        preload.start()
        try:
            target = start_with_retries(config, plan, target, result, console)
            print(f"[runner] target {target.backend} up in {time.monotonic() - started:.1f}s; "
                  "loading the agent runtime", file=console, flush=True)
        finally:
            preload.join()
        result.target = target.describe()
        owned = getattr(target, "owned", True)
        before = proof.take_snapshot(target) if owned else None
        if paused_run is not None:
            before = paused_run.snapshot_before
        truth = plan.incident.ground_truth
        before_texts = (proof.take_texts(target, [*truth.may_change, *truth.decoys])
                        if before is not None else {})  # for the change's diff in the story
        injected = "blind incident" if plan.incident.blind else f"fault: {plan.incident.fault or 'none'}"
        print(f"[runner] {plan.run_id}: target {target.backend} up at {target.url} "
              f"({injected if owned else 'attached'}); {describe_strategy(plan.strategy, plan.routing.reason)}",
              file=console, flush=True)
        if paused_run is not None:
            workspace = Path(paused_run.workspace)
        else:
            workspace = _prepare_workspace(plan.run_id, plan.strategy, state_dir)
            apply_skill_overrides(workspace, config.skill_overrides)  # optimizer skill candidates
        ensure_targetctl_on_path()
        # --- sandbox (openhands_driver/sandbox): the boundary of the agent's terminal and editor
        sandbox = open_sandbox(sandbox_kind, target, workspace, console)
        api_secrets = None
        if config.toolset == "api":  # --- the HTTP tools: the target's /ops/* API and its token
            from openhands_driver import api_tools

            api_config = api_tools.config_for_target(target, workspace, dict(os.environ))
            api_config_id = api_tools.remember(api_config)
            api_secrets = {"SRE_OPS_TOKEN": api_config.ops_token,
                           "PAGERDUTY_ROUTING_KEY": api_config.pagerduty_routing_key}
        agent_config = _within_incident_budget(config, time.monotonic() - started)
        with laminar_span(f"sre-incident {plan.run_id}") as laminar_trace_id:
            session = run_session(agent_config, model, target=target, workspace=workspace,
                                  message=plan.message, console=console, approver=approver,
                                  sandbox=sandbox, handoff=handoff_spec, api_config_id=api_config_id,
                                  api_secrets=api_secrets)
        result.laminar_trace_id = laminar_trace_id()
        secrets = session.secrets
        outcome, close_conversation = session.conversation, session.close
        result.brain, result.model = session.brain, session.model
        result.fallback_used, result.fallback_reason = session.fallback_used, session.fallback_reason
        result.retries += session.retries
        result.security = session.security
        result.actions = outcome.actions
        result.agent_tools = list(getattr(outcome, "tools", []) or [])
        result.step_count = len(outcome.actions)
        for action in outcome.actions:
            if action.ended_mono is not None:
                action.ended_s = round(action.ended_mono - started, 3)
        result.skills_used = _skills_used(outcome.actions)
        result.agent_message = outcome.final_message
        result.conversation_status = outcome.status
        result.error = outcome.error
        for key in ("tokens", "cost_usd", "llm_calls", "llm_latency_s"):
            if key in outcome.metrics:
                setattr(result, key, outcome.metrics[key])
        if outcome.status == "paused":  # --- operator handoff: target kept broken, state persisted
            close_conversation()
            handoff.record_pause(config, plan, target, result, before, outcome, workspace, state_dir,
                                 handoff_spec)
            return result
        # The agent's terminal shuts down while the verifier probes (it takes about 2 s).
        closer = threading.Thread(target=close_conversation, name="close-conversation")
        closer.start()
        try:
            after = snapshot_after(target, result) if before is not None else None
            changed = [p for p in set(before or {}) | set(after or {})
                       if (before or {}).get(p) != (after or {}).get(p)]
            after_texts = proof.take_texts(target, changed) if after is not None and changed else {}
            check = verifier.verify(target.url, plan.incident.instance,
                                    consecutive=config.verify_consecutive_successes,
                                    max_attempts=config.verify_max_attempts,
                                    interval_s=config.verify_interval_s,
                                    identity_check=getattr(target, "identity", None))
        finally:
            closer.join()
        result.verification = check.to_dict()
        verified_at = time.monotonic() - check.duration_s + streak_start_s(check)
        result.service_up = check.verified
        result.status = run_status(outcome.status, check.verified)
        prove(config, plan, target, result, before, after,
               restart=(paused_run is not None and not paused_run.settings.get("attached")) or None)
        if result.collateral is not None:
            result.collateral["diffs"] = proof.diffs(result.collateral["changed"], before_texts, after_texts)
        if result.diagnosis and result.diagnosis.get("correct"):
            result.mttd_s = proof.time_to_diagnosis(result.actions)
        if result.resolved:  # the verifier's first passing probe of the streak that proved it
            result.mttr_s = round(verified_at - started, 3)
    except (KeyboardInterrupt, _Terminated):
        result.status = "interrupted"
        result.error = "interrupted by the user (Ctrl-C / SIGTERM / SIGHUP); target cleaned up"
        if not result.target:  # stopped while the target started: still record which one was cleaned up
            try:
                result.target = target.describe()
            except Exception:  # the description is a courtesy; the cleanup below is what matters
                pass
        result.actions = result.actions or runrecord.actions_so_far()  # what it changed so far
        result.step_count = len(result.actions)
    except UserError:
        raise
    except Exception as exc:  # internal failure: recorded, the trace still gets its row
        result.status = "error"
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if previous_term is not None:  # a second SIGTERM must not cut the cleanup short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if result.status == "paused":
            pass  # kept running and broken for the operator (result.target says how to stop it)
        elif config.keep_target and result.status != "interrupted":
            kept = target.describe()
            result.target = {**kept, "kept": True, "stop_with": kept.get("stop_with")
                             or f"kill -TERM -- -{kept.get('pid')}"}
        else:
            target.cleanup()
            if paused_run is not None:  # the paused run kept it: this run owns its end
                handoff.stop_kept_target(paused_run)
        if api_config_id is not None:
            from openhands_driver import api_tools

            api_tools.forget(api_config_id)
        if sandbox is not None:  # --- sandbox: stop the broker, record the boundary
            sandbox.close()
        result.security = {**(result.security or {}), "sandbox": sandbox_kind}
        if workspace is not None and result.status != "paused":
            shutil.rmtree(workspace, ignore_errors=True)
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
            signal.signal(signal.SIGHUP, previous_hup)
        finish(config, result, started, secrets)
        runrecord.actions_so_far()  # forget this thread's recorder
        runrecord.finish(open_run)
    return result


def _within_incident_budget(config: RunConfig, elapsed_s: float) -> RunConfig:
    """With ``incident_timeout_s``: the agent's deadline is what is left of the incident's budget
    after start-up, minus what the proof needs (verifier, restart + soak, clean-up)."""
    if not config.incident_timeout_s:
        return config
    proof_s = config.verify_max_attempts * config.verify_interval_s + config.soak_s + 10.0
    left = max(1.0, config.incident_timeout_s - elapsed_s - proof_s)
    if config.run_timeout_s is not None and config.run_timeout_s <= left:
        return config
    return dataclasses.replace(config, run_timeout_s=round(left, 1))


def _skills_used(actions: list) -> list[str]:
    """Skills the agent loaded itself (invoke_skill), in order."""
    import json as _json

    used = []
    for action in actions:
        if action.tool != "invoke_skill":
            continue
        try:
            name = _json.loads(action.command).get("name") if action.command.startswith("{") else None
        except ValueError:
            name = None
        name = name or action.command
        if name and name not in used:
            used.append(str(name))
    return used


def _preload_sdk(verbose: bool) -> None:
    from openhands_driver.conversation import prepare_sdk_env

    prepare_sdk_env(verbose=verbose)
    try:
        import openhands.sdk  # noqa: F401
        import openhands.tools.file_editor  # noqa: F401
        import openhands.tools.terminal  # noqa: F401
    except Exception:  # the real import in the session reports any problem properly
        pass


def threading_is_main() -> bool:
    return threading.current_thread() is threading.main_thread()


def ensure_targetctl_on_path() -> None:
    """Put ``bin/targetctl`` on PATH for this process and the agent terminals it starts."""
    entry = str(TARGETCTL_BIN)
    if entry not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = entry + os.pathsep + os.environ.get("PATH", "")
