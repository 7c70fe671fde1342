"""The intake's own health: checks of what it depends on, and the composite status they make.

    checks = health.run(service, deep=True)      # GET /ops/health
    status, reasons = health.composite(service, checks)

Checks (each a :class:`Check`: ok, required, detail, duration):
    database     the audit database takes a write (a row in ``meta``, one transaction)
    workers      the HTTP server, dispatcher, escalator and lease heartbeat threads are alive, and
                 every worker process the runner started is
    skills       every runbook (``.agents/skills/*/SKILL.md``) is readable, and there is at least one
    escalation   (deep only) a TCP connection to the escalation endpoint within ``timeout_s``
                 (nothing is sent); skipped when no URL is configured

Composite: ``unhealthy`` when a required check fails; ``degraded`` when an optional one fails,
the intake is draining, escalations are failing or errors were logged in the last five minutes;
else ``healthy``. Every non-healthy status names its reasons.
"""

from __future__ import annotations

import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from openhands_driver.paths import SKILLS_DIR

if TYPE_CHECKING:
    from openhands_driver.intake.service import IntakeService

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
ESCALATION_TIMEOUT_S = 2.0
RECENT_ERRORS_S = 300.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    required: bool
    detail: str
    duration_ms: float
    skipped: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _timed(name: str, required: bool, probe) -> Check:
    started = time.perf_counter()
    try:
        ok, detail, *rest = probe()
    except Exception as exc:  # noqa: BLE001 - a failing probe is the check's answer
        ok, detail, rest = False, f"{type(exc).__name__}: {exc}", []
    return Check(name, bool(ok), required, detail, round((time.perf_counter() - started) * 1000, 2),
                 bool(rest and rest[0]))


def _database(service: IntakeService):
    with service.store.tx() as db:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('health_checked_at', ?)",
                   (repr(time.time()),))
    return True, f"{service.store.path} accepted a write"


def _thread_alive(owner: object) -> bool:
    thread = getattr(owner, "_thread", None)  # Escalator, IntakeQueue, Heartbeat keep theirs here
    return thread is not None and thread.is_alive()


def _workers(service: IntakeService):
    dead = [name for name, owner in (("dispatcher", service.queue), ("escalator", service.escalator),
                                     ("heartbeat", getattr(service, "heartbeat", None)))
            if not _thread_alive(owner)]
    server = service.http
    if server is None or not server.alive:
        dead.append("http server")
    describe = getattr(service.runner, "describe", None)
    runner = describe() if callable(describe) else {}
    pids, alive = runner.get("pids", []), runner.get("alive", runner.get("pids", []))
    dead += [f"worker process {pid}" for pid in pids if pid not in alive]
    if dead:
        return False, f"not running: {', '.join(dead)}"
    return True, (f"http, dispatcher, escalator, heartbeat alive; {len(pids)} worker process(es)"
                  if pids else "http, dispatcher, escalator, heartbeat alive; no worker process started yet")


def _skills(skills_dir: Path = SKILLS_DIR):
    files = sorted(Path(skills_dir).glob("*/SKILL.md"))
    unreadable = []
    for path in files:
        try:
            path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            unreadable.append(f"{path.parent.name} ({exc.__class__.__name__})")
    if not files:
        return False, f"no runbooks found under {skills_dir}"
    if unreadable:
        return False, f"unreadable runbooks: {', '.join(unreadable)}"
    return True, f"{len(files)} runbooks readable under {skills_dir}"


def endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _escalation(service: IntakeService, timeout_s: float):
    url = service.config.escalation_url
    if not url:
        return True, "no escalation URL configured", True
    host, port = endpoint(url)
    with socket.create_connection((host, port), timeout=timeout_s):
        pass
    return True, f"{host}:{port} accepts connections"


def run(service: IntakeService, *, deep: bool = False, timeout_s: float = ESCALATION_TIMEOUT_S,
        skills_dir: Path = SKILLS_DIR) -> list[Check]:
    checks = [_timed("database", True, lambda: _database(service)),
              _timed("workers", True, lambda: _workers(service)),
              _timed("skills", True, lambda: _skills(skills_dir))]
    if deep:
        checks.append(_timed("escalation", False, lambda: _escalation(service, timeout_s)))
    return checks


def composite(service: IntakeService, checks: list[Check]) -> tuple[str, list[str]]:
    """(healthy | degraded | unhealthy, the reasons)."""
    failed_required = [f"{c.name}: {c.detail}" for c in checks if not c.ok and c.required]
    failed_optional = [f"{c.name}: {c.detail}" for c in checks if not c.ok and not c.required]
    reasons = failed_required + failed_optional
    if not service.accepting:
        reasons.append("draining: new alerts are refused (503)")
    failing = service.store.query("SELECT COUNT(*) FROM escalations WHERE state='pending' AND attempts>0")[0][0]
    if failing:
        reasons.append(f"{failing} escalation(s) failed to deliver and are being retried")
    errors = [e for e in service.errors.recent(limit=1000, since_s=RECENT_ERRORS_S)
              if e["level"] in ("ERROR", "CRITICAL")]
    if errors:
        reasons.append(f"{len(errors)} error(s) logged in the last {RECENT_ERRORS_S:g} s (GET /ops/errors)")
    if failed_required:
        return UNHEALTHY, reasons
    return (DEGRADED if reasons else HEALTHY), reasons
