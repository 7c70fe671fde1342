"""The fan-out engine: many incidents at once in ONE process, each fully isolated.

Threading model: ``concurrency`` worker threads pull incidents from a queue and call
``runner.run_incident`` (the same code path as ``run_demo.py``); the SDK is imported once, in the main
thread, before the first worker starts. Each incident gets its own target (process group or
container), port, workspace, brain endpoint, agent terminal, console log and trace row. The main
thread only feeds arrivals (continuous mode), watches deadlines and draws the live view.

Stopping one incident: ``--run-timeout-s`` is enforced by the conversation itself
(``conversation.run_conversation`` pauses the SDK conversation at its deadline); the engine re-issues
the pause while the conversation is past its deadline, because a pause that lands before ``run()``
has switched the conversation to RUNNING is overwritten by it. A paused conversation ends at its next
step boundary (at most the terminal's no-output timeout later); the runner then verifies, cleans the
target up and writes the trace row. A crash inside one incident becomes that incident's ``error`` row.

Ctrl-C / SIGTERM: queued incidents are dropped (reported as ``not_started``), running ones are paused
and end normally (targets cleaned up, rows written); a second Ctrl-C abandons them.
"""

from __future__ import annotations

import dataclasses
import queue
import resource
import signal
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import TextIO

from openhands_driver.errors import UserError
from openhands_driver.fanout.intake import incidents_for
from openhands_driver.fanout.records import (FANOUT_SCHEMA_VERSION, FanoutConfig, FanoutRow, Incident,
                                             harness_overhead, row_status, summarize)
from openhands_driver.paths import ARTIFACTS_DIR
from openhands_driver.progress import Progress, incident_line, summary_table
from openhands_driver.records import RunResult
from openhands_driver.scenarios import load_catalog
from openhands_driver.trace import append_row, trace_row, utc_now

MONITOR_INTERVAL_S = 0.25  # live view refresh, and how often past-deadline conversations are re-paused


def new_fanout_id() -> str:
    return f"fanout-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def warm_up(verbose: bool = False) -> float:
    """Import the SDK, its tools and the OpenAI client once, in this (main) thread; returns seconds.

    Worker threads then find every module imported: no concurrent first imports (a source of
    import-lock deadlocks) and no per-incident import cost.
    """
    began = time.monotonic()
    from openhands_driver.conversation import prepare_sdk_env

    prepare_sdk_env(verbose=verbose)
    import openai.resources  # noqa: F401
    import openhands.sdk  # noqa: F401
    import openhands.tools.file_editor  # noqa: F401
    import openhands.tools.terminal  # noqa: F401

    from openhands_driver import runner

    runner.ensure_targetctl_on_path()
    return round(time.monotonic() - began, 3)


