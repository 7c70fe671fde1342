#!/usr/bin/env python3
"""Diagnose a workload that wants no instance (0 desired replicas); JSON on stdout.

Finds the deployment (and its autoscaler, if any) from etc/service.json, computes the desired
replica count the way the supervisor does (spec.replicas bounded by minReplicas/maxReplicas),
names the file that holds the zero, and the replica count it ran with (last applied
configuration). Other deployments in the same directory that are at 0 are reported, never
touched. Acts only through `targetctl` (list arguments, never a shell).
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.targetctl import read_json, safe, targetctl  # noqa: E402

SERVICE_JSON = "etc/service.json"
DEFAULT_DEPLOYMENT = "etc/deployment.json"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
EVIDENCE = re.compile(r"desired replicas|instances ready|replicas", re.I)


def whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def replicas_of(doc) -> tuple:
    """(field, value) of a deployment: spec.replicas, or a flat replicas."""
    if not isinstance(doc, dict):
        return None, None
    if isinstance(doc.get("spec"), dict):
        return "spec.replicas", doc["spec"].get("replicas", 1)
    return "replicas", doc.get("replicas", 1)


def bounds_of(scaler) -> dict:
    if not isinstance(scaler, dict):
        return {}
    spec = scaler.get("spec") if isinstance(scaler.get("spec"), dict) else scaler
    return {k: spec.get(k) for k in ("minReplicas", "maxReplicas") if whole(spec.get(k))}


def last_applied(doc) -> dict:
    try:
        applied = json.loads(((doc.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED) or "{}")
    except (ValueError, AttributeError, TypeError):
        return {}
    return applied.get("spec") if isinstance(applied, dict) and isinstance(applied.get("spec"), dict) else {}


def diagnose() -> dict:
    health = targetctl("status")
    out = {"check": "workload-replicas", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:]}
    config = read_json(SERVICE_JSON) or {}
    deployment_rel = config.get("deployment") or DEFAULT_DEPLOYMENT
    scaler_rel = config.get("autoscaler")
    if not safe(deployment_rel) or (scaler_rel is not None and not safe(scaler_rel)):
        return {**out, "error": "unsafe path in %s" % SERVICE_JSON, "fault_present": False}
    deployment = read_json(deployment_rel)
    scaler = read_json(scaler_rel) if scaler_rel else None
    field, replicas = replicas_of(deployment)
    bounds = bounds_of(scaler)
    desired = replicas if whole(replicas) else None
    if desired is not None and "minReplicas" in bounds and desired < bounds["minReplicas"]:
        desired = bounds["minReplicas"]
    capped = desired is not None and "maxReplicas" in bounds and desired > bounds["maxReplicas"]
    if capped:
        desired = bounds["maxReplicas"]
    if deployment is None:
        entity = None
    elif replicas == 0:
        entity = deployment_rel
    elif capped:
        entity = scaler_rel
    else:
        entity = None
    ran_with = last_applied(deployment).get("replicas")
    restore = ran_with if whole(ran_with) and ran_with >= 1 else 1
    # Other deployments beside it at 0: intentionally idle (canary, worker, jobs); left alone.
    directory = deployment_rel.rsplit("/", 1)[0] if "/" in deployment_rel else "."
    others = []
    for name in targetctl("exec", "ls", "-1", directory).stdout.split():
        rel = "%s/%s" % (directory, name)
        if not name.endswith(".json") or rel in (deployment_rel, scaler_rel):
            continue
        doc = read_json(rel)
        if isinstance(doc, dict) and doc.get("kind") == "Deployment":
            others.append({"path": rel, "name": (doc.get("metadata") or {}).get("name"),
                           "replicas": replicas_of(doc)[1]})
    log = targetctl("logs", "-n", "200").stdout.splitlines()
    evidence = [line.strip() for line in log if EVIDENCE.search(line) and "not starting app" in line][-2:]
    present = health.returncode != 0 and desired == 0 and entity is not None
    out.update({"deployment": deployment_rel, "deployment_name": ((deployment or {}).get("metadata") or {}).get("name")
                if isinstance(deployment, dict) else None,
                "field": field, "replicas": replicas, "autoscaler": scaler_rel, "autoscaler_bounds": bounds,
                "desired_replicas": desired, "zero_set_in": entity, "restore_replicas": restore,
                "other_deployments_left_alone": others, "fault_present": present})
    if present:
        facts = ["%s: %s is %r" % (deployment_rel, field, replicas)]
        if scaler_rel:
            facts.append("%s: %s" % (scaler_rel, json.dumps(bounds, sort_keys=True)))
        out["diagnosis"] = {"fault_class": "scaled_to_zero", "entity": entity, "evidence": evidence + facts}
    return out


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
