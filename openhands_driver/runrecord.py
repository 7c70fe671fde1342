"""A run's record survives its process: the ``started`` row, crash closing, actions so far.

- :func:`write_started` appends a row with ``status: "started"`` (and the owner: pid, start time,
  boot id) to the run's own trace log before the run touches its target. It is not a final row:
  readers (``trace.read_rows``) skip it once the run's final row exists.
- :func:`close_crashed` finds ``started`` rows without a final row whose owner is provably gone
  (``ownership.alive``) and appends the final row for them, status ``crashed`` (never
  ``interrupted``: that one the run wrote itself). The next run on the same trace log, the janitor
  and the intake at start-up call it, so every run ends with exactly one final row.
- :func:`track_actions` / :func:`actions_so_far`: the conversation recorder registers its live
  action list, so a run interrupted mid-conversation still records the actions it took.
- :func:`set_change_guard` / :func:`before_change`: a hook asked before an action that may change
  the target runs (the intake's lease fences remediation with it; ``False`` rejects the action).

Stdlib only; cheap to import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openhands_driver import ownership
from openhands_driver.trace import (CRASHED, STARTED, TRACE_SCHEMA_VERSION, append_row, read_rows, redact,
                                    utc_now)

RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"


def validate_run_id(run_id: str) -> str:
    """UserError unless ``run_id`` is a plain name (it becomes part of file and directory names)."""
    import re

    from openhands_driver.errors import UserError

    if not isinstance(run_id, str) or not re.fullmatch(RUN_ID_PATTERN, run_id) or ".." in run_id:
        raise UserError(f"--run-id {run_id!r} is not a plain name: use letters, digits, '.', '_' and "
                        "'-' (no path separators, at most 128 characters), e.g. --run-id my-run-1")
    return run_id


# --- started / crashed rows ----------------------------------------------------------------------


def started_row(result_dict: dict[str, Any]) -> dict[str, Any]:
    """The ``started`` row of a run from its (base) result dict."""
    keep = ("run_id", "scenario", "mode", "strategy_source", "skill_id", "routing", "brain", "model",
            "backend", "local_fault", "started_at", "trace_log")
    row = {k: result_dict.get(k) for k in keep}
    row.update(status=STARTED, schema_version=TRACE_SCHEMA_VERSION, written_at=utc_now(),
               owner=ownership.current(), simulate=False, service_up=None, step_count=0, actions=[])
    return row


def write_started(trace_log: str | Path, result_dict: dict[str, Any]) -> dict[str, Any]:
    row = started_row(result_dict)
    append_row(trace_log, row)
    return row


def crashed_row(started: dict[str, Any], why: str, actions: list | None = None) -> dict[str, Any]:
    actions = actions if actions is not None else started.get("actions") or []
    row = {k: v for k, v in started.items() if k not in ("owner", "written_at")}
    row.update(status=CRASHED, service_up=None, finished_at=utc_now(), written_at=utc_now(),
               error=why, crashed_owner=started.get("owner"), actions=actions,
               step_count=len(actions))
    return row


# --- the open-run sidecar: <tmp>/sre-runs/<run_id>.json ------------------------------------------


def runs_dir() -> Path:
    """Where live runs register (owner, trace log, actions so far); the janitor scans it."""
    import tempfile

    return Path(tempfile.gettempdir()) / "sre-runs"


def sidecar_path(run_id: str) -> Path:
    return runs_dir() / f"{run_id}.json"


def read_sidecar(path: Path) -> dict[str, Any] | None:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_sidecar(path: Path, data: dict[str, Any]) -> None:
    import json
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
    os.replace(tmp, path)


class OpenRun:
    """A run between its ``started`` row and its final row (see :func:`begin`)."""

    def __init__(self, run_id: str, trace_log: Path | None, started: dict[str, Any], secrets=()):
        self.run_id, self.trace_log, self.started = run_id, trace_log, started
        self.secrets = list(secrets)
        self.path = sidecar_path(run_id)
        self._lock = threading.Lock()
        _write_sidecar(self.path, {"run_id": run_id, "owner": started["owner"],
                                   "trace_log": str(trace_log) if trace_log else None, "actions": []})

    def checkpoint(self, actions: list) -> None:
        """Record the actions so far (each ``ActionRecord`` or dict), for a crashed-run row."""
        items = redact([a.public() if hasattr(a, "public") else a for a in actions], self.secrets)
        with self._lock:
            try:
                _write_sidecar(self.path, {"run_id": self.run_id, "owner": self.started["owner"],
                                           "trace_log": str(self.trace_log) if self.trace_log else None,
                                           "actions": items})
            except OSError:
                pass  # best effort: the final row has the actions anyway

    def end(self) -> None:
        self.path.unlink(missing_ok=True)


_OPEN: dict[int, OpenRun] = {}


def begin(trace_log: str | Path | None, result_dict: dict[str, Any], secrets=()) -> OpenRun:
    """Register the run (sidecar) and write its ``started`` row (when it has a trace log).

    Call before the target is touched; call ``end()`` after the final row was written.
    """
    started = started_row(result_dict)
    run = OpenRun(str(result_dict["run_id"]), Path(trace_log) if trace_log else None, started, secrets)
    if trace_log:
        append_row(trace_log, started)
    with _ACTIONS_LOCK:
        _OPEN[threading.get_ident()] = run
    return run


def current_run() -> OpenRun | None:
    with _ACTIONS_LOCK:
        return _OPEN.get(threading.get_ident())


def finish(run: OpenRun | None) -> None:
    if run is None:
        return
    with _ACTIONS_LOCK:
        if _OPEN.get(threading.get_ident()) is run:
            _OPEN.pop(threading.get_ident(), None)
    run.end()


def close_crashed(trace_log: str | Path, *, closer: str = "the next run") -> list[str]:
    """Append a ``crashed`` final row for each open run of ``trace_log`` whose owner is gone.

    Returns the run ids closed. Safe with concurrent closers: the check and the append happen
    under the trace log's own lock (``append_row`` locks; we re-read under an outer lock file).
    """
    path = Path(trace_log)
    if not path.exists():
        return []
    if not any(not ownership.alive(r.get("owner")) for r in read_rows(path).open_runs):
        return []  # the common case: nothing to close, no lock file
    closed: list[str] = []
    with _closing_lock(path):
        read = read_rows(path)
        for started in read.open_runs:
            if ownership.alive(started.get("owner")):
                continue
            owner = started.get("owner") or {}
            why = (f"the run's process (pid {owner.get('pid')}) died without writing its final row "
                   f"(killed or crashed); closed by {closer}")
            sidecar = sidecar_path(str(started.get("run_id")))
            data = read_sidecar(sidecar) or {}
            append_row(path, crashed_row(started, why, data.get("actions")))
            sidecar.unlink(missing_ok=True)
            closed.append(str(started.get("run_id")))
    return closed


class _closing_lock:
    """An exclusive lock on ``<trace_log>.lock`` so two closers never close one run twice."""

    def __init__(self, path: Path):
        self.path = path.with_name(path.name + ".lock")

    def __enter__(self):
        import fcntl
        import os

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        import os

        os.close(self.fd)  # closing releases the lock
        return False


# --- actions so far ------------------------------------------------------------------------------

_ACTIONS: dict[int, list] = {}
_ACTIONS_LOCK = threading.Lock()


def track_actions(actions: list) -> Callable[[], None]:
    """Register the live action list of the conversation running in this thread.

    Returns a ``checkpoint()`` callable (bound to this thread's open run, if any) that the recorder
    calls after each change, so even a SIGKILLed run's ``crashed`` row lists its actions.
    """
    with _ACTIONS_LOCK:
        _ACTIONS[threading.get_ident()] = actions
        run = _OPEN.get(threading.get_ident())
    if run is None:
        return lambda: None
    return lambda: run.checkpoint(actions)


def actions_so_far(clear: bool = True) -> list:
    """The actions recorded so far by this thread's conversation (a copy; [] when none)."""
    with _ACTIONS_LOCK:
        actions = _ACTIONS.pop(threading.get_ident(), None) if clear else _ACTIONS.get(threading.get_ident())
    return list(actions or [])


# --- change guard --------------------------------------------------------------------------------

_GUARD: Callable[[Any], bool] | None = None


def set_change_guard(guard: Callable[[Any], bool] | None) -> None:
    """Install (or remove) the process-wide hook asked before an action that may change the target."""
    global _GUARD
    _GUARD = guard


def has_change_guard() -> bool:
    return _GUARD is not None


def before_change(action: Any) -> bool:
    """True when the action may run. A failing guard refuses (fail closed) and says why."""
    guard = _GUARD
    if guard is None:
        return True
    try:
        return bool(guard(action))
    except Exception as exc:  # noqa: BLE001
        print(f"[runrecord] change guard failed ({type(exc).__name__}: {exc}); action refused",
              file=sys.stderr, flush=True)
        return False