class FanoutEngine:
    def __init__(self, config: FanoutConfig, *, stream: TextIO | None = None, progress: bool = True,
                 view=None):
        if config.concurrency < 1:
            raise UserError(f"--concurrency must be >= 1 (got {config.concurrency})")
        if config.run.simulate:
            raise UserError("FanoutEngine runs real incidents; use fanout.simulate for dry runs")
        self.config = config
        self.fanout_id = config.fanout_id or new_fanout_id()
        self.stream = stream if stream is not None else sys.stderr
        self.show_progress = progress
        self.log_dir = Path(config.log_dir or ARTIFACTS_DIR / "fanout" / self.fanout_id)
        self.rows: list[FanoutRow] = []
        self._rows_lock = threading.Lock()
        self._queue: queue.Queue[Incident | None] = queue.Queue()
        self._stop = threading.Event()
        self._pending = 0  # incidents accepted but not finished
        self._pending_lock = threading.Lock()
        self._all_fed = threading.Event()
        self._not_started: list[Incident] = []
        self._t0 = 0.0
        self.progress: Progress | None = None
        self.sandbox: str | None = None  # the agents' boundary, resolved once in run()
        self.view = view  # another live view (fanout/live.py LiveBoard); default: progress.Progress

    # --- public -------------------------------------------------------------------------------
    def run(self, incidents: list[Incident] | None = None) -> dict:
        config = self.config
        if incidents is None:
            incidents = incidents_for(config, load_catalog(config.run.training_data))
        if config.remote_hosts:
            from openhands_driver.remote import check_hosts

            check_hosts(config.remote_hosts)
        from openhands_driver.sandbox import resolve_kind

        # every incident gets the same boundary: refuse (exit 2) before any starts when it cannot work
        sandbox = resolve_kind(dataclasses.replace(config.run, remote_host=config.remote_hosts[0] if config.remote_hosts
                                       else None))
        if sandbox == "none":
            from openhands_driver.sandbox import NONE_WARNING

            print(NONE_WARNING, file=self.stream)
        self.sandbox = sandbox
        self.log_dir.mkdir(parents=True, exist_ok=True)
        setup_s = warm_up(config.run.verbose)
        if self.view is not None:
            self.progress = self.view.configure(total=len(incidents), concurrency=config.concurrency,
                                                label=self.fanout_id)
        else:
            self.progress = Progress(self.stream if self.show_progress else _Null(), total=len(incidents),
                                     concurrency=config.concurrency, label=self.fanout_id)
        started_at = utc_now()
        cpu_before = _cpu_seconds()
        self._t0 = time.monotonic()
        workers = [threading.Thread(target=self._work, name=f"fanout-worker-{i}", daemon=True)
                   for i in range(config.concurrency)]
        for worker in workers:
            worker.start()
        feeder = threading.Thread(target=self._feed, args=(incidents,), name="fanout-intake", daemon=True)
        previous = _install_sigterm()
        try:
            feeder.start()
            self._monitor()
        finally:
            _restore_sigterm(previous)
            for _ in workers:
                self._queue.put(None)
        wall_s = time.monotonic() - self._t0
        cpu = {k: round(v - cpu_before[k], 2) for k, v in _cpu_seconds().items()}
        report = self._report(incidents, wall_s, setup_s, started_at)
        report["cpu_s"] = cpu  # this process (SDK, threads) and its reaped children (targets, terminals)
        self.progress.close(summary_table(report))
        return report

    # --- threads ------------------------------------------------------------------------------
    def _feed(self, incidents: list[Incident]) -> None:
        """Submit each incident at its arrival time; unsupported ones are recorded, not run."""
        try:
            for position, incident in enumerate(incidents):
                delay = incident.arrival_s - (time.monotonic() - self._t0)
                if (delay > 0 and self._stop.wait(delay)) or self._stop.is_set():
                    self._not_started.extend(incidents[position:])  # never queued
                    return
                with self._pending_lock:
                    self._pending += 1
                self.progress.queued()
                self._hook("incident_queued", incident.index, incident.scenario.scenario_id,
                           incident.scenario.local_fault)
                if not incident.scenario.runnable:
                    self._record(self._unsupported_row(incident), was_running=False)
                else:
                    self._queue.put(incident)
        finally:
            self._all_fed.set()

    def _work(self) -> None:
        while True:
            incident = self._queue.get()
            if incident is None:
                return
            if self._stop.is_set():
                self._drop(incident)
                continue
            self.progress.running()
            try:
                row = self._run_one(incident)
            except BaseException as exc:  # never lose an incident, whatever happened
                row = self._error_row(incident, f"{type(exc).__name__}: {exc}", time.monotonic())
            self._record(row, was_running=True)

    def _monitor(self) -> None:
        from openhands_driver import conversation

        interrupts = 0
        while True:
            try:
                with self._pending_lock:
                    done = self._all_fed.is_set() and self._pending == 0
                if done:
                    return
                time.sleep(MONITOR_INTERVAL_S)
                self.progress.tick()
                conversation.pause_live_conversations(only_timed_out=not self._stop.is_set())
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts > 1:
                    print(f"[fanout] second interrupt: abandoning the running incidents; their targets "
                          f"may still run (see {self.log_dir})", file=self.stream, flush=True)
                    raise
                self._stop.set()
                print("[fanout] interrupted: no new incidents start; stopping the running ones (their "
                      "targets are cleaned up). Ctrl-C again to abandon them.", file=self.stream, flush=True)
                conversation.pause_live_conversations()
                self._drain_queue()

    def _drain_queue(self) -> None:
        while True:
            try:
                incident = self._queue.get_nowait()
            except queue.Empty:
                return
            if incident is not None:
                self._drop(incident)

    def _drop(self, incident: Incident) -> None:
        self._not_started.append(incident)
        self.progress.dropped()
        with self._pending_lock:
            self._pending -= 1

    def _hook(self, name: str, *args) -> None:
        """Per-incident events for views that show incidents (LiveBoard); Progress has none."""
        hook = getattr(self.progress, name, None)
        if callable(hook):
            hook(*args)

    def _record(self, row: FanoutRow, *, was_running: bool) -> None:
        with self._rows_lock:
            self.rows.append(row)
        self._hook("incident_row", row.to_dict())
        self.progress.finished(row.status, incident_line(row.to_dict()), was_running=was_running)
        with self._pending_lock:
            self._pending -= 1

    # --- one incident -------------------------------------------------------------------------
    def _run_one(self, incident: Incident) -> FanoutRow:
        from openhands_driver.runner import run_incident

        started = time.monotonic()
        config = self._incident_config(incident)
        self._hook("incident_started", incident.index, incident.scenario.scenario_id,
                   incident.scenario.local_fault, config.run_id)
        log_path = self.log_dir / f"{config.run_id}.log"
        with open(log_path, "w", encoding="utf-8") as console:
            try:
                result = run_incident(config, console=console)
            except Exception as exc:  # e.g. the target does not know this fault yet
                traceback.print_exc(file=console)
                return self._error_row(incident, f"{type(exc).__name__}: {exc}", started, config, log_path)
        data = result.to_dict()
        status = row_status(result.status, result.conversation_status)
        error = result.error
        if self._stop.is_set() and status != "fixed":
            status, error = "error", "interrupted: the fan-out was stopped while this incident ran"
        bound = config.incident_timeout_s
        if bound and time.monotonic() - started > bound:  # the whole incident ran past its bound
            status, error = "timeout", (f"the incident took {time.monotonic() - started:.1f}s, past "
                                        f"--subprocess-timeout-s {bound:g}" + (f"; {error}" if error else ""))
        return self._row(incident, status, started, config.run_id, log_path, data=data, error=error)

    def _incident_config(self, incident: Incident):
        return dataclasses.replace(self.config.run, scenario=incident.scenario.scenario_id,
                                   run_id=f"{self.fanout_id}-{incident.index:03d}",
                                   remote_host=self._host(incident),
                                   variant_seed=incident.variant_seed)

    def _host(self, incident: Incident) -> str | None:
        """Round-robin over the agent servers, by arrival order."""
        hosts = self.config.remote_hosts
        return hosts[incident.index % len(hosts)] if hosts else None

    def _row(self, incident: Incident, status: str, started: float, run_id: str | None,
             log_path: Path | None, *, data: dict | None = None, error: str | None = None) -> FanoutRow:
        data = data or {}
        scenario = incident.scenario
        start_s = started - self._t0
        return FanoutRow(
            scenario_id=scenario.scenario_id, source_id=incident.source.get("id"),
            local_fault=scenario.local_fault, status=status, service_up=data.get("service_up"),
            step_count=int(data.get("step_count") or 0),
            duration_s=round(data.get("duration_s") or (time.monotonic() - started), 3), run_id=run_id,
            index=incident.index, source=incident.source.get("benchmark"), run_status=data.get("status"),
            skill_id=data.get("skill_id"), queue_wait_s=round(max(0.0, start_s - incident.arrival_s), 3),
            arrival_s=incident.arrival_s, started_s=round(start_s, 3),
            finished_s=round(time.monotonic() - self._t0, 3),
            remote_host=self._host(incident) if run_id else None,
            harness_overhead_s=harness_overhead(data) if data else None, error=error,
            log=str(log_path) if log_path else None, variant_seed=incident.variant_seed,
            resolved=data.get("resolved"), ground_truth=data.get("ground_truth"),
            diagnosis=data.get("diagnosis"), mitigation=data.get("mitigation"),
            durability=data.get("durability"), collateral=data.get("collateral"),
            tokens=data.get("tokens"), cost_usd=data.get("cost_usd"),
            mttd_s=data.get("mttd_s"), mttr_s=data.get("mttr_s"))

    def _unsupported_row(self, incident: Incident) -> FanoutRow:
        row = self._row(incident, "unsupported", time.monotonic(), None, None,
                        error=f"no local analogue: {incident.scenario.unsupported_reason}")
        row.duration_s, row.queue_wait_s, row.started_s = 0.0, 0.0, None
        return row

    def _error_row(self, incident: Incident, error: str, started: float, config=None,
                   log_path: Path | None = None) -> FanoutRow:
        """An incident the harness could not run: still one trace row, so run_id leads somewhere."""
        config = config or self._incident_config(incident)
        if not config.disable_trace_log:
            scenario = incident.scenario
            result = RunResult(
                run_id=config.run_id, scenario=scenario.scenario_id, mode=config.mode,
                strategy_source=config.strategy_source, skill_id=None, routing={},
                brain="llm" if config.model else "runbook", backend=config.backend, simulate=False,
                status="error", service_up=None, step_count=0, started_at=utc_now(),
                local_fault=scenario.local_fault, error=error, trace_log=str(config.trace_log),
                duration_s=round(time.monotonic() - started, 3), finished_at=utc_now())
            try:
                append_row(config.trace_log, trace_row(result))
            except OSError:
                pass
        return self._row(incident, "error", started, config.run_id, log_path, error=error)

    # --- the report ---------------------------------------------------------------------------
    def _report(self, incidents: list[Incident], wall_s: float, setup_s: float, started_at: str) -> dict:
        config = self.config
        rows = sorted(self.rows, key=lambda r: r.index)
        return {
            "schema_version": FANOUT_SCHEMA_VERSION, "kind": "fanout", "fanout_id": self.fanout_id,
            "dry_run_proxy": False, "mode": "continuous" if config.continuous else "batch",
            "training_data": str(load_catalog(config.run.training_data).path),
            "sample_size": config.sample_size, "seed": config.seed, "backend": config.run.backend,
            "brain": "llm" if config.run.model else "runbook", "model": config.run.model,
            "remote_hosts": list(config.remote_hosts), "run_timeout_s": config.run.run_timeout_s,
            "sandbox": self.sandbox,
            "continuous": ({"duration_s": config.duration_s, "arrival_rate_per_min": config.arrival_rate,
                            "arrivals": len(incidents)} if config.continuous else None),
            "started_at": started_at, "setup_s": setup_s, "log_dir": str(self.log_dir),
            "trace_log": None if config.run.disable_trace_log else str(config.run.trace_log),
            "interrupted": self._stop.is_set(),
            "not_started": [i.scenario.scenario_id for i in self._not_started],
            "summary": summarize(rows, concurrency=config.concurrency, wall_s=wall_s),
            "rows": [r.to_dict() for r in rows],
        }


def run_fanout(config: FanoutConfig, *, stream: TextIO | None = None, progress: bool = True, view=None) -> dict:
    """Run every incident of ``config`` (batch or continuous) and return the report dict."""
    return FanoutEngine(config, stream=stream, progress=progress, view=view).run()


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _cpu_seconds() -> dict[str, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"runner": own.ru_utime + own.ru_stime, "children": children.ru_utime + children.ru_stime}


def _raise_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _install_sigterm():
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    return None


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)
