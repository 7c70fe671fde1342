"""The orchestrator: incidents by severity onto the least-loaded worker, each target on its worker.

One process; N agent-server workers (``workers.py``). Per incident, the same pipeline as every other
run (``runner.run_incident``) with three placements changed:

- the target: backend ``worker`` (``openhands_driver/target/worker.py``), provisioned *inside* the
  assigned worker through its agent-server APIs; no Docker-in-Docker, nothing on this host;
- the conversation: on that worker's agent server (``remote_host``), its terminal next to the target;
- the offline brain: listening on an address the workers can reach (the bridge network's gateway).

The verifier, the oracles, durability and collateral run here and reach the target over the
worker's network address (``target.url``): verification stays independent of the worker's agent.

Scheduling: incidents are queued by severity (P1 first; a scenario's ``severity``/``priority``
field, else P3), then by arrival; a free slot takes the next one and gives it to the live worker
with the fewest incidents running (ties: fewest so far, then lowest index). A worker that dies takes
only its running incidents with it (their rows are errors naming it); the others go on.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from openhands_driver.errors import UserError
from openhands_driver.fanout.engine import FanoutEngine
from openhands_driver.fanout.records import FanoutConfig, FanoutRow, Incident
from openhands_driver.orchestrator.workers import Worker

DEFAULT_PRIORITY = "P3"


@dataclass
class OrchestratorConfig:
    """One orchestration: the fan-out (which incidents, the per-incident run template) and the workers."""

    fanout: FanoutConfig
    workers: int = 2                          # workers to start here (ignored with worker_urls)
    worker_urls: list[str] = field(default_factory=list)  # workers that already run (--worker)
    slots_per_worker: int = 1                 # incidents one worker runs at once
    agent_image: str | None = None            # default: build the worker image (image.py)
    keep_artifacts: bool = False              # keep workers, network, logs after the run
    brain_host: str | None = None             # default: the bridge gateway (started workers) or 127.0.0.1
    worker_memory: str | None = "1g"          # each started worker's memory limit
    api_key: str | None = None                # external workers' SESSION_API_KEY


def severity(incident: Incident) -> str:
    """P1..P4 of an incident's scenario (``severity`` or ``priority`` field), else P3."""
    from openhands_driver.intake.payloads import PayloadError, priority_from

    extra = incident.scenario.extra
    for key in ("severity", "priority"):
        try:
            found = priority_from(extra.get(key), key)
        except PayloadError:
            found = None
        if found:
            return found
    return DEFAULT_PRIORITY


def by_severity(incidents: list[Incident]) -> list[Incident]:
    """Queue order: severity, then arrival (a stable sort keeps arrival order within a severity)."""
    return sorted(incidents, key=lambda i: (severity(i), i.arrival_s, i.index))


def plan_assignment(incidents: list[Incident], workers: list[str], slots: int = 1) -> dict[int, str]:
    """The dry-run view of the scheduler: every incident takes equally long, so slots fill in queue
    order onto the least-loaded worker. Incident index -> worker name."""
    load = {name: 0 for name in workers}
    plan = {}
    for incident in by_severity(incidents):
        if not incident.scenario.runnable:
            continue
        name = min(workers, key=lambda w: (load[w], workers.index(w)))
        plan[incident.index] = name
        load[name] += 1
    return plan


