"""The scripts' one way to the target: `targetctl` with list arguments (never a shell)."""
from __future__ import annotations

import json
import subprocess


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def read_json(rel: str):
    """The JSON document at `rel` in the service root; None when it cannot be read or parsed."""
    shown = targetctl("exec", "cat", rel)
    if shown.returncode != 0:
        return None
    try:
        return json.loads(shown.stdout)
    except ValueError:
        return None


def safe(rel) -> bool:
    """A path relative to the service root that stays inside it."""
    return isinstance(rel, str) and bool(rel) and not rel.startswith("/") and ".." not in rel.split("/")
