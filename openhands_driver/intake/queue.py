"""The intake queue: queued executions in, runs out, every outcome recorded.

The database is the queue (restarts lose nothing). One dispatcher thread picks the next execution:
P1 before P4, FIFO within a priority, never a second run for a service that has one running, never
more than ``concurrency`` runs at once. Before a run it applies the gates: a target plan that cannot
run (no target, blocked by policy) and an exhausted token budget escalate instead; a registered
service that cannot be attached to is probed (verification only) and escalated. Queued executions
past their TTL expire. Each run happens in its own thread through the injectable ``runner``
(``RunRequest -> RunResult``-like record); the real one is :class:`~.workers.ProcessRunner`.

Shutdown (:meth:`IntakeQueue.shutdown`): no new runs; in-flight runs may finish until the deadline,
then their ``cancel`` event is set (the real runner stops its run, which cleans its target up) and,
after a grace period, any run still going is recorded as cancelled ("abandoned"). Queued executions
stay queued for the next start.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openhands_driver import verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.intake import logs, phases
from openhands_driver.intake.budget import TokenBudget
from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.escalation import Escalator, escalation_record
from openhands_driver.intake.lease import WorkerLease, server_owner
from openhands_driver.intake.payloads import Incident
from openhands_driver.intake.registry import TargetPlan, run_config
from openhands_driver.intake.store import Store

TICK_S = 0.5
log = logging.getLogger("openhands_driver.intake.queue")


@dataclass
class RunRequest:
    """What a runner gets: the incident, its RunConfig, a cancel event and a log file for output."""

    execution_id: str
    incident: Incident
    config: RunConfig | None  # None for a verification-only probe (never given to a runner)
    cancel: threading.Event = field(default_factory=threading.Event)
    log_path: Path | None = None
    lease: WorkerLease | None = None  # the fencing token the worker guards its changes with
    approval_timeout_s: float | None = None  # how long a paused command waits for an operator


Runner = Callable[[RunRequest], Any]


def _policy_block(result: Any) -> str | None:
    """Why the run's safety gates or policy stopped something, if they did.

    Read from ``RunResult.security["violations"]`` (the gates of the runner), actions whose
    ``gate`` is "rejected", or a run status "blocked"/"rejected".
    """
    status = str(getattr(result, "status", ""))
    security = getattr(result, "security", None) or {}
    violations = list(security.get("violations") or [])
    rejected = [a for a in getattr(result, "actions", None) or []
                if getattr(a, "gate", None) == "rejected"]
    if status in ("blocked", "rejected"):
        return f"the run ended {status} by policy"
    if violations or rejected:
        return f"{max(len(violations), len(rejected))} action(s) rejected by the security policy"
    return None


def _tokens(result: Any) -> int:
    tokens = getattr(result, "tokens", None) or {}
    return int(tokens.get("input", 0) or 0) + int(tokens.get("output", 0) or 0)


class IntakeQueue:
    def __init__(self, store: Store, config: IntakeConfig, runner: Runner, escalator: Escalator, *,
                 on_final: Callable[[str], None] = lambda execution_id: None,
                 clock: Callable[[], float] = time.time):
        self.store, self.config, self.runner, self.escalator = store, config, runner, escalator
        self.budget = TokenBudget(config.incident_token_budget, config.hourly_token_budget,
                                  config.token_estimate)
        self.on_final, self.clock = on_final, clock
        self.owner = server_owner()  # the lease owner of every execution this process runs
        self._running: dict[str, tuple[threading.Thread, RunRequest]] = {}
        self._abandoned: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.run_base = {"training_data": config.training_data, "trace_log": config.trace_log,
                         "max_iterations": config.max_iterations, "sandbox": config.sandbox}
        if config.verify_interval_s is not None:
            self.run_base["verify_interval_s"] = config.verify_interval_s
        if config.confirm_risk:  # paused commands wait in the database for an operator (approvals.py)
            self.run_base["require_confirmation_for_risk"] = config.confirm_risk
        if config.blind_demo_targets:  # demo plans only; registry.run_config drops it for attach
            self.run_base["blind"] = True

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> IntakeQueue:
        self._thread = threading.Thread(target=self._loop, name="intake-dispatcher", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def active(self) -> list[str]:
        with self._lock:
            return list(self._running)

    @property
    def accepting(self) -> bool:
        return not self._stop.is_set()

    def shutdown(self, deadline_s: float, cancel_grace_s: float) -> dict[str, list[str]]:
        """Stop dispatching; let runs finish until the deadline, then cancel, then abandon."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        out = {"finished": [], "cancelled": [], "abandoned": []}
        with self._lock:
            running = dict(self._running)
        end = time.monotonic() + deadline_s
        for execution_id, (thread, _) in running.items():
            thread.join(max(end - time.monotonic(), 0))
        late = {k: v for k, v in running.items() if v[0].is_alive()}
        out["finished"] = [k for k in running if k not in late]
        for execution_id, (_, request) in late.items():
            self.store.note(execution_id, "note", "cancel", f"shutdown deadline of {deadline_s:g}s "
                            "passed; cancelling the run", self.clock())
            request.cancel.set()
        end = time.monotonic() + cancel_grace_s
        for execution_id, (thread, _) in late.items():
            thread.join(max(end - time.monotonic(), 0))
            if thread.is_alive():
                self._abandoned.add(execution_id)
                if self.store.transition(execution_id, "cancelled", "abandoned at shutdown: the run did "
                                         f"not stop within {cancel_grace_s:g}s of its cancel", self.clock(),
                                         ("running",), finished_at=self.clock()):
                    self.on_final(execution_id)
                out["abandoned"].append(execution_id)
            else:
                out["cancelled"].append(execution_id)
        return out

    # --- dispatching -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                now = self.clock()
                for execution_id in self.store.expire_due(now):
                    self.on_final(execution_id)
                self._dispatch()
            except Exception:  # noqa: BLE001  (the dispatcher must survive; traceback to the log)
                log.exception("dispatcher error")
            upcoming = self.store.next_expiry()
            wait = TICK_S if upcoming is None else min(max(upcoming - self.clock(), 0.01), TICK_S)
            self._wake.wait(wait)
            self._wake.clear()

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if len(self._running) >= self.config.concurrency:
                    return
            now = self.clock()  # fresh for each claim: a run may have just finished
            row = self.store.next_candidate(now)
            if row is None:
                return
            execution_id = row["id"]
            plan = TargetPlan.from_dict(json.loads(row["plan"]))
            incident = Incident.from_dict(json.loads(row["incident"]))
            if plan.kind in ("blocked", "none"):
                self._escalate_unrun(execution_id, incident, plan, "blocked_by_policy"
                                     if plan.kind == "blocked" else "no_target", plan.reason, now)
                continue
            decision = self.budget.check(self.store, now)
            if not decision.allowed:
                self._escalate_unrun(execution_id, incident, plan, "over_budget", decision.reason, now)
                continue
            attempt = row["attempts"] + 1
            now = self.clock()  # after the candidate query: later than the previous run's finish
            token = self.store.claim(execution_id, f"attempt {attempt}: {plan.reason}", now, self.owner,
                                     started_at=now, attempts=attempt, token_estimate=decision.estimate)
            if token is None:
                continue  # resolved or expired meanwhile
            self.store.note(execution_id, "phase", "analyze", self._analyze(incident, plan), now)
            config = None if plan.kind == "verify_only" else run_config(
                plan, run_id=f"intake-{execution_id}-a{attempt}", base=self.run_base,
                incident_text=incident.text)
            if config is not None:
                self._handoff(config, row, incident, plan)
            request = RunRequest(execution_id, incident, config,
                log_path=self.config.logs_path / f"{execution_id}.log",
                lease=WorkerLease(str(self.store.path), execution_id, token),
                approval_timeout_s=self.config.approval_timeout_s if self.config.confirm_risk else None)
            thread = threading.Thread(target=self._run, args=(request, plan), daemon=True,
                                      name=f"intake-run-{execution_id}")
            with self._lock:
                self._running[execution_id] = (thread, request)
            thread.start()

    def _handoff(self, config, row, incident: Incident, plan: TargetPlan) -> None:
        """Operator handoff (handoff.py): resume a paused run the operator approved, or pause this
        one after its diagnosis when the alert (label ``pause_after_diagnosis``) or the service's
        registry entry asks for it."""
        config.state_root = Path(self.config.db).parent / "state"
        if row["paused_run"] and row["resume_note"] is not None:
            config.resume_from, config.note = row["paused_run"], row["resume_note"] or None
            config.scenario = None  # the paused run's
            return
        label = str(incident.labels.get("pause_after_diagnosis", "")).lower() in ("1", "true", "yes")
        registered = bool(plan.service is not None and getattr(plan.service, "pause_after_diagnosis", False))
        config.pause_after_diagnosis = label or registered

    @staticmethod
    def _analyze(incident: Incident, plan: TargetPlan) -> str:
        return (f"{incident.source} alert '{incident.title}' ({incident.priority}) for service "
                f"{incident.service}; target: {plan.reason}")

    def _escalation(self, execution_id: str, incident: Incident, status: str, reason: str, detail: str,
                    run: dict | None = None) -> dict:
        run = run or {}
        return escalation_record(execution_id=execution_id, incident=incident.to_dict(), status=status,
                                 reason=reason, detail=detail, now=self.clock(),
                                 service_up=run.get("service_up"), run_id=run.get("run_id"),
                                 report_path=str(self.config.reports_path / f"{execution_id}.md"))

    def _escalate_unrun(self, execution_id: str, incident: Incident, plan: TargetPlan, reason: str,
                        detail: str, now: float) -> None:
        """Escalate instead of running (no target, blocked by policy, over budget)."""
        escalation = self._escalation(execution_id, incident, "escalated", reason, detail)
        if self.store.transition(execution_id, "escalated", detail, now, ("queued",), escalation,
                                 finished_at=now):
            self.store.note(execution_id, "phase", "analyze", self._analyze(incident, plan), now)
            self.store.note(execution_id, "phase", "finalize", f"escalated without a run ({reason}): "
                            f"{detail}", now)
            self.escalator.wake()
            self.on_final(execution_id)

    # --- runs ------------------------------------------------------------------------------------

    def _run(self, request: RunRequest, plan: TargetPlan) -> None:
        execution_id = request.execution_id
        trace = logs.bind(execution_id)  # every line this run's thread logs carries its id
        try:
            if plan.kind == "verify_only":
                self._probe_only(request, plan)
            else:
                self._run_incident(request, plan)
        except Exception:  # noqa: BLE001  (a recording bug must not kill the thread silently)
            log.exception("recording %s failed", execution_id)
        finally:
            logs.unbind(trace)
            with self._lock:
                self._running.pop(execution_id, None)
            self._wake.set()

    def _probe_only(self, request: RunRequest, plan: TargetPlan) -> None:
        assert plan.service is not None
        probe = verifier.probe(plan.service.url, plan.scenario or "", attempt=1)
        verification = {"verified": False, "url": plan.service.url, "expected_scenario": plan.scenario,
                        "consecutive_required": 1, "attempts": [probe.to_dict()], "probe_only": True}
        outcome = f"escalated without a run: {plan.reason}"
        run = {"verification": verification, "service_up": None, "status": "verify_only"}
        phase_rows = phases.derive([], routing=None, skill_id=None, verification=verification,
                                   outcome=outcome)
        escalation = self._escalation(request.execution_id, request.incident, "escalated", "no_target",
                                      plan.reason, run)
        if self.store.finish_run(request.execution_id, "escalated", plan.reason, self.clock(), run=run,
                                 actions=[], phases=phase_rows, escalation=escalation):
            self.escalator.wake()
            self.on_final(request.execution_id)

    def _run_incident(self, request: RunRequest, plan: TargetPlan) -> None:
        execution_id = request.execution_id
        result, error, user_error = None, None, False
        try:
            if request.log_path is not None:
                request.log_path.parent.mkdir(parents=True, exist_ok=True)
            result = self.runner(request)
        except UserError as exc:  # the run could not be planned (unknown scenario, bad target)
            error, user_error = str(exc), True
        except Exception as exc:  # noqa: BLE001  (any runner failure is a recorded, failed run)
            error = f"{type(exc).__name__}: {exc}"
            log.exception("runner failed for %s", execution_id)
        escalation = None
        if result is None and request.cancel.is_set():
            status, reason = "cancelled", f"cancelled at shutdown before the run reported back ({error})"
            run: dict[str, Any] = {"status": "error", "error": error, "service_up": None}
            actions, outcome = [], reason
        elif result is None:
            status = "escalated" if user_error else "failed"
            reason = f"{'run refused' if user_error else 'runner failed'}: {error}"
            escalation = ("no_target" if user_error else "unfixed", reason)
            run = {"status": "error", "error": error, "service_up": None}
            actions, outcome = [], reason
        else:
            run = self._run_record(result)
            actions = phases.classify_actions(list(getattr(result, "actions", []) or []))
            fixed = run["status"] == "fixed" and run["service_up"] is True
            blocked = _policy_block(result)
            if run["status"] == "paused" and not request.cancel.is_set():
                self._await_operator(execution_id, run, actions, getattr(result, "pause", None) or {})
                return
            if fixed:
                status, reason = "fixed", "the verifier confirmed the service healthy"
            elif request.cancel.is_set():
                status, reason = "cancelled", f"cancelled at shutdown (run ended {run['status']})"
            else:
                status = "failed"
                reason = f"run ended {run['status']}; service_up {run['service_up']}" + (
                    f"; {blocked}" if blocked else "")
                escalation = ("blocked_by_policy" if blocked else "unfixed", reason)
            overrun = self.budget.overrun(run["tokens_used"])
            if overrun:
                reason += f"; over budget ({overrun})"
            outcome = f"{status}: {reason}" + (f"; agent: {run['agent_message'][:300]}"
                                               if run.get("agent_message") else "")
        if execution_id in self._abandoned:  # its final record was written at shutdown
            log.warning("late result of abandoned run %s dropped (run status %s)", execution_id,
                        run.get("status"))
            return
        phase_rows = phases.derive(actions, routing=run.get("routing"), skill_id=run.get("skill_id"),
                                   verification=run.get("verification"), outcome=outcome)
        record = None
        if escalation is not None:
            record = self._escalation(execution_id, request.incident, status, *escalation, run)
        if not self.store.finish_run(execution_id, status, reason, self.clock(), run=run,
                                     actions=actions, phases=phase_rows, escalation=record):
            return  # already finalised (abandoned at shutdown)
        if record:
            self.escalator.wake()
        self.on_final(execution_id)

    def _await_operator(self, execution_id: str, run: dict, actions: list[dict], pause: dict) -> None:
        proposed = "; ".join(p.get("command", "") for p in pause.get("proposed") or [])
        reason = f"paused after diagnosis; proposed: {proposed or '-'}; POST /executions/{execution_id}/resume or /reject"
        run = {**run, "pause": pause}
        phase_rows = phases.derive(actions, routing=run.get("routing"), skill_id=run.get("skill_id"),
                                   verification=None, outcome=f"awaiting_operator: {reason}")
        if self.store.await_operator(execution_id, reason, self.clock(), run=run, actions=actions,
                                     phases=phase_rows):
            self.on_final(execution_id)  # the report shows what waits for the operator

    @staticmethod
    def _run_record(result: Any) -> dict:
        def get(name: str, default: Any = None) -> Any:
            return getattr(result, name, default)
        return {"run_id": get("run_id"), "status": str(get("status", "error")),
                "service_up": get("service_up"), "verification": get("verification"),
                "tokens": get("tokens") or {}, "tokens_used": _tokens(result),
                "cost_usd": get("cost_usd", 0.0), "llm_calls": get("llm_calls", 0),
                "routing": get("routing"), "skill_id": get("skill_id"), "target": get("target") or {},
                "agent_message": get("agent_message") or "", "error": get("error"),
                "duration_s": get("duration_s"), "step_count": get("step_count"),
                "conversation_status": get("conversation_status"), "trace_log": get("trace_log"),
                # the proof and provenance the execution's findings are derived from (findings.py)
                "diagnosis": get("diagnosis"), "mitigation": get("mitigation"), "durability": get("durability"),
                "collateral": {k: v for k, v in (get("collateral") or {}).items() if k != "diffs"} or None,
                "resolved": get("resolved"), "brain": get("brain"), "model": get("model"),
                "skills_used": get("skills_used") or [], "toolset": get("toolset"),
                "agent_tools": get("agent_tools") or []}
