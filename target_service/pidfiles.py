"""Pid files and liveness checks, shared by the app, the supervisor and the fault injectors."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_pid", "remove_own_pid", "pid_running"]


def write_pid(path: Path) -> None:
    """Atomically write this process's pid to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".%d.tmp" % os.getpid())
    tmp.write_text("%d\n" % os.getpid(), encoding="utf-8")
    os.replace(str(tmp), str(path))


def remove_own_pid(path: Path) -> None:
    """Remove ``path`` if it still holds this process's pid."""
    try:
        if path.read_text(encoding="utf-8").strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
