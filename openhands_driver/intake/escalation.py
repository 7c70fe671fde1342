"""Escalations: hand an incident to a human through a PagerDuty Events API v2 webhook.

An execution is escalated when its run ends unfixed, when it is over budget, when policy blocks
it, or when it has no target. The event is stored (state ``pending``) in the same transaction as the
execution's final status, so a crash cannot separate the two, and then delivered by
one background thread; a failed delivery is recorded as an attempt and retried with exponential
backoff, so nothing is lost, also across restarts (pending rows are retried at start-up).
A 4xx answer other than 408/429 means the receiver will never accept the event: it is kept as
``rejected`` with the answer. The routing key (``SRE_ESCALATION_ROUTING_KEY``) is added at send
time and never stored.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.store import Store

REASONS = ("unfixed", "over_budget", "blocked_by_policy", "no_target", "needs_human")
SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
NO_URL_RETRY_S = 60.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def escalation_record(*, execution_id: str, incident: dict, status: str, reason: str, detail: str,
                      now: float, service_up: bool | None = None, run_id: str | None = None,
                      report_path: str | None = None) -> dict:
    """What the store keeps for one escalation: reason, dedup key and the Events API v2 trigger
    (without routing_key, which is added at send time and never stored)."""
    assert reason in REASONS, reason
    details = {"execution_id": execution_id, "reason": reason, "detail": detail, "status": status,
               "priority": incident["priority"], "source": incident["source"],
               "dedupe_key": incident["dedupe_key"], "service_up": service_up, "run_id": run_id,
               "incident_text": incident["text"][:2000], "report": report_path}
    event = {"event_action": "trigger", "dedup_key": f"sre-intake:{incident['dedupe_key']}"[:255],
             "client": "openhands-gepa-sre intake",
             "payload": {"summary": f"[{reason}] {incident['title']}"[:1024],
                         "severity": SEVERITY.get(incident["priority"], "error"),
                         "source": incident["service"], "component": incident["service"],
                         "group": incident["source"], "class": reason, "timestamp": iso(now),
                         "custom_details": details}}
    if incident.get("url"):
        event["links"] = [{"href": incident["url"], "text": f"{incident['source']} alert"}]
    return {"reason": reason, "dedup_key": event["dedup_key"], "event": event}


class Escalator:
    """Stores escalations and delivers them from one background thread."""

    def __init__(self, store: Store, config: IntakeConfig, *,
                 on_change: Callable[[str], None] | None = None, clock: Callable[[], float] = time.time):
        self.store, self.config, self.clock = store, config, clock
        self.on_change = on_change
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """New escalations were stored (in the same transaction as their execution's status)."""
        self._wake.set()

    # --- delivery --------------------------------------------------------------------------------

    def start(self) -> Escalator:
        with self.store.tx() as db:  # pending work of a previous process is due now
            db.execute("UPDATE escalations SET next_attempt_at=? WHERE state='pending'", (self.clock(),))
        self._thread = threading.Thread(target=self._loop, name="intake-escalator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001  (keep delivering; the failure is in the log)
                logging.getLogger("openhands_driver.intake.escalation").error(
                    "escalator error: %s: %s", type(exc).__name__, exc)
            upcoming = self.store.next_escalation_at()
            wait = 1.0 if upcoming is None else min(max(upcoming - self.clock(), 0.02), 1.0)
            self._wake.wait(wait)
            self._wake.clear()

    def run_once(self) -> int:
        """Attempt every due escalation once; returns how many were attempted."""
        due = self.store.due_escalations(self.clock())
        for row in due:
            if self._stop.is_set():
                break
            self._deliver(row)
        return len(due)

    def backoff(self, attempts: int) -> float:
        return min(self.config.escalation_backoff_s * (2 ** max(attempts - 1, 0)),
                   self.config.escalation_backoff_max_s)

    def _deliver(self, row) -> None:
        if not self.config.escalation_url:
            self.store.defer_escalation(row["id"], "no escalation URL configured (--escalation-url or "
                                        "SRE_ESCALATION_URL); kept pending", self.clock() + NO_URL_RETRY_S)
            return
        event = json.loads(row["event"])
        event = {"routing_key": self.config.routing_key or "", **event}
        started = time.monotonic()
        ok, status, error = self._post(event)
        now = self.clock()
        attempts = row["attempts"] + 1
        if ok:
            state, next_at = "sent", now
        elif status is not None and 400 <= status < 500 and status not in (408, 429):
            state, next_at = "rejected", now
        else:
            state, next_at = "pending", now + self.backoff(attempts)
        self.store.record_attempt(row["id"], now, ok=ok, http_status=status, error=error,
                                  duration_s=round(time.monotonic() - started, 4), state=state,
                                  next_attempt_at=next_at)
        if state != "pending" or attempts == 1:
            self.store.note(row["execution_id"], "note", "escalation",
                            f"escalation {row['id']} {state} after {attempts} attempt(s)"
                            + (f": {error}" if error else ""), now)
            if self.on_change:
                self.on_change(row["execution_id"])

    def _post(self, event: dict) -> tuple[bool, int | None, str | None]:
        body = json.dumps(event).encode()
        request = urllib.request.Request(self.config.escalation_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        # A receiver on this machine is never reached through http_proxy; others are as configured.
        opener = _NO_PROXY if urlsplit(self.config.escalation_url).hostname in _LOOPBACK else urllib.request.build_opener()
        try:
            with opener.open(request, timeout=self.config.escalation_timeout_s) as response:
                response.read()
                return True, response.status, None
        except urllib.error.HTTPError as exc:
            text = exc.read()[:300].decode("utf-8", "replace")
            return False, exc.code, f"HTTP {exc.code}: {text}"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            return False, None, f"connection failed: {getattr(exc, 'reason', exc)}"
