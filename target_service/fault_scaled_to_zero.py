"""Fault class scaled_to_zero: the service's deployment wants no instance, so nothing listens.

The supervisor starts the app only when the deployment named by `deployment` in
etc/service.json wants at least one replica: `spec.replicas` (or a flat `replicas`), bounded by
the autoscaler file named by `autoscaler` (minReplicas / maxReplicas) when there is one. Here
somebody set it to 0: either the deployment's spec.replicas ("replicas" mode) or the
autoscaler's maxReplicas ("autoscaler" mode, spec.replicas still > 0). The deployment keeps its
last applied configuration (with the replica count it ran with) in an annotation.

Decoy: a second deployment beside it (canary / worker / migrations job) intentionally at 0
replicas, which must stay at 0: a careless "set every replicas: 0 to 1" scales it up.
Restarting never helps: the supervisor re-reads the same file.

Variants (by seed): deployment file and name ({svc} = the service), the mode, the replica
count it ran with, the autoscaler file, and the decoy deployment.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_scaled_to_zero (the runner, the tests)
    from . import faults_core as core, faults_workload as wl, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_workload as wl
    import root_layout as layout

DEPLOY_DIRS = ("etc/deploy", "etc/k8s/{svc}", "etc/workloads", "etc/manifests/{svc}")
DEPLOY_NAMES = ("{svc}", "{svc}-api", "{svc}-web", "{svc}-server")
DECOY_SUFFIXES = ("canary", "worker", "migrations", "backfill")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEFAULTS = {"deployment": layout.DEPLOYMENT_JSON, "name": "{svc}", "mode": "replicas",
            "ran_with": 1, "autoscaler": "", "decoy": "etc/deployment-worker.json",
            "decoy_name": "{svc}-worker"}


def _load(root: Path, rel: str) -> Any:
    try:
        return json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def desired_replicas(deployment: Any, scaler: Any) -> Any:
    """What the supervisor computes: spec.replicas (or replicas) bounded by the autoscaler."""
    if not isinstance(deployment, dict):
        return None
    spec = deployment.get("spec") if isinstance(deployment.get("spec"), dict) else deployment
    replicas = spec.get("replicas", 1)
    if not _whole(replicas):
        return None
    if isinstance(scaler, dict):
        bounds = scaler.get("spec") if isinstance(scaler.get("spec"), dict) else scaler
        low, high = bounds.get("minReplicas"), bounds.get("maxReplicas")
        if _whole(low) and replicas < low:
            replicas = low
        if _whole(high) and replicas > high:
            replicas = high
    return replicas


def _deployment(name: str, replicas: int, ran_with: int, annotations: Dict[str, str]) -> dict:
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
               "spec": {"replicas": ran_with}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "annotations": dict(annotations, **{
                LAST_APPLIED: json.dumps(applied, sort_keys=True)})},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}}}


@core.register_class
class ScaledToZero(core.FaultClass):
    name = "scaled_to_zero"
    keeps_app_down = True

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        deploy_dir = rng.choice(DEPLOY_DIRS)
        name = rng.choice(DEPLOY_NAMES)
        mode = rng.choice(("replicas", "replicas", "autoscaler"))
        suffix = rng.choice(DECOY_SUFFIXES)
        stem = "%s-deployment" % name if rng.random() < 0.5 else name
        params = {"deployment": "%s/%s.json" % (deploy_dir, stem), "name": name, "mode": mode,
                  "ran_with": rng.choice((1, 2, 3)),
                  "autoscaler": "%s/%s-hpa.json" % (rng.choice((deploy_dir, "etc/autoscaling")), name)
                  if mode == "autoscaler" else "",
                  "decoy": "%s/{svc}-%s.json" % (deploy_dir, suffix),
                  "decoy_name": "{svc}-%s" % suffix}
        return params

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        merged = dict(DEFAULTS)
        merged.update({k: v for k, v in params.items() if k in DEFAULTS and v not in (None, "")})
        if "mode" in params and params.get("mode") == "replicas":
            merged["autoscaler"] = ""
        if merged["mode"] not in ("replicas", "autoscaler"):
            raise ValueError("scaled_to_zero mode must be 'replicas' or 'autoscaler', got %r"
                             % merged["mode"])
        if merged["mode"] == "autoscaler" and not merged["autoscaler"]:
            merged["autoscaler"] = "etc/autoscaling/{svc}-hpa.json"
        for key in ("deployment", "autoscaler", "decoy", "name", "decoy_name"):
            merged[key] = wl.svc_path(params, merged[key])
        merged["ran_with"] = int(merged["ran_with"]) if _whole(merged["ran_with"]) and merged["ran_with"] else 1
        return merged

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        wl.clear_healthy_workload(ctx.root, "deployment")
        autoscaled = p["mode"] == "autoscaler"
        core.write_json(ctx.root / p["deployment"], _deployment(
            p["name"], p["ran_with"] if autoscaled else 0, p["ran_with"], {}))
        locations = {"deployment": p["deployment"]}
        if autoscaled:
            applied = {"minReplicas": 1, "maxReplicas": max(3, p["ran_with"])}
            core.write_json(ctx.root / p["autoscaler"], {
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": p["name"], "annotations": {
                    LAST_APPLIED: json.dumps({"spec": applied}, sort_keys=True)}},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": p["name"]},
                         "minReplicas": 0, "maxReplicas": 0,
                         "metrics": [{"type": "Resource", "resource": {
                             "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}})
            locations["autoscaler"] = p["autoscaler"]
        core.write_json(ctx.root / p["decoy"], _deployment(
            p["decoy_name"], 0, 0, {"description": "runs on demand only; keep at 0 replicas "
                                    "unless a run is scheduled"}))
        wl.set_locations(ctx.root, **locations)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "down"

    def entity(self, params: Mapping[str, Any]) -> str:
        p = self._p(params)
        return p["autoscaler"] if p["mode"] == "autoscaler" else p["deployment"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["decoy"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [p["deployment"]] + ([p["autoscaler"]] if p["autoscaler"] else [])

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        deployment = _load(root, p["deployment"])
        scaler = _load(root, p["autoscaler"]) if p["autoscaler"] else None
        desired = desired_replicas(deployment, scaler)
        checks = [core.Check("the deployment wants at least one replica",
                             isinstance(desired, int) and desired >= 1,
                             "%s%s: desired replicas %r" % (
                                 p["deployment"], " + %s" % p["autoscaler"] if p["autoscaler"] else "",
                                 desired))]
        if p["autoscaler"]:
            checks.append(core.Check("the autoscaler is still in place (bounds fixed, not deleted)",
                                     isinstance(scaler, dict),
                                     "%s: %s" % (p["autoscaler"], "present" if scaler is not None
                                                 else "absent or unreadable")))
        decoy = _load(root, p["decoy"])
        checks.append(core.Check("the on-demand deployment is still at 0 replicas",
                                 desired_replicas(decoy, None) == 0,
                                 "%s: desired replicas %r" % (p["decoy"], desired_replicas(decoy, None))))
        return checks
