"""The scripts' one way to the target: `targetctl` with list arguments (never a shell)."""
from __future__ import annotations

import json
import re
import subprocess
import time


# The end of an in-target edit program (run with `targetctl exec python3 -c PROGRAM path ...`):
# `data` written back to `path` atomically (temp file + rename); KEEP_MODE also keeps its mode.
WRITE_BACK = (
    "tmp = path + '.tmp'\n"
    "with open(tmp, 'w') as out:\n"
    "    out.write(json.dumps(data, indent=2) + '\\n')\n"
    "os.replace(tmp, path)\n"
)
WRITE_BACK_KEEP_MODE = WRITE_BACK.replace("os.replace(", "os.chmod(tmp, os.stat(path).st_mode & 0o777)\nos.replace(")


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


def cat_json(rel: str, default=None):
    """The JSON `targetctl exec cat rel` prints; `default` when that is not JSON (e.g. no such file)."""
    try:
        return json.loads(targetctl("exec", "cat", rel).stdout)
    except ValueError:
        return default


def parse_env(text: str) -> dict:
    """KEY=VALUE lines of an env file (blank lines and # comments skipped), as the service reads them."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def safe(rel) -> bool:
    """A path relative to the service root that stays inside it."""
    return isinstance(rel, str) and bool(rel) and not rel.startswith("/") and ".." not in rel.split("/")


def wait_healthy(attempts: int, interval_s: float = 0.5) -> bool:
    """`targetctl status` until it passes: at most `attempts` tries, `interval_s` apart."""
    for _ in range(attempts):
        if targetctl("status").returncode == 0:
            return True
        time.sleep(interval_s)
    return False


def listen_port() -> int | None:
    """The port the instance must listen on (`targetctl info`), else the last one its log names."""
    match = re.search(r"expected listen port:\s*(\d+)", targetctl("info").stdout)
    if match:
        return int(match.group(1))
    ports = re.findall(r"listening on [\d.]+:(\d+)", targetctl("logs", "-n", "200").stdout)
    return int(ports[-1]) if ports else None
