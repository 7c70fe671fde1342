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

TRACE_SCHEMA_VERSION = 1
READABLE_SCHEMA_VERSIONS = (1,)
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


def append_row(path: str | Path, row: dict) -> None:
    """Append one JSON line under an exclusive lock, in a single write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_rows(path: str | Path, *, strict: bool = False) -> list[dict]:
    """All rows of a trace log. Corrupt lines and unknown versions are skipped unless strict."""
    rows = []
    path = Path(path)
    if not path.exists():
        return rows
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
            continue
        if row.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
            if strict:
                raise ValueError(f"{path}:{number}: unknown schema_version {row.get('schema_version')}")
            continue
        rows.append(row)
    return rows
