"""The run side of crash safety, called from ``runner.run_incident`` at a few delimited points.

- :func:`preflight`: before anything starts, the trace log must be writable (a directory, a
  missing parent that cannot be created or a full disk is a user error, exit 2), and a cheap
  janitor sweep removes what dead runs left behind and closes their trace rows as ``crashed``.
- :func:`own_directory`: an owner file in each directory a run creates (janitor.py reads it).
- :func:`append_final`: the final row; a write that fails (disk full) says so on stderr with the
  path instead of a traceback, and the run's ``started`` row stays open, so the janitor closes it.

Mechanisms (see README "Crash safety"): the local target's supervisor watches its owner
(``--owner-pid``: it shuts its process group down when its parent changes); a ``started`` row plus
a sidecar in ``<tmp>/sre-runs/`` record every run before it touches its target (runrecord.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from openhands_driver import ownership
from openhands_driver.trace import append_row, check_writable


def preflight(config) -> None:
    if not config.disable_trace_log:
        check_writable(config.trace_log)
        from openhands_driver.audit import keys

        keys.check_configured()  # a configured audit key that cannot be used: exit 2 before anything
    if config.simulate:
        return
    from openhands_driver import janitor, runrecord

    try:
        janitor.sweep(quiet=True, containers=config.backend == "docker")
        if not config.disable_trace_log:
            runrecord.close_crashed(config.trace_log, closer="the next run")
    except OSError as exc:  # cleaning up after others must never stop this run
        print(f"[janitor] sweep skipped: {exc}", file=sys.stderr, flush=True)


def check_run_id_unused(trace_log, run_id: str) -> None:
    """A given ``--run-id`` must be new to the trace log: two runs under one id would make its rows,
    reports and ``--show`` ambiguous. UserError (exit 2) before anything starts."""
    import json

    from openhands_driver.errors import UserError
    from openhands_driver.trace import read_rows

    path = Path(trace_log)
    try:
        if f'"run_id": {json.dumps(run_id)}' not in path.read_text(encoding="utf-8", errors="replace"):
            return  # the cheap check: rows are written with sorted keys and ": " separators
    except FileNotFoundError:
        return
    if any(row.get("run_id") == run_id for row in read_rows(path, include_started=True)):
        raise UserError(f"run id {run_id!r} is already in {path}; pick a new --run-id (or omit it for a "
                        "generated one), or --trace-log another file")


def internal_error_log(program: str) -> Path:
    """Write the current exception's traceback to a log file and return its path.

    Internal failures keep their traceback off the user's screen: the entry point prints one line
    with this path (house style: "internal failures keep the traceback in the log").
    """
    import os
    import time
    import traceback

    from openhands_driver.paths import ARTIFACTS_DIR

    directory = ARTIFACTS_DIR / "errors"
    path = directory / f"{program}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(traceback.format_exc(), encoding="utf-8")
    except OSError:
        import tempfile

        path = Path(tempfile.gettempdir()) / path.name
        path.write_text(traceback.format_exc(), encoding="utf-8")
    return path


def owned_tempdir(prefix: str, run_id: str) -> Path:
    """A temp directory that carries its owner file from birth (``ownership.make_owned_dir``)."""
    return ownership.make_owned_dir(prefix, run_id=run_id)


def append_final(trace_log: Path, row: dict) -> bool:
    try:
        append_row(trace_log, row)
        return True
    except OSError as exc:
        print(f"error: the trace row of run {row.get('run_id')} could not be appended to {trace_log} "
              f"({exc.strerror or exc}); free space or fix the path. The run's 'started' row stays "
              "open and is closed as crashed by `python scripts/janitor.py`.", file=sys.stderr,
              flush=True)
        return False
