"""Where the dashboard's data comes from.

- :class:`IntakeSource`: the running intake (its SQLite audit, its approvals, the trace log its
  runs write). Approvals can be decided.
- :class:`TraceSource`: a trace log alone (``scripts/dashboard.py``), read-only: the live list is
  the runs that started and have no final row yet.

Both also list benchmark and fan-out result files (JSON reports with ``summary`` and ``rows``,
approach scorecards with ``approaches``) found under the configured result paths.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openhands_driver.dashboard import views
from openhands_driver.trace import TraceRead, read_rows

MAX_RESULT_FILES = 200
MAX_RESULT_BYTES = 64 * 1024 * 1024
RECENT = 15


@dataclass(frozen=True)
class HistoryFilter:
    status: str = ""
    service: str = ""
    priority: str = ""
    text: str = ""
    limit: int = 200

    def matches(self, item: dict) -> bool:
        if self.status and item.get("status") != self.status:
            return False
        if self.service and self.service.lower() not in str(item.get("service") or "").lower():
            return False
        if self.priority and item.get("priority") != self.priority:
            return False
        if self.text:
            hay = " ".join(str(item.get(k) or "") for k in ("id", "title", "reason", "skill_id", "run_id"))
            if self.text.lower() not in hay.lower():
                return False
        return True


@dataclass
class ResultFile:
    """A benchmark, fan-out or scorecard report on disk."""

    key: str                      # the path as listed (the only names the pages accept)
    path: Path
    kind: str                     # bench_blind | bench_itbench | fanout | scorecard
    modified: float
    data: dict = field(repr=False)

    @property
    def summary(self) -> dict:
        return self.data.get("summary") or {}

    @property
    def rows(self) -> list[dict]:
        return list(self.data.get("rows") or [])


class _TraceCache:
    """The trace log, re-read only when its size or mtime changed (pages poll)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._key: tuple | None = None
        self._rows: TraceRead = TraceRead(path=self.path)
        self._lock = threading.Lock()

    def read(self) -> TraceRead:
        try:
            stat = self.path.stat()
            key = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            return TraceRead(path=self.path)
        with self._lock:
            if key != self._key:
                self._rows, self._key = read_rows(self.path, include_started=True), key
            return self._rows

    def finals(self) -> list[dict]:
        return [r for r in self.read() if r.get("status") != "started"]

    def by_run_id(self, run_id: str | None) -> dict | None:
        if not run_id:
            return None
        for row in reversed(self.read()):
            if row.get("run_id") == run_id:
                return row
        return None


def _kind(data: dict) -> str | None:
    if isinstance(data.get("approaches"), list):
        return "scorecard"
    if isinstance(data.get("summary"), dict) and isinstance(data.get("rows"), list):
        return str(data.get("kind") or "fanout")
    return None


class ResultFiles:
    def __init__(self, paths: list[Path]):
        self.paths = [Path(p) for p in paths]
        self._cache: dict[Path, tuple[float, ResultFile | None]] = {}
        self._lock = threading.Lock()

    def _candidates(self) -> list[Path]:
        found: list[Path] = []
        for root in self.paths:
            if root.is_file():
                found.append(root)
            elif root.is_dir():
                found.extend(p for p in root.rglob("*.json") if p.is_file())
        return sorted(found)[:MAX_RESULT_FILES * 5]

    def list(self) -> list[ResultFile]:
        out = []
        with self._lock:
            for path in self._candidates():
                try:
                    stat = path.stat()
                except OSError:
                    continue
                cached = self._cache.get(path)
                if cached is None or cached[0] != stat.st_mtime:
                    item = None
                    if stat.st_size <= MAX_RESULT_BYTES:
                        try:
                            data = json.loads(path.read_text(encoding="utf-8"))
                        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                            data = None
                        kind = _kind(data) if isinstance(data, dict) else None
                        if kind:
                            item = ResultFile(str(path), path, kind, stat.st_mtime, data)
                    cached = (stat.st_mtime, item)
                    self._cache[path] = cached
                if cached[1] is not None:
                    out.append(cached[1])
        return sorted(out, key=lambda r: -r.modified)[:MAX_RESULT_FILES]

    def get(self, key: str) -> ResultFile | None:
        return next((r for r in self.list() if r.key == key), None)


