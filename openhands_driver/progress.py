"""The live terminal view of a fan-out (on stderr) and its closing summary table.

On a terminal: one status line (progress bar + counts: queued, running, fixed, failed, timed out)
redrawn in place, with a line printed above it as each incident ends. Elsewhere (CI logs, pipes):
the same status as a plain line every ``interval_s`` seconds, plus the per-incident lines; no escape
codes. Every method is thread-safe (workers report from their own threads).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from openhands_driver.reports.table import text_table

BAR_WIDTH = 20
STATES = ("queued", "running", "fixed", "failed", "timeout", "unsupported", "error")
LABELS = {"timeout": "timed out", "error": "errors"}


class Progress:
    def __init__(self, stream: TextIO | None = None, *, total: int, concurrency: int,
                 label: str = "fan-out", tty: bool | None = None, interval_s: float = 10.0,
                 min_redraw_s: float = 0.25):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.total, self.concurrency, self.label = total, concurrency, label
        self.interval_s, self.min_redraw_s = interval_s, min_redraw_s
        self.counts = {state: 0 for state in STATES}
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._last_plain = 0.0
        self._last_draw = 0.0
        self._line_shown = False
        self._closed = False

    # --- events from the engine -------------------------------------------------------------
    def queued(self, count: int = 1) -> None:
        self._move(None, "queued", count)

    def running(self) -> None:
        self._move("queued", "running")

    def dropped(self) -> None:
        """A queued incident that will not start (the fan-out was interrupted)."""
        self._move("queued", None)

    def finished(self, status: str, line: str, *, was_running: bool = True) -> None:
        self._move("running" if was_running else "queued", status, message=line)

    def tick(self) -> None:
        """Called periodically: redraw (terminal) or print a plain line every interval_s."""
        with self._lock:
            self._render(force=False)

    # --- rendering --------------------------------------------------------------------------
    def status_line(self) -> str:
        done = sum(self.counts[s] for s in STATES[2:])
        filled = int(BAR_WIDTH * done / self.total) if self.total else BAR_WIDTH
        parts = [f"{LABELS.get(s, s)} {self.counts[s]}" for s in STATES if s != "unsupported"
                 or self.counts[s]]
        elapsed = time.monotonic() - self.started
        return (f"[{self.label}] [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{self.total}  "
                + "  ".join(parts) + f"  (x{self.concurrency}, {elapsed:.0f}s)")

    def _move(self, source: str | None, dest: str | None, count: int = 1, message: str | None = None) -> None:
        with self._lock:
            if source:
                self.counts[source] = max(0, self.counts[source] - count)
            if dest:
                self.counts[dest] += count
            if message:
                self._print_above(message)
            self._render(force=message is not None)

    def _print_above(self, text: str) -> None:
        if self._closed:
            return
        if self.tty and self._line_shown:
            self.stream.write("\r\033[K")
            self._line_shown = False
        self.stream.write(text + "\n")

    def _render(self, force: bool) -> None:
        if self._closed:
            return
        now = time.monotonic()
        if self.tty:
            if force or now - self._last_draw >= self.min_redraw_s:
                self.stream.write("\r\033[K" + self.status_line())
                self._line_shown, self._last_draw = True, now
        elif now - self._last_plain >= self.interval_s:
            self.stream.write(self.status_line() + "\n")
            self._last_plain = now
        self.stream.flush()

    def close(self, final_text: str = "") -> None:
        """Print the final status line and the summary (once)."""
        with self._lock:
            if self._closed:
                return
            if self.tty and self._line_shown:
                self.stream.write("\r\033[K")
            self.stream.write(self.status_line() + "\n")
            if final_text:
                self.stream.write(final_text.rstrip("\n") + "\n")
            self.stream.flush()
            self._closed = True


def incident_line(row: dict) -> str:
    """One line per finished incident (above the status line)."""
    verdict = {"fixed": "FIXED", "failed": "FAILED", "timeout": "TIMEOUT", "unsupported": "UNSUPPORTED",
               "error": "ERROR"}.get(row["status"], row["status"].upper())
    where = f" @ {row['remote_host']}" if row.get("remote_host") else ""
    tail = f" — {row['error']}" if row.get("error") and row["status"] in ("error", "unsupported") else ""
    return (f"  {verdict:11} {row['scenario_id']} ({row.get('local_fault') or '-'}) "
            f"{row['step_count']} steps {row['duration_s']:.1f}s {row.get('run_id') or ''}{where}{tail}")


def summary_table(report: dict) -> str:
    """The closing table: one row per incident, then the summary figures."""
    rows = report.get("rows") or []
    if report.get("dry_run_proxy"):
        body = text_table(["#", "scenario", "fault", "status", "skill", "routing"],
                          [[r["index"], r["scenario_id"], r.get("local_fault"), r["status"], r.get("skill_id"),
                            r.get("routing_method")] for r in rows])
        return f"{body}\n{report['note']}\n" + _figures(report["summary"])
    body = text_table(["#", "scenario", "fault", "status", "up", "steps", "dur_s", "wait_s", "run_id"],
                      [[r["index"], r["scenario_id"], r.get("local_fault"), r["status"], r.get("service_up"),
                        r["step_count"], r["duration_s"], r.get("queue_wait_s"), r.get("run_id")]
                       for r in rows])
    return body + "\n" + _figures(report["summary"])


def _figures(summary: dict) -> str:
    return "summary: " + ", ".join(f"{k} {v if v is not None else '-'}" for k, v in summary.items())
