"""Fault class chaos_schedule: a recurring Chaos Mesh-style Schedule keeps degrading the service.

Schedules are manifests (*.json, any depth) under the directory `chaos_dir` in etc/service.json
(default etc/chaos, re-read per request, app_traffic.py). One that selects this service and is
not paused keeps re-applying its experiment: network delay or packet loss (latency), a partition
from a dependency, aborted or rewritten HTTP requests, memory stress, killed instances. The fix:
delete that schedule (or pause it with the `experiment.chaos-mesh.org/pause: "true"`
annotation); no restart is needed, and restarting alone never helps.

Decoys: a PAUSED schedule that also selects this service (kept for a later game day), and an
active schedule in another namespace directory that selects ANOTHER service; neither affects this
service, and a careless "delete every schedule" destroys them.

Variants (by seed): the schedules directory and namespace subdirectory, the schedule's name and
file name, its experiment (kind/action/parameters), the decoys' names and namespaces. Older params
(ITBench: name, schedule_spec) still work; the rest falls back to defaults.
"""

from __future__ import annotations

import copy
import random
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

if __package__:  # imported as target_service.fault_chaos_schedule (the runner, the tests)
    from . import faults_core as core, root_layout as layout
    from .app_traffic import PAUSE_ANNOTATION, experiment, selects
    from .faults_traffic import DEFAULT_CHAOS_NAME, DEFAULT_CHAOS_SPEC
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout
    from app_traffic import PAUSE_ANNOTATION, experiment, selects
    from faults_traffic import DEFAULT_CHAOS_NAME, DEFAULT_CHAOS_SPEC

CHAOS_DIRS = ("etc/chaos", "etc/chaos-mesh/schedules", "srv/chaos-mesh", "etc/{svc}/schedules")
NAMESPACES = ("", "chaos-mesh", "{svc}", "game-day", "sre-drills")
OTHER_NAMESPACES = ("staging", "load-test", "platform")
OTHER_SERVICES = ("inventory", "shipping", "frontend", "quotes", "ledger")
DEPENDENCIES = ("postgres", "redis", "kafka", "valkey", "payments-api")
SELECT = {"labelSelectors": {"app.kubernetes.io/name": "{svc}"}}


def _experiments() -> Dict[str, Dict[str, Any]]:
    """Experiment templates ("{svc}" = the service, "{dep}" = a dependency, "{latency}")."""
    return {
        "network-delay": {"type": "NetworkChaos", "networkChaos": {
            "action": "delay", "mode": "all", "selector": SELECT,
            "delay": {"latency": "{latency}", "jitter": "100ms"}}},
        "network-partition": {"type": "NetworkChaos", "networkChaos": {
            "action": "partition", "direction": "to", "mode": "all", "selector": SELECT,
            "target": {"mode": "all", "selector": {"labelSelectors": {
                "app.kubernetes.io/component": "{dep}"}}}}},
        "http-abort": {"type": "HTTPChaos", "httpChaos": {
            "mode": "all", "selector": SELECT, "target": "Request", "port": 8080,
            "method": "GET", "abort": True}},
        "http-delay": {"type": "HTTPChaos", "httpChaos": {
            "mode": "all", "selector": SELECT, "target": "Request", "port": 8080,
            "method": "GET", "delay": "{latency}"}},
        "memory-stress": {"type": "StressChaos", "stressChaos": {
            "mode": "all", "selector": SELECT, "duration": "55s",
            "stressors": {"memory": {"workers": 4, "size": "100%"}}}},
        "pod-failure": {"type": "PodChaos", "podChaos": {
            "action": "pod-failure", "mode": "all", "selector": SELECT, "duration": "50s"}},
    }


LATENCY_KINDS = ("network-delay", "http-delay")
NAME_STEMS = {"network-delay": ("network-delay", "latency-drill", "slow-network"),
              "network-partition": ("{dep}-partition", "network-partition", "cut-{dep}"),
              "http-abort": ("http-abort", "abort-requests", "http-chaos-abort"),
              "http-delay": ("http-delay", "slow-http"),
              "memory-stress": ("memory-stress", "memory-hog"),
              "pod-failure": ("pod-failure", "kill-pods")}


def _fill(value: Any, subs: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, subs) for v in value]
    if isinstance(value, str):
        for key, sub in subs.items():
            value = value.replace("{%s}" % key, sub)
    return value


def _slug(name: str) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") or DEFAULT_CHAOS_NAME
    # names come from incident data; keep the harness's own vocabulary out of what the agent reads
    return name.replace("chaos-schedule", "recurring-experiment")


def _manifest(name: str, namespace: str, spec: Dict[str, Any], paused: bool = False) -> dict:
    spec = dict(spec)
    spec.setdefault("schedule", "@every 1m")
    spec.setdefault("historyLimit", 1)
    spec.setdefault("concurrencyPolicy", "Forbid")
    metadata: Dict[str, Any] = {"name": name, "namespace": namespace or "default"}
    if paused:
        metadata["annotations"] = {PAUSE_ANNOTATION: "true"}
    return {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Schedule", "metadata": metadata,
            "spec": spec}


def _read(root: Path, rel: str) -> Optional[dict]:
    try:
        data = core.read_json(root / rel)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@core.register_class
