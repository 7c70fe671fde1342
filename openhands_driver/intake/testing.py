"""A scriptable stand-in for the real runner, shipped with the library (like the SDK's TestLLM).

    runner = FakeRunner(outcome="fixed", delay_s=0.05, tokens=600)
    service = IntakeService(config, runner=runner).start()

It returns real :class:`~openhands_driver.records.RunResult` records with the action shape of the
runbook brain (diagnose, remediate, verify, finish) and a verifier verdict, so phases, reports and
escalations are exercised as with a real run. It records every call (order, overlap per service,
peak concurrency), can hold runs until released, and honours the cancel event like the real runner
(status ``interrupted``). Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from openhands_driver.records import ActionRecord, RunResult
from openhands_driver.trace import utc_now

HOLD_LIMIT_S = 60.0


@dataclass
class Call:
    execution_id: str
    service: str
    priority: str
    scenario: str | None
    started: float
    ended: float | None = None


class FakeRunner:
    def __init__(self, *, outcome: str | Callable[[object], str] = "fixed", delay_s: float = 0.0,
                 tokens: int = 0, hold: bool = False, honour_cancel: bool = True,
                 stuck_s: float = 3.0):
        self.outcome, self.delay_s, self.tokens = outcome, delay_s, tokens
        self.honour_cancel, self.stuck_s = honour_cancel, stuck_s
        self.calls: list[Call] = []
        self.requests: list = []  # every RunRequest received (its RunConfig shows the target)
        self.max_concurrent = 0
        self.overlaps: list[str] = []  # services that ever had two runs at once (must stay empty)
        self._release = threading.Event()
        if not hold:
            self._release.set()
        self._lock = threading.Lock()
        self._running: dict[str, str] = {}
        self.started = threading.Condition(self._lock)

    def release(self) -> None:
        self._release.set()

    def wait_started(self, count: int, timeout_s: float = 10.0) -> bool:
        with self.started:
            return self.started.wait_for(lambda: len(self.calls) >= count, timeout_s)

    def __call__(self, request) -> RunResult:
        incident = request.incident
        call = Call(request.execution_id, incident.service, incident.priority, incident.scenario,
                    time.monotonic())
        with self._lock:
            if incident.service in self._running.values():
                self.overlaps.append(incident.service)
            self._running[request.execution_id] = incident.service
            self.calls.append(call)
            self.requests.append(request)
            self.max_concurrent = max(self.max_concurrent, len(self._running))
            self.started.notify_all()
        try:
            deadline = time.monotonic() + HOLD_LIMIT_S
            while not self._release.wait(0.01) and time.monotonic() < deadline:
                if self.honour_cancel and request.cancel.is_set():
                    break
            if self.delay_s:
                request.cancel.wait(self.delay_s) if self.honour_cancel else time.sleep(self.delay_s)
            cancelled = request.cancel.is_set()
            if cancelled and not self.honour_cancel:
                time.sleep(self.stuck_s)  # a run that ignores its cancel (tests the abandon path)
            outcome = self.outcome(request) if callable(self.outcome) else self.outcome
            return self._result(request, "interrupted" if cancelled and self.honour_cancel else outcome)
        finally:
            call.ended = time.monotonic()
            with self._lock:
                self._running.pop(request.execution_id, None)

    def _result(self, request, status: str) -> RunResult:
        fixed = status == "fixed"
        scenario = request.config.scenario
        actions = [
            ActionRecord("terminal", "python3 .agents/skills/x/diagnose.py", "LOW", 0, 0.01, "fault found",
                         "diagnose"),
            ActionRecord("terminal", "python3 .agents/skills/x/remediate.py", "MEDIUM", 0 if fixed else 1,
                         0.01, "", "remediate: remediation steps of the skill x"),
            ActionRecord("terminal", "targetctl status", "LOW", 0, 0.01,
                         "HTTP 200" if fixed else "HTTP 500", "verify"),
            ActionRecord("finish", "Fixed." if fixed else "Still unhealthy. Escalating.", "UNKNOWN",
                         None, 0.0, "", "finish")]
        probes = [{"attempt": n, "ok": fixed, "status_code": 200 if fixed else 500,
                   "body_status": "ok" if fixed else "error", "scenario": scenario,
                   "reason": "healthy" if fixed else "HTTP 500: fault", "elapsed_s": 0.001}
                  for n in (1, 2)]
        return RunResult(
            run_id=request.config.run_id or "fake", scenario=scenario, mode="optimized",
            strategy_source="skills", skill_id="x", routing={"skill_id": "x", "method": "scenario",
                                                            "reason": f"scenario {scenario} maps to skill x"},
            brain="fake", backend=request.config.backend, simulate=False, status=status,
            service_up=fixed if status != "interrupted" else None, step_count=len(actions),
            started_at=utc_now(), finished_at=utc_now(), actions=actions,
            agent_message=actions[-1].command, conversation_status="finished",
            verification={"verified": fixed, "url": "http://127.0.0.1:9/", "expected_scenario": scenario,
                          "consecutive_required": 2, "max_attempts": 2, "interval_s": 0.0,
                          "attempts": probes},
            tokens={"input": self.tokens, "output": 0}, target={"backend": "fake"})
