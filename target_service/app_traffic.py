"""Per-request disruptions: flagd flag evaluations and Chaos Mesh-style schedules.

Both are re-read on every request; a `Disruption` is a real delay, a failure reason, or both.
Where they live comes from etc/service.json:
    "flag_sources": [rel, ...]   flagd flag files, evaluated in order (default: etc/flags.json)
    "chaos_dir": rel             Schedule manifests (*.json, any depth) applied to this service
                                 (default: etc/chaos); a schedule applies when its selector names
                                 this service (or selects nothing in particular) and it is not paused.
Only flags the code knows as failure/performance toggles change behaviour; product flags (UI
experiments and the like) are evaluated and have no effect on health. Log text names the flag or
the schedule, its file and what happened, as the service (or its sidecar) would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

if __package__:  # imported as target_service.app_traffic (the runner, the tests)
    from . import root_layout as layout
else:  # run flat: python app.py, or /app in the container
    import root_layout as layout

MAX_DELAY_MS = 5000  # a delayed request never sleeps longer than this (probes time out at 2 s)
PAUSE_ANNOTATION = "experiment.chaos-mesh.org/pause"
# Flags the code wires to a failure or performance mode (OpenTelemetry Demo names and the same
# naming scheme); any other flag is a product feature and never touches health.
TOGGLE_FLAG = re.compile(r"(Failure|Unreachable|Unavailable|Outage|SlowLoad|SlowResponses|"
                         r"HighCpu|ManualGc|MemoryLeak|QueueProblems|Flood)")


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


def service_settings(root: Path) -> dict:
    """etc/service.json as a dict ({} when missing or unreadable: app_service reports that)."""
    try:
        return _dict(json.loads((root / layout.SERVICE_JSON).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _rel(value: Any) -> Optional[str]:
    """A service-root-relative path from config, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    rel = value.strip().lstrip("/")
    return None if ".." in rel.split("/") else rel


def flag_sources(root: Path, settings: Optional[dict] = None) -> List[str]:
    settings = service_settings(root) if settings is None else settings
    raw = settings.get("flag_sources")
    found = [r for r in (_rel(v) for v in raw) if r] if isinstance(raw, list) else []
    return found or [layout.FLAGS_FILE]


def chaos_dir(root: Path, settings: Optional[dict] = None) -> str:
    settings = service_settings(root) if settings is None else settings
    return _rel(settings.get("chaos_dir")) or layout.CHAOS_DIR


def evaluate(flag: Any) -> Tuple[bool, str, Any]:
    """flagd semantics: (on, variant, value). Off when DISABLED, variant 'off' or a falsy value."""
    if not isinstance(flag, dict) or flag.get("state") != "ENABLED":
        return False, "off", None
    variant = str(flag.get("defaultVariant"))
    value = _dict(flag.get("variants")).get(variant)
    return (variant != "off" and bool(value)), variant, value


def _flag_effect(name: str, variant: str, value: Any, source: str) -> Disruption:
    """What a failure/performance flag does to this service (the evaluation, then the symptom)."""
    what = "flag '%s' evaluated to variant '%s' (flag source %s)" % (name, variant, source)
    component = re.split(r"(?=[A-Z])", name)[0] or name
    lowered, number = name.lower(), _number(value)
    if "slowload" in lowered or "slowresponses" in lowered:
        delay = int(number) if number and number > 1 else 4000
        return Disruption("%s: delaying response by %dms" % (what, min(delay, MAX_DELAY_MS)),
                          delay_ms=delay)
    if "highcpu" in lowered or "manualgc" in lowered:  # CPU saturation / GC pauses stall requests
        return Disruption("%s: worker stalled 3000ms (%s)" % (
            what, "full GC pause" if "gc" in lowered else "CPU saturated"), delay_ms=3000)
    if "flood" in lowered:
        symptom = "shedding load: request flood exceeds the worker pool"
    elif "memoryleak" in lowered:
        symptom = "%s allocation failed: MemoryError (heap grows with every request)" % component
    elif "queue" in lowered:
        symptom = "queue consumer lag exceeded; publish timed out"
    elif number is not None and 0 < number < 1:
        symptom = "failing %s call (%d%% of calls)" % (component, round(number * 100))
    elif "unreachable" in lowered or "unavailable" in lowered or "outage" in lowered:
        symptom = "%s upstream marked unavailable; failing call" % component
    else:
        symptom = "failing %s call" % component
    return Disruption(what, reason="%s: %s" % (what, symptom))


