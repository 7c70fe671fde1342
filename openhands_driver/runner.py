"""One incident, end to end: plan -> target -> conversation -> verifier -> trace.

``plan_incident`` needs no SDK (dry runs stay fast); ``run_incident`` starts the target first, so
the service boots while the SDK imports, then drives the real conversation, verifies
independently, writes the trace row and always cleans up (normal exit, error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from openhands_driver import crash_safety, handoff, proof, runrecord, verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.incident import Incident, make_incident
from openhands_driver.paths import REPO_ROOT
from openhands_driver.records import RunResult
from openhands_driver.sandbox import copy_skills, open_sandbox, resolve_kind
from openhands_driver.router import RoutingDecision, route
from openhands_driver.scenarios import Scenario, load_catalog
from openhands_driver.strategy import TOOLSETS, Strategy, api_strategy, choose_strategy, incident_message
from openhands_driver.strategy import describe as describe_strategy
from openhands_driver.model import resolve_model, secret_values
from openhands_driver.session import laminar_span, run_session
from openhands_driver.skill_overrides import apply_skill_overrides
from openhands_driver.trace import redact, trace_row, utc_now

BRAIN_RUNBOOK = "runbook"
TARGETCTL_BIN = REPO_ROOT / "bin"


@dataclass(frozen=True)
class IncidentPlan:
    run_id: str
    scenario: Scenario
    routing: RoutingDecision
    strategy: Strategy
    message: str
    incident: Incident
    toolset: str = "shell"

    def to_dict(self) -> dict:
        from openhands_driver.brain.runbook import parse_runbook
        from openhands_driver.skills import load_skills

        text = self.strategy.runbook_text
        if self.strategy.skill_id:
            text = load_skills()[self.strategy.skill_id].body
        return {"strategy": self.strategy.source, "skill_id": self.strategy.skill_id,
                "runbook": self.strategy.runbook_name or f"skill:{self.strategy.skill_id}",
                "steps": parse_runbook(text or "", "api" if self.toolset == "api" else "shell").to_dict(),
                "incident_message": self.message}


def plan_incident(config: RunConfig) -> IncidentPlan:
    """Resolve scenario, routing and strategy. Raises UserError before anything starts."""
    if config.target_root is not None and (config.backend != "local" or not config.target_url):
        raise UserError("target_root (--target-root DIR) attaches to a running local service: it needs "
                        "backend local and target_url (--target-url URL, the service's health URL)")
    catalog = load_catalog(config.training_data)
    scenario = _scenario(catalog, config.scenario or _attached_scenario(config), config)
    if not scenario.runnable:
        raise UserError(f"scenario {scenario.scenario_id!r} has no local analogue: "
                        f"{scenario.unsupported_reason}")
    _check_fault(scenario, catalog)  # --- crash safety / input: an unknown fault is a user error
    run_id = config.run_id or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    if config.variant_seed is not None and config.target_root is not None:
        raise UserError("--variant-seed draws a new incident: it cannot go with --target-root (an "
                        "attached service is already provisioned)")
    incident = make_incident(scenario, run_id=run_id, blind=config.blind, seed=config.variant_seed)
    if config.incident_text:  # an alert as received (e.g. from the intake service)
        incident = dataclasses.replace(incident, alert=config.incident_text)
        scenario = dataclasses.replace(scenario, error_report=config.incident_text)
    if config.blind:  # only what the agent can see: the alert's text, no scenario label
        routing = route(None, incident.alert, forced_skill=config.skill_id)
        chosen = routing if routing.method == "forced" else RoutingDecision(
            None, "agent", f"blind: the agent chooses from the catalog ({routing.reason})",
            routing.scores)
    else:
        routing = chosen = route(scenario, incident.alert, forced_skill=config.skill_id)
    strategy = choose_strategy(config.mode, config.strategy_source, chosen,
                               strategy_text=config.strategy_text, optimizer_result=config.optimizer_result)
    if config.toolset not in TOOLSETS:
        raise UserError(f"unknown toolset {config.toolset!r}. Valid toolsets: {', '.join(TOOLSETS)}")
    if config.toolset == "api":
        if config.remote_host:
            raise UserError("--toolset api runs the conversation in-process: drop --remote-host")
        strategy = api_strategy(strategy)
    message = incident_message(incident.title, incident.alert, strategy, chosen, blind=config.blind,
                               toolset=config.toolset)
    return IncidentPlan(run_id, scenario, routing, strategy, message, incident, config.toolset)


def _scenario(catalog, scenario_id: str, config: RunConfig) -> Scenario:
    """The catalog's scenario; for blind or seeded runs a fault class's name works too (the
    incident then comes from its generator alone)."""
    if scenario_id in catalog.ids():
        return catalog.get(scenario_id)
    builtin = load_catalog(None)
    if Path(catalog.path).resolve() != Path(builtin.path).resolve() and scenario_id in builtin.ids():
        # the design runs built-in scenarios with an imported file given: fall back, and say so
        print(f"[runner] note: scenario {scenario_id!r} is not in {catalog.path}; using the built-in "
              f"catalog's ({builtin.path})", file=sys.stderr, flush=True)
        return builtin.get(scenario_id)
    if not (config.blind or config.variant_seed is not None):
        return catalog.get(scenario_id)  # the unknown-scenario error, with the valid ids
    from target_service import faults

    if scenario_id in faults.FAULT_CLASSES:
        return Scenario(scenario_id=scenario_id, local_fault=scenario_id,
                        error_report="(drawn from the variant seed)", title=scenario_id)
    raise UserError(f"unknown scenario {scenario_id!r} in {catalog.path}. Valid scenarios: "
                    f"{', '.join(catalog.ids())}; with --blind or --variant-seed also a fault class: "
                    f"{', '.join(sorted(faults.FAULT_CLASSES))}")


def _check_fault(scenario: Scenario, catalog) -> None:
    from target_service.faults import FAULTS

    if scenario.local_fault is not None and scenario.local_fault not in FAULTS:
        raise UserError(f"{catalog.path}: scenario {scenario.scenario_id!r} has local_fault "
                        f"{scenario.local_fault!r}, which the target does not know; use one of: "
                        f"{', '.join(sorted(FAULTS))} (or null for an incident without a local analogue)")


def _attached_scenario(config: RunConfig) -> str:
    """No scenario given: the one the attached local service reports (its etc/service.json)."""
    if config.backend != "local" or config.target_root is None:
        raise UserError("no scenario given: pass a scenario id (--scenario), or attach to a running "
                        "local service (--backend local --target-root DIR) to use the one it reports")
    from openhands_driver.target.local import service_root_scenario

    return service_root_scenario(config.target_root)


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
        return _finish(config, result, started)
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
                               fault=plan.incident.fault, **_target_options(config, plan))
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
            target = _start_with_retries(config, plan, target, result, console)
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
            after = _snapshot_after(target, result) if before is not None else None
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
        verified_at = time.monotonic() - check.duration_s + _streak_start_s(check)
        result.service_up = check.verified
        result.status = _status(outcome.status, check.verified)
        _prove(config, plan, target, result, before, after,
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
        _finish(config, result, started, secrets)
        runrecord.actions_so_far()  # forget this thread's recorder
        runrecord.finish(open_run)
    return result


def _start_with_retries(config: RunConfig, plan: IncidentPlan, target, result: RunResult, console):
    """Start the target; a TargetError (a transient start failure) is retried with a fresh target
    up to ``config.retries`` times, waiting ``retry_backoff_s`` * 2**n, each retry recorded."""
    from openhands_driver.target import TargetError, create_target

    for attempt in range(config.retries + 1):
        try:
            target.start()
            return target
        except TargetError as exc:
            if attempt >= config.retries:
                if attempt:  # a retry's own target: the caller only cleans up the first one
                    target.cleanup()
                raise
            wait = round(config.retry_backoff_s * 2 ** attempt, 3)
            result.retries.append({"what": "target", "attempt": attempt + 1, "attempts": config.retries + 1,
                                   "error": str(exc)[:300], "wait_s": wait})
            print(f"[runner] target start failed ({exc}); retry {attempt + 1} of {config.retries} in {wait}s",
                  file=console, flush=True)
            target.cleanup()
            time.sleep(wait)
            target = create_target(config.backend, scenario_id=plan.incident.instance,
                                   fault=plan.incident.fault, **_target_options(config, plan))
    return target


def _prove(config: RunConfig, plan: IncidentPlan, target, result: RunResult,
           before: dict | None, after: dict | None, restart: bool | None = None) -> None:
    """Diagnosis, mitigation, durability and collateral, judged by the runner; then ``resolved``."""
    incident = plan.incident
    if result.ground_truth is not None:
        result.diagnosis = proof.score_diagnosis(result.agent_message, incident.ground_truth)
        result.mitigation = (proof.check_mitigation_all(target, incident.injections)
                             if len(incident.injections) > 1
                             else proof.check_mitigation(target, incident.fault, incident.params))
    if before is not None and after is not None:
        result.collateral = proof.compare_snapshots(
            before, after, may_change=incident.ground_truth.may_change,
            decoys=incident.ground_truth.decoys)
    if result.service_up:
        result.durability = proof.check_durability(target, incident.instance, soak_s=config.soak_s,
                                                   interval_s=min(0.5, config.verify_interval_s),
                                                   restart=restart if restart is not None
                                                   else getattr(target, "owned", True))
    else:
        result.durability = {"passed": False, "restarted": False,
                             "note": "not checked: the verifier did not pass"}
    result.resolved = bool(result.service_up and result.durability.get("passed")
                           and (result.mitigation or {"passed": True})["passed"]
                           and (result.collateral or {"passed": True})["passed"])


def _snapshot_after(target, result: RunResult) -> dict | None:
    """The after-snapshot; when the target cannot give one, collateral fails closed with the reason
    (the run is still judged, not lost to an exception)."""
    try:
        return proof.take_snapshot(target)
    except RuntimeError as exc:
        result.collateral = {"passed": False, "changed": [], "outside_fix": [], "decoys_changed": [],
                             "error": f"no snapshot after the run: {exc}"}
        return None


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


def _streak_start_s(check) -> float:
    """Seconds into the verification at which its final passing streak began."""
    attempts = check.attempts
    first = len(attempts)
    while first > 0 and attempts[first - 1].ok:
        first -= 1
    return sum(check.interval_s for _ in range(first))


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


def _target_options(config: RunConfig, plan: IncidentPlan) -> dict:
    """Backend-specific create_target arguments (docker: run id labels, image, attach mode;
    local: attach mode)."""
    options = {"port": config.target_port}
    if config.backend == "docker":
        options.update(run_id=plan.run_id, image=config.runtime_image,
                       container=config.target_container, url=config.target_url)
    elif config.target_root is not None:
        options.update(root=Path(config.target_root), attach=True, url=config.target_url)
    elif config.keep_target or config.pause_after_diagnosis:  # crash safety: a kept target outlives us
        options["keep"] = True
    options.update(config.target_options or {})  # e.g. the worker backend's worker
    if config.target_root is None and config.target_container is None:
        options["fault_params"] = plan.incident.params  # the variant: which file, flag, value...
        if len(plan.incident.injections) > 1:  # every injection, applied together
            options["injections"] = plan.incident.injections
    return options


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


def _status(conversation_status: str, verified: bool) -> str:
    if verified:
        return "fixed"
    if conversation_status in ("stuck", "timeout", "interrupted"):
        return conversation_status
    return "not_fixed"


def _finish(config: RunConfig, result: RunResult, started: float, secrets: list[str] = ()) -> RunResult:
    result.finished_at = utc_now()
    result.duration_s = round(time.monotonic() - started, 3)
    if secrets:  # nothing the caller prints or stores may hold a secret value
        redacted = redact(result.to_dict(with_excerpts=True), secrets)
        result.agent_message, result.error = redacted["agent_message"], redacted["error"]
        for action, clean in zip(result.actions, redacted["actions"]):
            action.command, action.output_excerpt = clean["command"], clean["output_excerpt"]
    if not config.disable_trace_log:
        row = trace_row(result, secrets)
        if not config.simulate:  # the run's story in markdown, next to the trace (what the row holds)
            from openhands_driver.reports import run_report

            try:
                result.report = str(run_report.write(row, config.trace_log))
                row["report"] = result.report
                if config.save_trajectory:
                    row["trajectory"] = str(_write_trajectory(row, config.trace_log))
            except OSError as exc:  # conveniences; the trace row is the record
                print(f"[runner] report/trajectory not written: {exc}", file=sys.stderr)
        crash_safety.append_final(config.trace_log, row)
    return result


def _write_trajectory(row: dict, trace_log: Path) -> Path:
    """<trace dir>/<run_id>.jsonl: the run's actions (redacted, as in its trace row), one per line."""
    import json

    path = Path(trace_log).parent / f"{row['run_id']}.jsonl"
    lines = [json.dumps({"run_id": row["run_id"], "step": n, **action}, sort_keys=True, default=str)
             for n, action in enumerate(row.get("actions") or [], 1)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def ensure_targetctl_on_path() -> None:
    """Put ``bin/targetctl`` on PATH for this process and the agent terminals it starts."""
    entry = str(TARGETCTL_BIN)
    if entry not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = entry + os.pathsep + os.environ.get("PATH", "")
