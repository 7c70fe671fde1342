"""Per-request disruptions: feature flags (etc/flags.json) and chaos schedules (etc/chaos/).

Both are re-read on every request; a `Disruption` is a real delay, a failure reason, or both.
Faults: faults_traffic.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

if __package__:  # imported as target_service.app_traffic (the runner, the tests)
    from . import root_layout as layout
else:  # run flat: python app.py, or /app in the container
    import root_layout as layout

MAX_DELAY_MS = 30000  # a delayed request never sleeps longer than this


@dataclass
class Disruption:
    """Something degrading requests right now: a real delay, a failure reason, or both."""

    source: str
    delay_ms: int = 0
    reason: Optional[str] = None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _flag_effect(name: str, variant: str, value: Any) -> Disruption:
    """What an OpenTelemetry Demo failure flag does to this service (symptom first)."""
    source = "feature flag %s is on (variant %r in %s)" % (name, variant, layout.FLAGS_FILE)
    service = re.split(r"(?=[A-Z])", name)[0] or name
    lowered, number = name.lower(), _number(value)
    if "slowload" in lowered or "latency" in lowered:
        return Disruption(source, delay_ms=int(number) if number and number > 1 else 5000)
    if "highcpu" in lowered or "manualgc" in lowered:  # CPU saturation / GC pauses stall requests
        return Disruption(source, delay_ms=3000)
    if "flood" in lowered:
        symptom = "overloaded by a request flood; requests are being shed"
    elif "memoryleak" in lowered:
        symptom = "%s memory grows with every request (leak) until requests fail" % service
    elif "queue" in lowered:
        symptom = "message queue overloaded; consumer lag spike, requests time out"
    elif number is not None and 0 < number < 1:
        symptom = "%d%% of %s requests fail" % (round(number * 100), service)
    else:
        symptom = "%s requests fail" % service
    return Disruption(source, reason="%s: %s" % (source, symptom))


def flag_disruptions(root: Path) -> List[Disruption]:
    """Flags whose selected variant is truthy (flagd semantics; the file is re-read per request)."""
    try:
        config = json.loads((root / layout.FLAGS_FILE).read_text(encoding="utf-8"))
        flags = _dict(_dict(config).get("flags"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError) as exc:
        return [Disruption(layout.FLAGS_FILE, reason="feature flag config %s is invalid: %s"
                           % (layout.FLAGS_FILE, exc))]
    found = []
    for name, flag in sorted(flags.items()):
        if not isinstance(flag, dict) or flag.get("state") != "ENABLED":
            continue
        variant = str(flag.get("defaultVariant"))
        value = _dict(flag.get("variants")).get(variant)
        if variant != "off" and value:
            found.append(_flag_effect(str(name), variant, value))
    return found


def _duration_ms(text: Any, default: int) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", str(text or ""))
    if not match:
        return default
    return int(float(match.group(1)) * {"ms": 1, "s": 1000, "m": 60000, None: 1}[match.group(2)])


def _chaos_effect(rel: str, spec: dict) -> Disruption:
    """What a Chaos Mesh experiment of the schedule does to this service (symptom first)."""
    kind = str(spec.get("type") or "")
    body = next((v for k, v in spec.items() if k.lower() == kind.lower() and isinstance(v, dict)), {})
    action = str(body.get("action") or next((k for k in ("abort", "patch", "replace", "delay")
                                             if body.get(k)), ""))
    what = " ".join(filter(None, (kind or "chaos experiment", action)))
    source = "%s from chaos schedule %s" % (what, rel)
    labels = _dict(_dict(_dict(body.get("target")).get("selector")).get("labelSelectors"))
    peer = ", ".join(str(v) for v in labels.values())  # NetworkChaos: traffic to these peers
    method = str(body.get("method") or "all")
    if action == "delay":
        latency = body.get("delay")  # HTTPChaos: "2s"; NetworkChaos: {"latency": "2s"}
        latency = _dict(latency).get("latency") if kind == "NetworkChaos" else latency
        return Disruption(source, delay_ms=_duration_ms(latency, 1000))
    if kind == "NetworkChaos" and peer:
        how = {"partition": "network unreachable"}.get(action, "connection timed out")
        return Disruption(source, reason="requests to dependency %s fail: %s" % (peer, how))
    if kind == "NetworkChaos":  # incoming packets dropped: clients time out
        return Disruption(source, delay_ms=MAX_DELAY_MS)
    if kind == "HTTPChaos" and action == "abort":
        return Disruption(source, reason="incoming %s requests are aborted before a response "
                                         "(connection reset)" % method)
    if kind == "HTTPChaos":
        return Disruption(source, reason="incoming %s requests arrive with tampered bodies and are "
                                         "rejected" % method)
    if kind == "StressChaos" and "memory" in _dict(body.get("stressors")):
        return Disruption(source, reason="memory pressure: stress workers hold the memory, "
                                         "allocations fail and requests error out")
    if kind in ("StressChaos", "IOChaos", "TimeChaos"):
        return Disruption(source, delay_ms=3000)
    if kind == "PodChaos":
        return Disruption(source, reason="service instance keeps being killed (%s)" % action)
    return Disruption(source, reason="requests fail while a fault injection is active")


def chaos_disruptions(root: Path) -> List[Disruption]:
    """Schedules in etc/chaos/*.json keep firing until deleted (or paused by annotation)."""
    found = []
    chaos_dir = root / layout.CHAOS_DIR
    for path in sorted(chaos_dir.glob("*.json")) if chaos_dir.is_dir() else []:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # Chaos Mesh rejects a malformed schedule: it injects nothing
        if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
            continue
        annotations = _dict(_dict(manifest.get("metadata")).get("annotations"))
        if str(annotations.get("experiment.chaos-mesh.org/pause")).lower() == "true":
            continue
        found.append(_chaos_effect("%s/%s" % (layout.CHAOS_DIR, path.name), manifest["spec"]))
    return found