class OrchestratorEngine(FanoutEngine):
    """The fan-out engine with placement on workers (see the module docstring)."""

    def __init__(self, config: OrchestratorConfig, workers: list[Worker], *, brain_host: str,
                 api_key: str | None, alive_check=None, stream=None, progress: bool = True):
        if not workers:
            raise UserError("the orchestrator needs at least one worker (--workers N or --worker URL)")
        fanout = dataclasses.replace(config.fanout, concurrency=len(workers) * config.slots_per_worker,
                                     remote_hosts=[w.url for w in workers])
        super().__init__(fanout, stream=stream, progress=progress)
        self.orchestration = config
        self.workers = workers
        self.brain_host = brain_host
        self.api_key = api_key
        self._assigned: dict[int, Worker] = {}
        self._running: dict[str, int] = {w.name: 0 for w in workers}
        self._lock = threading.Lock()
        self._alive_check = alive_check  # Worker -> bool, asked before a worker gets an incident

    # --- placement ------------------------------------------------------------------------------
    def _acquire(self, incident: Incident) -> Worker | None:
        with self._lock:
            for worker in self.workers:  # the monitor may not have seen a death yet
                if worker.alive and self._alive_check is not None and not self._alive_check(worker):
                    worker.alive = False
                    _worker_died(worker)
            live = [w for w in self.workers if w.alive]
            if not live:
                return None
            worker = min(live, key=lambda w: (self._running[w.name], len(w.incidents), self.workers.index(w)))
            self._running[worker.name] += 1
            worker.incidents.append(f"{self.fanout_id}-{incident.index:03d}")
            self._assigned[incident.index] = worker
            return worker

    def _release(self, worker: Worker) -> None:
        with self._lock:
            self._running[worker.name] -= 1

    def _run_one(self, incident: Incident) -> FanoutRow:
        worker = self._acquire(incident)
        if worker is None:
            return self._error_row(incident, "no live worker left to run this incident", time.monotonic())
        try:
            return super()._run_one(incident)
        finally:
            self._release(worker)

    def _host(self, incident: Incident) -> str | None:
        worker = self._assigned.get(incident.index)
        return worker.url if worker else None

    def _incident_config(self, incident: Incident):
        run = super()._incident_config(incident)
        worker = self._assigned.get(incident.index)
        if worker is None:
            return run
        return dataclasses.replace(
            run, backend="worker", brain_host=self.brain_host, sandbox="auto",
            target_options={"worker_url": worker.url, "worker_address": worker.address,
                            "worker_name": worker.name, "api_key": self.api_key})

    def _row(self, incident: Incident, status: str, started: float, run_id, log_path, *,
             data: dict | None = None, error: str | None = None) -> FanoutRow:
        worker = self._assigned.get(incident.index)
        if (worker is not None and worker.alive and status != "fixed" and self._alive_check is not None
                and not self._alive_check(worker)):
            worker.alive = False
        if worker is not None and not worker.alive and status != "fixed":
            status = "error"
            error = f"worker {worker.name} ({worker.url}) died while this incident ran" + (
                f": {error}" if error else "")
        row = super()._row(incident, status, started, run_id, log_path, data=data, error=error)
        row.worker = worker.name if worker else None
        row.target = (data or {}).get("target")
        return row


def run_orchestrated(config: OrchestratorConfig, *, stream=None, progress: bool = True) -> dict:
    """Start (or take) the workers, run every incident on them, remove the workers; the report."""
    from openhands_driver.fanout.intake import incidents_for
    from openhands_driver.orchestrator import workers as pool_mod
    from openhands_driver.remote import API_KEY_ENV
    from openhands_driver.scenarios import load_catalog

    fanout = config.fanout
    if fanout.simulate:
        return simulate(config)
    if config.slots_per_worker < 1:
        raise UserError(f"--slots-per-worker must be >= 1 (got {config.slots_per_worker})")
    incidents = by_severity(incidents_for(fanout, load_catalog(fanout.run.training_data)))
    from openhands_driver import janitor

    phases: dict[str, float] = {}
    began = time.monotonic()
    janitor.sweep(quiet=True, containers=True)  # a crashed orchestrator's workers and network
    phases["janitor_s"] = round(time.monotonic() - began, 3)
    pool = None
    previous_key = os.environ.get(API_KEY_ENV)
    previous_signals = _install_signals()  # SIGTERM/SIGHUP: like Ctrl-C, so the finally removes the workers
    try:
        if config.worker_urls:
            workers = pool_mod.external_workers(config.worker_urls)
            api_key = config.api_key or os.environ.get(API_KEY_ENV) or os.environ.get("SESSION_API_KEY")
            brain_host = config.brain_host or "127.0.0.1"
            image = None
        else:
            from openhands_driver.orchestrator.image import build_worker_image
            from openhands_driver.target.docker_engine import connect

            client = connect()
            began = time.monotonic()
            if config.agent_image:  # a given image must be here: this engine pulls from no registry
                from docker.errors import APIError, ImageNotFound

                try:
                    client.images.get(config.agent_image)
                except (ImageNotFound, APIError) as exc:  # APIError: not even a valid image reference
                    why = "" if isinstance(exc, ImageNotFound) else f" ({getattr(exc, 'explanation', exc)})"
                    raise UserError(f"--agent-image {config.agent_image} is not in the local Docker engine{why} "
                                    "(nothing is pulled from a registry here); build or load it first, or "
                                    "omit --agent-image to build the worker image offline") from None
            image = config.agent_image or build_worker_image(client)["tag"]
            phases["image_s"] = round(time.monotonic() - began, 3)
            api_key = pool_mod.new_api_key()
            run_id = fanout.fanout_id or f"orch-{pool_mod.new_run_id()}"
            fanout = dataclasses.replace(fanout, fanout_id=run_id)
            pool = pool_mod.WorkerPool(client, run_id=run_id, image=image, count=config.workers,
                                       api_key=api_key, memory_limit=config.worker_memory,
                                       keep=config.keep_artifacts)
            began = time.monotonic()
            workers = pool.start()
            phases["workers_start_s"] = round(time.monotonic() - began, 3)
            brain_host = config.brain_host or pool.gateway
        if api_key:
            os.environ[API_KEY_ENV] = api_key  # remote.open_session authenticates with it
        monitor = pool_mod.Monitor(pool, on_dead=_worker_died, on_dead_again=_end_conversations_on).start()
        engine = OrchestratorEngine(dataclasses.replace(config, fanout=fanout), workers,
                                    brain_host=brain_host, api_key=api_key, stream=stream, progress=progress,
                                    alive_check=pool.container_running if pool else None)
        try:
            began = time.monotonic()
            report = engine.run(incidents)
            phases["run_s"] = round(time.monotonic() - began, 3)
        finally:
            monitor.stop()
        report.update(kind="orchestrated", backend="worker", brain_host=brain_host, worker_image=image,
                      network=pool.network_name if pool else None,
                      workers=[w.to_dict() for w in workers], slots_per_worker=config.slots_per_worker,
                      severity={str(i.index): severity(i) for i in incidents}, phases=phases)
        return report
    finally:
        _restore_signals(previous_signals)
        if previous_key is None:
            os.environ.pop(API_KEY_ENV, None)
        else:
            os.environ[API_KEY_ENV] = previous_key
        if pool is not None:
            began = time.monotonic()
            removed = pool.close()
            phases["teardown_s"] = round(time.monotonic() - began, 3)
            if config.keep_artifacts:
                print(f"[orchestrator] kept workers on network {pool.network_name}: remove with "
                      f"docker rm -f $(docker ps -aq --filter label=openhands-gepa-sre.run_id={pool.run_id})",
                      file=stream or sys.stderr, flush=True)
            elif removed:
                print(f"[orchestrator] removed {len(removed)} worker container(s) and network(s)",
                      file=stream or sys.stderr, flush=True)


