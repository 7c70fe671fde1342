"""The run trace: one versioned JSONL row per run, appended safely by concurrent writers.

Readers (optimizer, leaderboards, scorecards, fan-out reports) use :func:`read_rows`, which accepts
every schema version this project has written. Rows never hold secret values: :func:`redact`
replaces every known secret value before anything is written.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from openhands_driver.records import RunResult

# 2: every row carries ``audit`` (hash chain + signature, openhands_driver/audit/); actions may carry
# ``timed_out``/``attempts``; resumed runs carry ``resumed_from``. Version 1 rows stay readable.
TRACE_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
REDACTED = "<redacted>"
EXCERPT_CHARS = 600


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of ``value`` with every occurrence of a secret string replaced."""
    secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not secrets:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            for secret in secrets:
                item = item.replace(secret, REDACTED)
            return item
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [walk(v) for v in item]
        return item

    return walk(value)


def trace_row(result: RunResult, secrets: Iterable[str] = ()) -> dict:
    row = redact({**result.to_dict(with_excerpts=True), "schema_version": TRACE_SCHEMA_VERSION,
                  "written_at": utc_now()}, secrets)
    for action in row["actions"]:  # cut after redaction, so no partial secret survives
        action["output_excerpt"] = action["output_excerpt"][-EXCERPT_CHARS:]
    return row


STARTED = "started"  # the non-final row a run writes before it touches its target
CRASHED = "crashed"  # the final row written for a run whose owner died (see runrecord.py)


def _last_entry(fd: int, size: int, block: int = 65536) -> dict | None:
    """The last line of the file that parses as a JSON object (torn and blank lines skipped)."""
    end, tail = size, b""
    while end > 0:
        start = max(0, end - block)
        tail = os.pread(fd, end - start, start) + tail
        end = start
        lines = tail.split(b"\n")
        complete = lines if start == 0 else lines[1:]  # the first piece may be a partial line
        for raw in reversed(complete):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(value, dict):
                return value
        tail = lines[0] if start else b""
    return None


def append_row(path: str | Path, row: dict) -> dict:
    """Append one JSON line under an exclusive lock, in a single write; returns the row written.

    The row is chained to the last entry of the file and signed (``audit``, see
    openhands_driver/audit/chain.py) under the same lock, so concurrent writers (threads or
    processes) keep one valid chain. A line always starts on a fresh line: when the file does not
    end with a newline (a writer died mid-line), one is written first, so the torn line stays one
    bad line (never part of the chain).
    """
    from openhands_driver.audit import chain, keys

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        signer = keys.current_signer()
    except Exception as exc:  # noqa: BLE001 - a row is never lost to a key problem (preflight checks it)
        import sys

        print(f"warning: audit key unusable ({exc}); this trace row is chained but unsigned",
              file=sys.stderr, flush=True)
        signer = None
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            entry = chain.seal(row, _last_entry(fd, size) if size else None, signer)
            line = (json.dumps(entry, sort_keys=True) + "\n").encode()
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return entry


def check_writable(path: str | Path, flag: str = "--trace-log") -> None:
    """UserError unless a row can be appended to ``path`` (checked before a run starts anything).

    Creates missing parents, opens the file for appending (nothing is written) and asks the file
    system for free space, so a directory, an unwritable place or a full disk is found at once.
    """
    from openhands_driver.errors import UserError

    path = Path(path)
    hint = f"pass a writable file ({flag} FILE) or --disable-trace-log"
    if path.is_dir():
        raise UserError(f"{flag} {path} is a directory, not a file; {hint}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            free = os.fstatvfs(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise UserError(f"{flag} {path} cannot be written ({exc.strerror or exc}); {hint}") from None
    if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
        raise UserError(f"{flag} {path}: its file system is full ({free.f_bavail * free.f_frsize} "
                        f"bytes free, a run needs {MIN_FREE_BYTES}); free space or {hint}")


MIN_FREE_BYTES = 64 * 1024


class TraceRead(list):
    """The rows of a trace log (a list) plus what reading it skipped.

    ``skipped_lines``: lines that are not a JSON object of a known schema version (torn writes,
    garbage); ``open_runs``: ``started`` rows with no final row yet (running, or crashed and not
    yet closed); ``path``.
    """

    def __init__(self, rows=(), *, path: Path | None = None, skipped_lines: int = 0,
                 open_runs: list[dict] | None = None):
        super().__init__(rows)
        self.path = path
        self.skipped_lines = skipped_lines
        self.open_runs = open_runs or []

    def warn(self, stream=None) -> None:
        """One line on stderr when lines were skipped (readers never skip silently)."""
        import sys

        if self.skipped_lines:
            print(f"warning: {self.path}: skipped {self.skipped_lines} unreadable line(s) (torn "
                  "write or not a trace row)", file=stream or sys.stderr, flush=True)


def read_rows(path: str | Path, *, strict: bool = False, include_started: bool = False) -> TraceRead:
    """The final rows of a trace log (one per run; ``started`` rows only with include_started).

    Corrupt lines and unknown versions are skipped unless strict, and counted in
    ``skipped_lines`` of the returned :class:`TraceRead`. When a run has a final row, its
    ``started`` row is never returned (a run counts once).
    """
    rows: list[dict] = []
    path = Path(path)
    if not path.exists():
        return TraceRead(path=path)
    skipped = 0
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            row = None
        if not isinstance(row, dict):
            if strict:
                raise ValueError(f"{path}:{number}: not valid JSON (one object per line)") from None
            skipped += 1
            continue
        version = row.get("schema_version")
        if isinstance(version, bool) or version not in READABLE_SCHEMA_VERSIONS:
            if strict:
                raise ValueError(f"{path}:{number}: unknown schema_version {version!r}")
            skipped += 1
            continue
        rows.append(row)
    final_ids = {r.get("run_id") for r in rows if r.get("status") != STARTED}
    open_runs = [r for r in rows if r.get("status") == STARTED and r.get("run_id") not in final_ids]
    if not include_started:
        rows = [r for r in rows if r.get("status") != STARTED]
    else:
        rows = [r for r in rows if r.get("status") != STARTED or r.get("run_id") not in final_ids]
    return TraceRead(rows, path=path, skipped_lines=skipped, open_runs=open_runs)
