"""The full-screen live view of a fan-out (``scripts/fanout_dashboard.py``, ``fanout_live_demo.py``).

One row per incident: state, skill, steps, highest risk so far, elapsed and a trace link (the
run's trace row, or an external trace UI with ``--trace-url-template``); the totals; and narrated
stage lines for live demos. Running incidents are read from their open-run sidecar
(``runrecord.sidecar_path``: the actions so far), so steps and risk move while the agent works.

On a terminal it is a rich ``Live`` view (full screen with ``full_screen``); elsewhere (CI logs,
pipes) plain lines: one per incident start and end, narration, and the totals every ``interval_s``.
:class:`LiveBoard` has the interface of :class:`~openhands_driver.progress.Progress` (the engine's
live view) plus ``incident_started`` / ``incident_row`` / ``narrate``. Thread-safe.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from openhands_driver.dashboard.links import trace_url
from openhands_driver.progress import STATES

NARRATION_LINES = 8
_SKILL = re.compile(r"\.agents/skills/([\w.-]+)/")
_RISKS = ("LOW", "MEDIUM", "HIGH")
STYLE = {"queued": "yellow", "running": "cyan", "fixed": "green", "failed": "red", "timeout": "red",
         "error": "red", "unsupported": "dim"}


@dataclass
class IncidentState:
    index: int
    scenario: str
    fault: str | None
    state: str = "queued"
    run_id: str | None = None
    skill: str | None = None
    steps: int = 0
    risk: str | None = None
    started: float | None = None
    ended: float | None = None

    def elapsed(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.ended or now) - self.started


def _width(stream) -> int | None:
    """The width of a terminal that is not the process's own (rich sizes only those itself)."""
    if stream in (sys.__stdout__, sys.__stderr__):
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def _highest(risks: list[str]) -> str | None:
    known = [r for r in risks if r in _RISKS]
    return max(known, key=_RISKS.index) if known else None


def _from_actions(actions: list[dict]) -> tuple[int, str | None, str | None]:
    """(steps, skill, highest risk) of a run's actions so far."""
    skill = None
    for action in actions:
        found = _SKILL.search(str(action.get("command") or ""))
        if found:
            skill = found.group(1)
    return len(actions), skill, _highest([str(a.get("risk") or "").upper() for a in actions])