def _worker_died(worker: Worker) -> None:
    """A worker's container stopped: its running conversations end now (error rows naming it)."""
    from openhands_driver.conversation import abort_remote_conversations

    worker.alive = False
    aborted = abort_remote_conversations(worker.url)
    print(f"[orchestrator] worker {worker.name} ({worker.url}) is gone; ended {aborted} conversation(s) "
          f"on it", file=sys.stderr, flush=True)


def _end_conversations_on(worker: Worker) -> None:
    from openhands_driver.conversation import abort_remote_conversations

    abort_remote_conversations(worker.url)


def _raise_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def _install_signals() -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}


def _restore_signals(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def simulate(config: OrchestratorConfig) -> dict:
    """Plan only: routing per incident (the fan-out's dry run) plus severity and the worker each
    would get. Starts nothing: no image build, no container, no network."""
    from openhands_driver.fanout.intake import incidents_for
    from openhands_driver.fanout.simulate import simulate as fanout_simulate
    from openhands_driver.scenarios import load_catalog

    report = fanout_simulate(config.fanout)
    incidents = incidents_for(config.fanout, load_catalog(config.fanout.run.training_data))
    names = ([f"worker-{i}" for i in range(len(config.worker_urls))] if config.worker_urls
             else [f"worker-{i}" for i in range(config.workers)])
    plan = plan_assignment(incidents, names, config.slots_per_worker)
    order = {i.index: position for position, i in enumerate(by_severity(incidents))}
    by_index = {i.index: i for i in incidents}
    for row in report["rows"]:
        row["severity"] = severity(by_index[row["index"]])
        row["queue_position"] = order[row["index"]]
        row["worker"] = plan.get(row["index"]) if row["status"] == "planned" else None
    report.update(kind="orchestrated", workers=[{"name": n, "url": url} for n, url in
                                                 zip(names, config.worker_urls or [None] * len(names))],
                  slots_per_worker=config.slots_per_worker)
    return report


__all__ = ["OrchestratorConfig", "OrchestratorEngine", "by_severity", "plan_assignment", "run_orchestrated",
           "severity", "simulate"]
