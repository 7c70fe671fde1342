"""Who owns a run's leftovers, and whether that owner is provably gone.

An owner is a process named by (pid, start time in clock ticks since boot, boot id): a pid alone is
reused, the start time tells a new process from the old one, and the boot id tells "this boot" from
a previous one. :func:`alive` says False only when that exact process cannot exist any more, so the
janitor and the intake never take over something a live run still holds.

Owner records are small JSON files (``.sre-owner.json``) inside each directory a run creates, and
Docker labels (``sre.owner``) on its containers. Stdlib only.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

OWNER_FILE = ".sre-owner.json"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """The process's start time (field 22 of /proc/PID/stat), or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = raw[raw.rfind(b")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def current(pid: int | None = None) -> dict[str, Any]:
    """This process (or ``pid``) as an owner record."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "start_ticks": start_ticks(pid), "boot_id": boot_id(),
            "host": socket.gethostname()}


def token(owner: dict[str, Any]) -> str:
    """A compact, label-safe form: ``pid:start_ticks:boot_id``."""
    return f"{owner.get('pid')}:{owner.get('start_ticks')}:{owner.get('boot_id')}"


def parse_token(text: str) -> dict[str, Any] | None:
    parts = str(text).split(":", 2)
    if len(parts) != 3 or not parts[0].isdecimal():
        return None
    ticks = int(parts[1]) if parts[1].isdecimal() else None
    return {"pid": int(parts[0]), "start_ticks": ticks, "boot_id": parts[2]}


def alive(owner: dict[str, Any] | None) -> bool:
    """False only when the owner process is provably gone (conservative: unknown -> alive)."""
    if not isinstance(owner, dict):
        return True
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return True
    if owner.get("host") not in (None, socket.gethostname()):
        return True  # another machine's process: not ours to judge
    recorded_boot = owner.get("boot_id")
    if recorded_boot and boot_id() and recorded_boot != boot_id():
        return False  # the machine rebooted since: every process of that boot is gone
    ticks = start_ticks(pid)
    if ticks is None:
        return False
    recorded = owner.get("start_ticks")
    if isinstance(recorded, int) and recorded != ticks:
        return False  # the pid was reused by another process
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    state = raw[raw.rfind(b")") + 2:raw.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def write_owner_file(directory: Path | str, pid: int | None = None, **extra: Any) -> Path:
    """Record this process (or ``pid``) as the owner of ``directory`` (plus e.g. run_id)."""
    path = Path(directory) / OWNER_FILE
    tmp = path.with_name(f"{OWNER_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**current(pid), **extra}, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


STAGING = "."  # an owned dir is made as ".<prefix><pid>-XXXX", gets its owner file, then is renamed


def make_owned_dir(prefix: str, **extra: Any) -> Path:
    """A new temp directory ``<prefix><pid>-XXXX`` that never exists without its owner file.

    It is created under a hidden staging name that carries our pid, gets its owner file, and only
    then is renamed into place, so a kill at any point leaves either an owned directory or a
    staging one whose pid tells the janitor whether its creator lives.
    """
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING}{prefix}{os.getpid()}-"))
    write_owner_file(staging, **extra)
    final = staging.with_name(staging.name[len(STAGING):])
    os.rename(staging, final)
    return final


def staging_pid(name: str, prefixes: tuple[str, ...]) -> int | None:
    """The creator's pid of a staging directory name (see :func:`make_owned_dir`), else None."""
    for prefix in prefixes:
        if name.startswith(STAGING + prefix):
            head = name[len(STAGING + prefix):].split("-", 1)[0]
            return int(head) if head.isdecimal() else None
    return None


def read_owner_file(directory: Path | str) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(directory) / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
