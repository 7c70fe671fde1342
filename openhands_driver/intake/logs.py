"""The intake process's logs: one JSON object per line, each with the trace id of its work.

    logs.configure("INFO")                 # scripts/serve.py: JSON lines on stderr
    with logs.trace("ex-0123456789ab"):    # every line logged inside carries trace_id
        log.info("run started")

The trace id is the request's ``X-Trace-Id`` (or a fresh one) while the API answers, and the
execution id while a run is dispatched (queue.py); lines outside any work carry ``trace_id: null``.
:class:`ErrorRing` keeps the last N warnings and errors in memory for ``GET /ops/errors``.
Messages go through ``trace.redact`` with the service's secrets before they are written.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from openhands_driver.errors import UserError

LOGGER = "openhands_driver"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRACE_HEADER = "X-Trace-Id"
_TRACE_ID = contextvars.ContextVar("sre_trace_id", default=None)
_VALID_TRACE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_FIELDS = ("levelname", "name", "message", "trace_id")


def current_trace() -> str | None:
    return _TRACE_ID.get()


def trace_id_from(header: str | None) -> str:
    """The caller's trace id when it is a sane token, else a fresh one."""
    return header if header and _VALID_TRACE.match(header) else uuid.uuid4().hex


@contextmanager
def trace(trace_id: str | None) -> Iterator[None]:
    token = _TRACE_ID.set(trace_id)
    try:
        yield
    finally:
        _TRACE_ID.reset(token)


def bind(trace_id: str | None) -> contextvars.Token:
    """Set the trace id until :func:`unbind` (a request's before/teardown hooks)."""
    return _TRACE_ID.set(trace_id)


def unbind(token: contextvars.Token) -> None:
    _TRACE_ID.reset(token)


class TraceFilter(logging.Filter):
    """Adds ``trace_id`` to every record (None outside any trace)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = _TRACE_ID.get()
        return True


class RedactingFormatter(JsonFormatter):
    def __init__(self, secrets: tuple[str, ...] = ()):
        super().__init__(list(_FIELDS), rename_fields={"levelname": "level", "name": "logger"},
                         timestamp="time", defaults={"trace_id": None})  # time: ISO 8601 UTC
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if self.secrets:
            from openhands_driver.trace import redact

            line = redact(line, self.secrets)
        return line


def check_level(level: str) -> str:
    name = str(level or "").upper()
    if name not in LEVELS:
        raise UserError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    return name


def configure(level: str = "INFO", *, stream: TextIO | None = None, secrets: tuple[str, ...] = ()) -> logging.Handler:
    """JSON lines on ``stream`` (stderr) for the whole process; returns the handler (remove it to undo)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    handler.addFilter(TraceFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, RedactingFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(check_level(level))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return handler


def set_level(level: str) -> dict:
    """The process's log level from now on (POST /ops/loglevel); returns before/after."""
    name = check_level(level)
    root = logging.getLogger()
    before = logging.getLevelName(root.level)
    root.setLevel(name)
    logging.getLogger(LOGGER).setLevel(logging.NOTSET)  # follows the root
    return {"previous": before, "level": name}


def get_level() -> str:
    return logging.getLevelName(logging.getLogger().level)


class ErrorRing(logging.Handler):
    """The last ``size`` WARNING+ records of this process, newest last (GET /ops/errors)."""

    def __init__(self, size: int = 200, secrets: tuple[str, ...] = ()):
        super().__init__(logging.WARNING)
        self.entries: deque[dict] = deque(maxlen=size)
        self.total = 0
        self.secrets = tuple(s for s in secrets if s)
        self._ring_lock = threading.Lock()
        self.addFilter(TraceFilter())

    def emit(self, record: logging.LogRecord) -> None:
        from openhands_driver.trace import redact

        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the entry
            message = str(record.msg)
        exc = record.exc_info[1] if record.exc_info else None
        entry = {"at": record.created, "level": record.levelname, "logger": record.name,
                 "message": redact(message[:2000], self.secrets), "trace_id": getattr(record, "trace_id", None),
                 "exception": f"{type(exc).__name__}: {redact(str(exc)[:500], self.secrets)}" if exc else None}
        with self._ring_lock:
            self.entries.append(entry)
            self.total += 1
        if all(isinstance(h, ErrorRing) for h in logging.getLogger().handlers):
            # logging not configured: stderr as Python would, redacted like the JSON lines
            logging.lastResort.handle(logging.makeLogRecord({**record.__dict__, "args": None,
                                                             "msg": redact(message, self.secrets)}))

    def recent(self, limit: int = 50, since_s: float | None = None) -> list[dict]:
        with self._ring_lock:
            items = list(self.entries)
        if since_s is not None:
            cutoff = time.time() - since_s
            items = [e for e in items if e["at"] >= cutoff]
        return items[-limit:] if limit > 0 else []

    def attach(self) -> ErrorRing:
        logging.getLogger().addHandler(self)
        return self

    def detach(self) -> None:
        logging.getLogger().removeHandler(self)