class ChaosSchedule(core.FaultClass):
    name = "chaos_schedule"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        kind = rng.choice(sorted(_experiments()))
        dep = rng.choice(DEPENDENCIES)
        subs = {"dep": dep, "latency": rng.choice(("3s", "5s", "10s", "20000ms"))}
        name = "{svc}-" + _fill(rng.choice(NAME_STEMS[kind]), subs)
        namespace = rng.choice(NAMESPACES)
        paused_kind = rng.choice([k for k in sorted(_experiments()) if k != kind])
        return {"name": name, "schedule_spec": _fill(_experiments()[kind], subs),
                "chaos_dir": rng.choice(CHAOS_DIRS), "namespace": namespace,
                "file_prefix": rng.choice(("", "schedule-")),
                "paused_name": "{svc}-" + _fill(rng.choice(NAME_STEMS[paused_kind]), subs),
                "paused_spec": _fill(_experiments()[paused_kind], subs),
                "other_namespace": rng.choice(OTHER_NAMESPACES),
                "other_name": rng.choice(("{other}-network-delay", "{other}-pod-failure",
                                          "{other}-http-abort"))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        other = next(s for s in OTHER_SERVICES if s != svc)
        subs = {"svc": svc, "other": other}
        name = _slug(_fill(str(params.get("name") or DEFAULT_CHAOS_NAME), subs))
        spec = params.get("schedule_spec")
        spec = _fill(copy.deepcopy(spec if isinstance(spec, dict) and spec else DEFAULT_CHAOS_SPEC),
                     subs)
        body = experiment(spec)[1]
        if not selects(body, svc):  # imported incidents select their own workload: here, this one
            selector = dict(body.get("selector") or {})
            selector["labelSelectors"] = {"app.kubernetes.io/name": svc}
            body["selector"] = selector
        base = _fill(str(params.get("chaos_dir") or layout.CHAOS_DIR), subs).strip("/")
        namespace = _fill(str(params.get("namespace") or ""), subs).strip("/")
        folder = "/".join(x for x in (base, namespace) if x)
        rel = "%s/%s%s.json" % (folder, params.get("file_prefix") or "", name)
        paused_name = _slug(_fill(str(params.get("paused_name") or "{svc}-latency-drill"), subs))
        paused_spec = params.get("paused_spec")
        paused_spec = _fill(copy.deepcopy(paused_spec if isinstance(paused_spec, dict) and paused_spec
                                          else _fill(_experiments()["network-delay"],
                                                     {"latency": "5s"})), subs)
        other_ns = _fill(str(params.get("other_namespace") or "staging"), subs)
        other_name = _slug(_fill(str(params.get("other_name") or "{other}-network-delay"), subs))
        other_spec = _fill(_experiments()["network-delay"], {"latency": "10s", "svc": other})
        paused_rel = "%s/%s.json" % (folder, paused_name)
        if paused_rel == rel:
            paused_name += "-paused"
            paused_rel = "%s/%s.json" % (folder, paused_name)
        return {"svc": svc, "other": other, "name": name, "spec": spec, "dir": base,
                "namespace": namespace, "rel": rel, "paused_name": paused_name,
                "paused_spec": paused_spec, "paused_rel": paused_rel, "other_name": other_name,
                "other_namespace": other_ns, "other_spec": other_spec,
                "other_rel": "%s/%s/%s.json" % (base, other_ns, other_name)}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        core.write_json(ctx.root / p["rel"], _manifest(p["name"], p["namespace"], p["spec"]))
        core.write_json(ctx.root / p["paused_rel"],
                        _manifest(p["paused_name"], p["namespace"], p["paused_spec"], paused=True))
        core.write_json(ctx.root / p["other_rel"],
                        _manifest(p["other_name"], p["other_namespace"], p["other_spec"]))
        if p["dir"] != layout.CHAOS_DIR:
            service = core.read_service_json(ctx.root)
            service["chaos_dir"] = p["dir"]
            core.write_service_json(ctx.root, service)

    def symptom(self, params: Mapping[str, Any]) -> str:
        kind, body, action = experiment(self._p(params)["spec"])
        if action == "delay" or kind in ("IOChaos", "TimeChaos"):
            return "latency"
        if kind == "StressChaos" and "memory" not in (body.get("stressors") or {}):
            return "latency"
        peers = ((body.get("target") or {}).get("selector") or {}).get("labelSelectors") \
            if isinstance(body.get("target"), dict) else None
        if kind == "NetworkChaos" and not peers:
            return "latency"
        return "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["name"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [p["paused_rel"], p["other_rel"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["rel"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        try:
            watched = str(core.read_service_json(root).get("chaos_dir") or layout.CHAOS_DIR)
        except (OSError, ValueError, AttributeError):
            watched = "unreadable"
        manifest = _read(root, p["rel"])
        exists = (root / p["rel"]).exists()
        annotations = ((manifest or {}).get("metadata") or {}).get("annotations") or {}
        paused = str(annotations.get(PAUSE_ANNOTATION)).lower() == "true"
        decoy = _read(root, p["paused_rel"]) or {}
        decoy_paused = str((((decoy.get("metadata") or {}).get("annotations")) or {})
                           .get(PAUSE_ANNOTATION)).lower() == "true"
        other = _read(root, p["other_rel"]) or {}
        other_spec = other.get("spec") if isinstance(other.get("spec"), dict) else {}
        other_ok = bool(other_spec) and not selects(experiment(other_spec)[1], p["svc"])
        return [
            core.Check("the service still watches %s" % p["dir"], watched.strip("/") == p["dir"],
                       "chaos_dir: %s" % watched),
            core.Check("schedule %s is deleted or paused" % p["name"],
                       not exists or (manifest is not None and paused),
                       "%s: %s" % (p["rel"], "absent" if not exists else
                                   ("paused" if paused else "active"))),
            core.Check("paused schedule %s is kept (still paused)" % p["paused_name"],
                       bool(decoy) and decoy_paused, p["paused_rel"]),
            core.Check("schedule %s of %s is kept" % (p["other_name"], p["other"]), other_ok,
                       p["other_rel"]),
        ]
