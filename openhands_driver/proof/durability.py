"""Durability: a fix that does not survive a restart is not a fix.

After the verifier passed, the runner restarts the target itself (through the supervisor, like
``targetctl restart``), waits for it to answer again, then probes over a soak window: ``passed``
only if it came back and every probe of the window passed. An attached service (one the runner did
not start) is not restarted; its soak is still probed and the record says so.
"""

from __future__ import annotations

import time
from typing import Callable

from openhands_driver import verifier
from openhands_driver.target.base import Target, TargetError

DEFAULT_SOAK_S = 3.0
COME_BACK_S = 8.0


def check_durability(target: Target, instance: str, *, soak_s: float = DEFAULT_SOAK_S,
                     interval_s: float = 0.5, restart: bool = True,
                     sleep: Callable[[float], None] = time.sleep) -> dict:
    started = time.monotonic()
    record: dict = {"passed": False, "restarted": False, "soak_s": soak_s, "probes": []}
    if restart:
        try:
            target.restart()
            record["restarted"] = True
        except TargetError as exc:
            record["error"] = f"restart failed: {str(exc).splitlines()[0]}"
            record["duration_s"] = round(time.monotonic() - started, 3)
            return record
    else:
        record["note"] = "attached service: not restarted by the runner; soak probes only"
    deadline = time.monotonic() + COME_BACK_S  # the app needs a moment to listen again
    first = verifier.probe(target.url, instance)
    while not first.ok and time.monotonic() < deadline:
        sleep(0.1)
        first = verifier.probe(target.url, instance)
    record["probes"].append(first.to_dict())
    if not first.ok:
        record["error"] = f"did not come back after the restart: {first.reason}"
        record["duration_s"] = round(time.monotonic() - started, 3)
        return record
    soak_end = time.monotonic() + soak_s
    number = 1
    while time.monotonic() < soak_end:
        sleep(min(interval_s, max(0.0, soak_end - time.monotonic())))
        number += 1
        result = verifier.probe(target.url, instance, attempt=number)
        record["probes"].append(result.to_dict())
    record["passed"] = all(p["ok"] for p in record["probes"])
    record["duration_s"] = round(time.monotonic() - started, 3)
    return record