class LiveBoard:
    def __init__(self, stream: TextIO | None = None, *, total: int = 0, concurrency: int = 1, label: str = "fan-out",
                 tty: bool | None = None, full_screen: bool = False, interval_s: float = 10.0,
                 trace_log: str | None = None, trace_url_template: str | None = None,
                 refresh_per_second: float = 4.0):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.total, self.concurrency, self.label = total, concurrency, label
        self.full_screen, self.interval_s = full_screen, interval_s
        self.trace_log, self.template = trace_log, trace_url_template
        self.incidents: dict[int, IncidentState] = {}
        self.counts = {state: 0 for state in STATES}
        self.narration: list[str] = []
        self.started_at = time.monotonic()
        self._lock = threading.RLock()
        self._io_lock = threading.Lock()
        self._last_plain = 0.0
        self._closed = False
        self._live = None
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self.console = Console(file=self.stream, force_terminal=True, width=_width(self.stream))
            self._live = Live(console=self.console, get_renderable=self._renderable, screen=full_screen,
                              refresh_per_second=refresh_per_second, transient=False, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()

    # --- configuration by the engine -----------------------------------------------------------
    def configure(self, *, total: int, concurrency: int, label: str) -> LiveBoard:
        with self._lock:
            self.total, self.concurrency, self.label = total, concurrency, label
        return self

    # --- the Progress interface ----------------------------------------------------------------
    def queued(self, count: int = 1) -> None:
        self._move(None, "queued", count)

    def running(self) -> None:
        self._move("queued", "running")

    def dropped(self) -> None:
        self._move("queued", None)

    # Lock order: rich's Live holds its own lock while it asks _renderable for the view (which takes
    # ours), so nothing here prints through rich while holding ours; ours guards state only.

    def finished(self, status: str, line: str, *, was_running: bool = True) -> None:
        self._move("running" if was_running else "queued", status)
        if not self.tty:
            self._write(line)

    def tick(self) -> None:
        line = None
        with self._lock:
            self._poll_sidecars()
            if not self.tty and time.monotonic() - self._last_plain >= self.interval_s:
                self._last_plain = time.monotonic()
                line = self.totals_line()
        if line:
            self._write(line)

    def close(self, final_text: str = "") -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            story = list(self.narration)
        if self._live is not None:
            self._live.stop()
            if self.full_screen:  # the alternate screen is gone: leave the story on the terminal
                for line in story:
                    self._write(f"== {line}")
        self._write(self.totals_line())
        if final_text:
            self._write(final_text.rstrip("\n"))

    # --- per incident (the engine calls these when present) ------------------------------------
    def incident_queued(self, index: int, scenario: str, fault: str | None) -> None:
        with self._lock:
            self.incidents.setdefault(index, IncidentState(index, scenario, fault))

    def incident_started(self, index: int, scenario: str, fault: str | None, run_id: str) -> None:
        with self._lock:
            item = self.incidents.setdefault(index, IncidentState(index, scenario, fault))
            item.state, item.run_id, item.started = "running", run_id, time.monotonic()
        if not self.tty:
            self._write(f"  START       {scenario} ({fault or '-'}) {run_id}")

    def incident_row(self, row: dict) -> None:
        with self._lock:
            item = self.incidents.setdefault(row["index"], IncidentState(row["index"], row["scenario_id"],
                                                                         row.get("local_fault")))
            item.state, item.run_id = row["status"], row.get("run_id") or item.run_id
            item.skill = row.get("skill_id") or item.skill
            item.steps = int(row.get("step_count") or item.steps)
            item.ended = time.monotonic()
            if item.started is None:
                item.started = item.ended - float(row.get("duration_s") or 0.0)

    def narrate(self, text: str) -> None:
        """A stage line of a live demo: above the view (or in its panel full screen); a line otherwise."""
        with self._lock:
            self.narration = (self.narration + [text])[-NARRATION_LINES:]
        if self._live is not None and not self.full_screen and not self._closed:
            from rich.text import Text

            self._live.console.print(Text.assemble(("==", "bold magenta"), " ", text))
        elif self._live is None:
            self._write(f"== {text}")

    # --- state ---------------------------------------------------------------------------------
    def _move(self, source: str | None, dest: str | None, count: int = 1) -> None:
        with self._lock:
            if source:
                self.counts[source] = max(0, self.counts[source] - count)
            if dest:
                self.counts[dest] += count

    def _poll_sidecars(self) -> None:
        from openhands_driver.runrecord import read_sidecar, sidecar_path

        for item in self.incidents.values():
            if item.state != "running" or not item.run_id:
                continue
            data = read_sidecar(sidecar_path(item.run_id))
            if data:
                steps, skill, risk = _from_actions(list(data.get("actions") or []))
                item.steps, item.skill = max(item.steps, steps), skill or item.skill
                item.risk = _highest([r for r in (item.risk, risk) if r])

    def link(self, item: IncidentState) -> str:
        if not item.run_id:
            return "-"
        external = trace_url(self.template, run_id=item.run_id, incident_id=item.scenario)
        if external:
            return external
        return f"{self.trace_log}#{item.run_id}" if self.trace_log else item.run_id

    def totals_line(self) -> str:
        done = sum(self.counts[s] for s in STATES[2:])
        parts = [f"{s} {self.counts[s]}" for s in STATES if self.counts[s] or s in ("queued", "running", "fixed")]
        return (f"[{self.label}] {done}/{self.total} done  " + "  ".join(parts)
                + f"  (x{self.concurrency}, {time.monotonic() - self.started_at:.0f}s)")

    # --- rich rendering ------------------------------------------------------------------------
    def _renderable(self):
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            now = time.monotonic()
            table = Table(title=f"{self.label} — {self.totals_line()}", expand=True, title_justify="left")
            for name in ("#", "incident", "fault", "state", "skill", "steps", "risk", "elapsed", "trace"):
                table.add_column(name, overflow="fold")
            for item in sorted(self.incidents.values(), key=lambda i: i.index):
                elapsed = item.elapsed(now)
                table.add_row(str(item.index), item.scenario, item.fault or "-",
                              Text(item.state, style=STYLE.get(item.state, "")), item.skill or "-",
                              str(item.steps), item.risk or "-",
                              "-" if elapsed is None else f"{elapsed:.1f}s", self.link(item))
            parts = [table]
            if self.full_screen and self.narration:
                parts.append(Panel("\n".join(self.narration), title="story", border_style="magenta"))
            return Group(*parts)

    def _write(self, text: str) -> None:
        """One plain line (never called with our lock held: see the lock order above)."""
        if self._live is not None and not self._closed:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            with self._io_lock:
                self.stream.write(text + "\n")
                self.stream.flush()
