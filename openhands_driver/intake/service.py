"""The intake service: store + queue + escalator + HTTP server, started and stopped as one.

    service = IntakeService(config, runner=my_runner).start()   # serves on service.url
    ...
    service.stop()                                              # graceful: see stop()

:func:`serve` is the blocking entry point of ``scripts/serve.py``: it prints one JSON line
``{"event": "listening", "url": ...}`` when ready and stops gracefully on SIGTERM/SIGINT.
The OpenHands SDK is never imported here (runs happen in worker processes), so the service starts
in well under a second and ``/healthz`` answers at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import TextIO

from openhands_driver.intake import logs, registry, report
from openhands_driver.intake.api import create_app
from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.escalation import Escalator, escalation_record, iso
from openhands_driver.intake.http_server import HttpServer
from openhands_driver.intake.metrics import IntakeMetrics
from openhands_driver.intake.payloads import Incident
from openhands_driver.intake.queue import IntakeQueue, Runner
from openhands_driver.intake.store import Store, redact_payload
from openhands_driver.scenarios import load_catalog
from openhands_driver.telemetry import Telemetry

HOUR_S = 3600.0


class IntakeService:
    def __init__(self, config: IntakeConfig, *, runner: Runner | None = None, clock=time.time):
        self.config = config.validate()
        from openhands_driver.trace import check_writable

        check_writable(self.config.trace_log, "--trace-log")  # before anything starts (exit 2)
        self.clock = clock
        self.registry = registry.load_registry(config.services_file)
        self.catalog = load_catalog(config.training_data)
        self.store = Store(config.db)
        from openhands_driver.intake import approvals

        approvals.ensure_schema(self.store.path)
        self._secrets = [s for s in (config.token, config.routing_key) if s]
        from openhands_driver.intake import roles

        self.token_ids = [entry[0] for entry in roles.load(config.token, config.tokens_file).entries]
        self.request_metrics = IntakeMetrics(self.metrics)  # its own registry (metrics.py)
        self.errors = logs.ErrorRing(secrets=tuple(self._secrets))  # GET /ops/errors
        self.escalator = Escalator(self.store, config, on_change=self.write_report, clock=clock)
        if runner is None:
            from openhands_driver.intake.workers import ProcessRunner

            runner = ProcessRunner(max_workers=config.concurrency)
        self.runner = runner
        self.telemetry = Telemetry.from_environment()  # OpenTelemetry: a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT
        self.queue = IntakeQueue(self.store, config, self.telemetry.wrap_runner(runner), self.escalator, on_final=self.write_report,
                                 clock=clock)
        self.telemetry.bind_service(self)
        self._accepting = False
        self._stopped = False
        self.http: HttpServer | None = None
        self.started_at: float | None = None
        self.recovered: dict[str, list[str]] = {}

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> IntakeService:
        now = self.clock()
        # bound first: a port in use is a UserError before any thread starts (served at the end)
        self.http = HttpServer(create_app(self), host=self.config.host, port=self.config.port,
                               threads=self.config.http_threads, max_body_bytes=self.config.max_body_bytes)
        # crash safety: leftovers of dead runs first, then the lease-checked recovery (lease.py)
        from openhands_driver import janitor
        from openhands_driver.intake import lease

        janitor.sweep(quiet=True, containers=True)

        def escalation_for(row, why):
            needs_human = row["remediation_at"] is not None or "worker" in why
            return escalation_record(
                execution_id=row["id"], incident=json.loads(row["incident"]),
                status="needs_human" if needs_human else "failed",
                reason="needs_human" if needs_human else "unfixed", detail=why, now=now, run_id=row["run_id"],
                report_path=str(self.config.reports_path / f"{row['id']}.md"))

        self.recovered = lease.recover(self.store, now=now, max_attempts=self.config.max_attempts,
                                       escalation_for=escalation_for,
                                       trace_log=self.queue.run_base.get("trace_log"))
        for execution_id in (self.recovered["expired"] + self.recovered["failed"]
                             + self.recovered["needs_human"]):
            self.write_report(execution_id)
        self.heartbeat = lease.Heartbeat(self.store, self.queue.owner, self.clock).start()
        warm = getattr(self.runner, "warm", None)
        if callable(warm) and (self.config.demo_targets or self.registry):
            warm()  # a worker process imports the SDK meanwhile; this process stays light
        self.escalator.start()
        self.queue.start()
        self.errors.attach()
        self.http.start()
        self._accepting = True
        self.started_at = now
        return self

    @property
    def port(self) -> int:
        assert self.http is not None, "start() first"
        return self.http.port

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    @property
    def accepting(self) -> bool:
        return self._accepting

    def drain(self) -> None:
        """Refuse new alerts from now on (503, /healthz draining); queued and running work goes on."""
        self._accepting = False

    def stop(self, deadline_s: float | None = None, cancel_grace_s: float | None = None) -> dict:
        """Graceful stop: refuse new alerts (503, /healthz draining), let in-flight runs finish
        until the deadline, cancel the rest, record every run's final state, then close."""
        if self._stopped:
            return {}
        self._stopped = True
        self._accepting = False
        runs = self.queue.shutdown(self.config.shutdown_deadline_s if deadline_s is None else deadline_s,
                                   self.config.cancel_grace_s if cancel_grace_s is None else cancel_grace_s)
        self.escalator.stop()
        jobs = getattr(self, "dashboard_jobs", None)
        if jobs is not None:  # fan-out/benchmark runs started from the dashboard
            jobs.stop_all()
        if getattr(self, "heartbeat", None) is not None:
            self.heartbeat.stop()
        close = getattr(self.runner, "close", None)
        if callable(close):
            close()
        if self.http is not None:
            self.http.stop()
        self.errors.detach()
        counts = self.store.counts()
        self.telemetry.shutdown()  # flushes; the gauges read the store once more
        self.store.close()
        return {"runs": runs, "queued_left": counts["executions"].get("queued", 0),
                "escalations_pending": counts["escalations"].get("pending", 0)}

    # --- intake ----------------------------------------------------------------------------------

    def plan_for(self, incident: Incident) -> dict:
        """The target plan (raises PayloadError for an unknown demo scenario)."""
        return registry.resolve(incident, self.registry, demo_targets=self.config.demo_targets,
                                catalog=self.catalog).to_dict()

    def accept(self, source: str, body: dict, items: list[tuple[Incident, dict]]) -> list[dict]:
        results = self.store.accept(source, redact_payload(body, self._secrets), items, self.clock(),
                                    self.config.ttl_s)
        self.queue.wake()
        return results

    def reject(self, source: str, body: object, reason: str) -> None:
        if isinstance(body, bytes):
            body = {"raw": body[:2000].decode("utf-8", "replace")}
        self.store.record_rejected(source, redact_payload(body, self._secrets), reason, self.clock())

    def write_report(self, execution_id: str) -> None:
        data = self.store.execution(execution_id)
        if data is None:
            return
        self.telemetry.execution_finished(data)
        path = report.write(data, self.config.reports_path)
        if data["report_path"] != str(path):
            with self.store.tx() as db:
                db.execute("UPDATE executions SET report_path=? WHERE id=?", (str(path), execution_id))

    # --- ops -------------------------------------------------------------------------------------

    def metrics(self) -> dict:
        now = self.clock()
        counts = self.store.counts()
        executions, alerts = counts["executions"], counts["alerts"]
        fixed, failed = executions.get("fixed", 0), executions.get("failed", 0)
        total_tokens = self.store.query("SELECT COALESCE(SUM(tokens_used), 0) FROM executions")[0][0]
        return {"queue_depth": executions.get("queued", 0), "active_runs": len(self.queue.active()),
                "alerts_received": sum(alerts.values()), "deduplicated": alerts.get("deduplicated", 0),
                "expired": executions.get("expired", 0), "cancelled": executions.get("cancelled", 0),
                "rejected_deliveries": counts["deliveries"].get("rejected", 0),
                "success_rate": round(fixed / (fixed + failed), 4) if fixed + failed else None,
                "tokens_last_hour": self.store.tokens_since(now - HOUR_S), "tokens_total": int(total_tokens),
                "executions": executions, "alerts": alerts, "escalations": counts["escalations"]}

    def status(self) -> dict:
        describe = getattr(self.runner, "describe", None)
        warnings = []
        if not self.config.escalation_url:
            warnings.append("no escalation URL: escalations are kept pending (--escalation-url)")
        elif not self.config.routing_key:
            warnings.append("no SRE_ESCALATION_ROUTING_KEY: escalations are sent without a routing key")
        if not self.config.token:
            warnings.append("authentication is off (--insecure-no-auth)")
        return {"state": "running" if self._accepting else "draining", "pid": os.getpid(),
                "started_at": iso(self.started_at), "db": str(self.store.path),
                "reports_dir": str(self.config.reports_path), "demo_targets": self.config.demo_targets,
                "services": sorted(self.registry), "concurrency": self.config.concurrency,
                "ttl_s": self.config.ttl_s, "active_runs": self.queue.active(),
                "budgets": {"per_incident": self.config.incident_token_budget,
                            "hourly": self.config.hourly_token_budget,
                            "estimate": self.queue.budget.estimate_for(self.store)},
                "escalation": {"url_configured": bool(self.config.escalation_url),
                               "states": self.store.counts()["escalations"]},
                "runner": describe() if callable(describe) else {"kind": type(self.runner).__name__},
                "recovered_at_start": {k: len(v) for k, v in self.recovered.items()},
                "warnings": warnings}


def serve(config: IntakeConfig, *, runner: Runner | None = None, out: TextIO = sys.stdout) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit code. Logs are JSON lines on stderr."""
    logs.configure(config.log_level, secrets=tuple(v for v in (config.token, config.routing_key) if v))
    service = IntakeService(config, runner=runner).start()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    print(json.dumps({"event": "listening", "url": service.url, "pid": os.getpid(),
                      "db": str(service.store.path), "recovered": {k: len(v) for k, v in
                                                                   service.recovered.items()}}),
          file=out, flush=True)
    try:
        while not stop.wait(0.5):
            pass
        print(json.dumps({"event": "stopping", "deadline_s": config.shutdown_deadline_s}), file=out,
              flush=True)
        summary = service.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(json.dumps({"event": "stopped", **summary}), file=out, flush=True)
    return 0