class TraceSource:
    """A trace log (and result files), read-only."""

    read_only = True
    label = "trace log"
    jobs = None  # no runs started from a read-only dashboard

    def __init__(self, trace_log: Path, results: list[Path] | None = None, template: str | None = None,
                 secrets: list[str] | None = None):
        self.secrets = list(secrets or [])
        self.trace = _TraceCache(trace_log)
        self.results = ResultFiles(results or [])
        self.template = template

    def trace_rows(self) -> list[dict]:
        return self.trace.finals()

    def _views(self, now: float) -> list[dict]:
        return [views.from_trace_row(r, template=self.template, now=now) for r in reversed(self.trace.read())]

    def live(self, now: float) -> dict:
        items = self._views(now)
        active = [views.live_row(i) for i in items if i["status"] == "started"]
        recent = [views.live_row(i) for i in items if i["status"] != "started"][:RECENT]
        return {"active": active, "recent": recent}

    def execution(self, item_id: str, now: float) -> dict | None:
        row = self.trace.by_run_id(item_id)
        return None if row is None else views.scrub(views.from_trace_row(row, template=self.template, now=now),
                                                    self.secrets)

    def history(self, wanted: HistoryFilter, now: float) -> list[dict]:
        return [views.live_row(i) for i in self._views(now) if wanted.matches(i)][:wanted.limit]

    def decide(self, approval_id: int, verdict: str, by: str) -> dict:
        raise PermissionError("this dashboard is read-only (a trace log): approvals happen in the intake")


class IntakeSource:
    """The running intake: its store, approvals and trace log."""

    read_only = False
    label = "intake"

    def __init__(self, service: Any, results: list[Path] | None = None, template: str | None = None):
        from openhands_driver.dashboard.jobs import Jobs

        self.service = service
        self.trace = _TraceCache(service.config.trace_log)
        self.jobs = Jobs(Path(service.config.db).parent / "dashboard-runs")
        self.results = ResultFiles([*(results or []), self.jobs.directory])
        self.template = template
        self.secrets = [s for s in (service.config.token, service.config.routing_key) if s]

    @property
    def _db(self) -> Path:
        return self.service.store.path

    def trace_rows(self) -> list[dict]:
        return self.trace.finals()

    def _row(self, item: dict, pending: dict[str, int], now: float) -> dict:
        data = self.service.store.execution(item["id"]) if item["status"] in views.ACTIVE else None
        if data is not None:
            from openhands_driver.intake import approvals

            view = views.from_intake(data, trace_row=None, approvals=approvals.listing(self._db, execution_id=item["id"]),
                                     report="", template=self.template, now=now)
        else:
            start = item.get("started_at") or item["created_at"]
            view = {**item, "phase": "finalize" if item.get("finished_at") else "-",
                    "elapsed_s": round((item.get("finished_at") or now) - start, 1) if start else None,
                    "run_id": None}
        return views.live_row({**view, "pending": pending.get(item["id"], 0)})

    def live(self, now: float) -> dict:
        from openhands_driver.intake import approvals
        from openhands_driver.intake.store import ACTIVE, FINAL

        pending = approvals.pending_counts(self._db)
        active = [self._row(i, pending, now) for i in self.service.store.executions(ACTIVE, 500)]
        recent = [self._row(i, pending, now) for i in self.service.store.executions(FINAL, RECENT)]
        return {"active": active, "recent": recent}

    def execution(self, item_id: str, now: float) -> dict | None:
        from openhands_driver.intake import approvals

        data = self.service.store.execution(item_id)
        if data is None:  # a run id (a trace row's link): the run as the trace has it
            row = self.trace.by_run_id(item_id)
            return None if row is None else views.scrub(views.from_trace_row(row, template=self.template, now=now),
                                                        self.secrets)
        run_id = (data.get("result") or {}).get("run_id") or data.get("run_id")
        live_actions = None
        if data["status"] == "running":  # the worker's actions so far (runrecord's open-run sidecar)
            from openhands_driver.runrecord import read_sidecar, sidecar_path

            sidecar = read_sidecar(sidecar_path(f"intake-{item_id}-a{data['attempts']}"))
            live_actions = (sidecar or {}).get("actions")
        report = ""
        if data.get("report_path"):
            try:
                report = Path(data["report_path"]).read_text(encoding="utf-8")
            except OSError:
                report = ""
        return views.scrub(views.from_intake(data, trace_row=self.trace.by_run_id(run_id),
                                             approvals=approvals.listing(self._db, execution_id=item_id),
                                             report=report, template=self.template, now=now,
                                             live_actions=live_actions), self.secrets)

    def history(self, wanted: HistoryFilter, now: float) -> list[dict]:
        statuses = (wanted.status,) if wanted.status else None
        items = self.service.store.executions(statuses, 1000)
        out = []
        for item in items:
            start = item.get("started_at") or item["created_at"]
            row = {**item, "phase": "-", "run_id": None,
                   "elapsed_s": round((item.get("finished_at") or now) - start, 1) if start else None}
            if wanted.matches(row):
                out.append(views.live_row(row))
        return out[:wanted.limit]

    def decide(self, approval_id: int, verdict: str, by: str) -> dict:
        from openhands_driver.intake import approvals

        return approvals.decide(self._db, approval_id, verdict, by=by, now=time.time())