def flag_disruptions(root: Path) -> List[Disruption]:
    """Failure/performance flags that evaluate on (every flag source re-read per request)."""
    found: List[Disruption] = []
    for rel in flag_sources(root):
        try:
            flags = _dict(_dict(json.loads((root / rel).read_text(encoding="utf-8"))).get("flags"))
        except FileNotFoundError:
            continue  # a missing source provides no flags (flagd logs and serves the rest)
        except (OSError, ValueError) as exc:
            found.append(Disruption(rel, reason="flag source %s cannot be parsed: %s" % (rel, exc)))
            continue
        for name, flag in sorted(flags.items()):
            on, variant, value = evaluate(flag)
            if on and TOGGLE_FLAG.search(str(name)):
                found.append(_flag_effect(str(name), variant, value, rel))
    return found


def _duration_ms(text: Any, default: int) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", str(text or ""))
    if not match:
        return default
    return int(float(match.group(1)) * {"ms": 1, "s": 1000, "m": 60000, None: 1}[match.group(2)])


def experiment(spec: dict) -> Tuple[str, dict, str]:
    """(kind, body, action) of a Schedule's spec (body under the kind's camelCase key)."""
    kind = str(spec.get("type") or "")
    body = next((v for k, v in spec.items() if k.lower() == kind.lower() and isinstance(v, dict)), {})
    action = str(body.get("action") or next((k for k in ("abort", "patch", "replace", "delay")
                                             if body.get(k)), ""))
    return kind, body, action


def selects(body: dict, service: str) -> bool:
    """Whether the experiment's selector picks this service: labels naming it (or the generic
    'service' component), or no label selector at all."""
    labels = _dict(_dict(body.get("selector")).get("labelSelectors"))
    return not labels or any(str(v) in (service, "service") for v in labels.values())


def _chaos_effect(rel: str, name: str, spec: dict) -> Disruption:
    """What the schedule's experiment does to this service (the schedule, then the symptom)."""
    kind, body, action = experiment(spec)
    what = "%s%s from experiment schedule '%s' (%s)" % (kind or "experiment",
                                                      " " + action if action else "", name, rel)
    labels = _dict(_dict(_dict(body.get("target")).get("selector")).get("labelSelectors"))
    peer = ", ".join(str(v) for v in labels.values())  # NetworkChaos: traffic to these peers
    method = str(body.get("method") or "all")
    if action == "delay":
        latency = body.get("delay")  # HTTPChaos: "2s"; NetworkChaos: {"latency": "2s"}
        latency = _dict(latency).get("latency") if kind == "NetworkChaos" else latency
        delay = _duration_ms(latency, 1000)
        return Disruption("%s: request delayed %dms" % (what, min(delay, MAX_DELAY_MS)),
                          delay_ms=delay)
    if kind == "NetworkChaos" and peer:
        how = {"partition": "network is unreachable"}.get(action, "connection timed out")
        return Disruption(what, reason="%s: upstream %s: %s" % (what, peer, how))
    if kind == "NetworkChaos":  # incoming packets dropped: clients time out
        return Disruption("%s: packets dropped, request stalled" % what, delay_ms=MAX_DELAY_MS)
    if kind == "HTTPChaos" and action == "abort":
        return Disruption(what, reason="%s: %s request aborted before a response (connection "
                                       "reset)" % (what, method))
    if kind == "HTTPChaos":
        return Disruption(what, reason="%s: %s request body rewritten; rejected as malformed "
                                       "JSON" % (what, method))
    if kind == "StressChaos" and "memory" in _dict(body.get("stressors")):
        return Disruption(what, reason="%s: stress workers hold the memory; allocation failed: "
                                       "MemoryError" % what)
    if kind in ("StressChaos", "IOChaos", "TimeChaos"):
        return Disruption("%s: worker stalled 3000ms" % what, delay_ms=3000)
    if kind == "PodChaos":
        return Disruption(what, reason="%s: instance container killed (%s)" % (what, action or "kill"))
    return Disruption(what, reason="%s: request failed" % what)


def chaos_disruptions(root: Path) -> List[Disruption]:
    """Schedules under the configured dir keep firing until deleted or paused (annotation)."""
    settings = service_settings(root)
    service = str(settings.get("service") or "service")
    rel_dir = chaos_dir(root, settings)
    base = root / rel_dir
    found = []
    for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a malformed schedule is rejected: it applies nothing
        if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
            continue
        metadata = _dict(manifest.get("metadata"))
        if str(_dict(metadata.get("annotations")).get(PAUSE_ANNOTATION)).lower() == "true":
            continue
        if not selects(experiment(manifest["spec"])[1], service):
            continue
        rel = path.relative_to(root).as_posix()
        found.append(_chaos_effect(rel, str(metadata.get("name") or path.stem), manifest["spec"]))
    return found
