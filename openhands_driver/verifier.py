"""The independent verifier: the only judge of ``service_up``.

After the agent stops, the runner probes the target itself. A probe passes only with HTTP 200, a
JSON body whose ``status`` is ``"ok"`` and whose ``instance`` is the expected id (the per-incident
identity: an opaque token in blind runs; bodies of older targets name it ``scenario``). The run is
verified after N consecutive passing probes within a bounded number of attempts. An optional
identity check (e.g. "the container is ours and runs the expected image") must also pass.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Callable

DEFAULT_CONSECUTIVE = 2
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_INTERVAL_S = 1.5
# The target is local: never route a probe through http_proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ProbeResult:
    attempt: int
    ok: bool
    status_code: int | None
    body_status: str | None
    scenario: str | None
    reason: str
    elapsed_s: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VerificationResult:
    verified: bool
    url: str
    expected_scenario: str
    consecutive_required: int
    max_attempts: int
    interval_s: float
    attempts: list[ProbeResult] = field(default_factory=list)
    identity: dict | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["attempts"] = [a.to_dict() for a in self.attempts]
        return data


def probe(url: str, expected_scenario: str, *, attempt: int = 1, timeout_s: float = 2.0) -> ProbeResult:
    started = time.monotonic()
    status_code, body = None, None
    try:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with _NO_PROXY.open(request, timeout=timeout_s) as response:
            status_code, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status_code, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        return ProbeResult(attempt, False, None, None, None, f"connection failed: {reason}",
                           round(time.monotonic() - started, 4))
    elapsed = round(time.monotonic() - started, 4)
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ProbeResult(attempt, False, status_code, None, None, "body is not JSON", elapsed)
    if not isinstance(body, dict):
        return ProbeResult(attempt, False, status_code, None, None, "body is not a JSON object", elapsed)
    body_status = body.get("status")
    scenario = body.get("instance", body.get("scenario"))
    if status_code != 200:
        reason = f"HTTP {status_code}: {body.get('reason', body_status)}"
    elif body_status != "ok":
        reason = f"status is {body_status!r}, not 'ok'"
    elif scenario != expected_scenario:
        reason = f"instance is {scenario!r}, expected {expected_scenario!r} (wrong service?)"
    else:
        reason = "healthy"
    return ProbeResult(attempt, reason == "healthy", status_code, body_status, scenario, reason, elapsed)


def verify(url: str, expected_scenario: str, *, consecutive: int = DEFAULT_CONSECUTIVE,
           max_attempts: int = DEFAULT_MAX_ATTEMPTS, interval_s: float = DEFAULT_INTERVAL_S,
           identity_check: Callable[[], dict] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> VerificationResult:
    """Probe until ``consecutive`` passes in a row, or until success became impossible."""
    if consecutive < 1 or max_attempts < consecutive:
        raise ValueError(f"need 1 <= consecutive ({consecutive}) <= max_attempts ({max_attempts})")
    started = time.monotonic()
    identity = identity_check() if identity_check else None
    attempts: list[ProbeResult] = []
    streak = 0
    for number in range(1, max_attempts + 1):
        result = probe(url, expected_scenario, attempt=number)
        attempts.append(result)
        streak = streak + 1 if result.ok else 0
        if streak >= consecutive:
            break
        if streak + (max_attempts - number) < consecutive:
            break  # not enough attempts left to reach the streak
        sleep(interval_s)
    verified = streak >= consecutive and (identity is None or bool(identity.get("ok")))
    return VerificationResult(verified, url, expected_scenario, consecutive, max_attempts, interval_s,
                              attempts, identity, round(time.monotonic() - started, 3))
