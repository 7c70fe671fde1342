#!/usr/bin/env python3
"""Diagnose a workload the platform keeps Pending (not admitted or not placed on a node); JSON.

Searches: `cluster_dir` and `workloads` in etc/service.json (the cluster the platform schedules on
and the workload specs), the log's "is Pending" lines (the scheduler's or the admission's reason
per pod), each workload spec against its kubectl.kubernetes.io/last-applied-configuration
annotation, the nodes (cordoned, maintenance annotations, labels), the namespace's quotas. Decides
which ONE constraint holds the workload: a changed field of the pod template that the reason
names (entity = the spec file), nodes cordoned by the incident (entity = the nodes directory), or
a ResourceQuota too low (entity = the quota file). Acts only through `targetctl` (list
arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.targetctl import read_json, safe, targetctl  # noqa: E402

CLASS_ID = "placement"
CONFIG = "etc/service.json"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# one log line may carry several workloads' reasons ("...; FailedScheduling pod/...; retrying in 5.0s")
PENDING = re.compile(r"(Failed\w+) pod/(\S+) \(spec ([^)]+)\) is Pending: (.*?)(?=; Failed\w+ pod/|; retrying in |$)")
SCHEDULED = re.compile(r"Scheduled: assigned pod/\S+ \(spec ([^)]+)\) to node")
# What part of the pod template a scheduler/admission reason points at.
REASON_FIELDS = (("node affinity/selector", "nodeSelector"), ("anti-affinity", "affinity"),
                 ("persistentvolumeclaim", "volumes"), ("PersistentVolumeClaims", "volumes"),
                 ("Insufficient", "containers"), ("Insufficient", "priorityClassName"),
                 ("No preemption victims", "priorityClassName"), ("PriorityClass", "priorityClassName"),
                 ("untolerated taint", "tolerations"))
KEEP_CORDONED = re.compile(r"maintenance|keep cordoned|decommission", re.I)


# Runs in the service root: every JSON object of the given cluster subdirectories, in one call.
DUMP = (
    "import glob, json, sys\n"
    "found = {}\n"
    "for sub in sys.argv[2:]:\n"
    "    for path in sorted(glob.glob('%s/%s/*.json' % (sys.argv[1], sub))):\n"
    "        try:\n"
    "            found[path] = json.load(open(path))\n"
    "        except (OSError, ValueError):\n"
    "            found[path] = None\n"
    "print(json.dumps(found))\n"
)


def cluster_objects(cluster: str, *subdirs: str) -> dict:
    """{rel path: object} of the cluster's nodes/quotas/... (one targetctl exec)."""
    shown = targetctl("exec", "python3", "-c", DUMP, cluster, *subdirs)
    try:
        found = json.loads(shown.stdout) if shown.returncode == 0 else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def last_applied(doc) -> dict:
    try:
        raw = ((doc.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED) or "{}"
        applied = json.loads(raw)
    except (ValueError, AttributeError, TypeError):
        return {}
    return applied if isinstance(applied, dict) else {}


def pending_reasons(log: str) -> dict:
    """spec file -> the latest reason it is Pending (none once a later line says it was placed)."""
    found = {}
    for line in log.splitlines():
        placed = SCHEDULED.search(line)
        if placed:
            found.pop(placed.group(1), None)
        for match in PENDING.finditer(line.strip()):
            found[match.group(3)] = {"event": match.group(1), "pod": match.group(2),
                                     "reason": match.group(4), "line": match.group(0)}
    return found


def cordoned_nodes(cluster: str) -> tuple:
    """(cordoned by someone for no recorded reason, cordoned on purpose) node files."""
    loose, kept = [], []
    for rel, node in sorted(cluster_objects(cluster, "nodes").items()):
        if not isinstance(node, dict) or not (node.get("spec") or {}).get("unschedulable"):
            continue
        notes = json.dumps((node.get("metadata") or {}).get("annotations") or {})
        (kept if KEEP_CORDONED.search(notes) else loose).append(rel)
    return loose, kept


def quota_file(cluster: str, name: str, namespace: str):
    for rel, doc in sorted(cluster_objects(cluster, "quotas").items()):
        meta = (doc or {}).get("metadata") or {}
        if meta.get("name") == name and meta.get("namespace", "default") == namespace:
            return rel, doc
    return None, None


def examine(cluster: str, spec_rel: str, pending: dict) -> dict:
    """Which constraint holds this workload: {"kind", "entity", "fields"|"nodes"|"quota", "facts"}."""
    reason = pending["reason"]
    doc = read_json(spec_rel) or {}
    namespace = (doc.get("metadata") or {}).get("namespace", "default")
    current = ((doc.get("template") or {}).get("spec") or {})
    applied = ((last_applied(doc).get("template") or {}).get("spec") or {})
    changed = sorted(k for k in set(current) | set(applied) if current.get(k) != applied.get(k)) if applied else []
    quota = re.search(r"exceeded quota: ([^,]+),", reason)
    if quota:
        rel, qdoc = quota_file(cluster, quota.group(1).strip(), namespace)
        if rel:
            return {"kind": "quota", "entity": rel, "quota": quota.group(1).strip(),
                    "facts": ["%s: spec.hard %s" % (rel, json.dumps((qdoc.get("spec") or {}).get("hard")))]}
    implicated = [field for needle, field in REASON_FIELDS if needle in reason and field in changed]
    if implicated:
        return {"kind": "spec", "entity": spec_rel, "fields": sorted(set(implicated)),
                "facts": ["%s: template.spec.%s is %s, last applied %s" % (
                    spec_rel, f, json.dumps(current.get(f)), json.dumps(applied.get(f))) for f in sorted(set(implicated))]}
    loose, kept = cordoned_nodes(cluster)
    if "were unschedulable" in reason and loose:
        return {"kind": "cordoned", "entity": "%s/nodes" % cluster, "nodes": loose, "left_cordoned": kept,
                "facts": ["%s: spec.unschedulable is true (no maintenance note)" % n for n in loose]}
    return {"kind": "unknown", "entity": None, "facts": ["changed template fields: %s" % changed]}


def diagnose() -> dict:
    health = targetctl("status")
    out = {"check": "workload-scheduling", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:]}
    config = read_json(CONFIG) or {}
    cluster, workloads = config.get("cluster_dir"), config.get("workloads") or []
    if not safe(cluster) or not isinstance(workloads, list):
        return {**out, "cluster_dir": None, "fault_present": False}
    reasons = pending_reasons(targetctl("logs", "-n", "300").stdout)
    findings = []
    for spec_rel in [w for w in workloads if safe(w)]:
        if spec_rel in reasons:
            found = examine(cluster, spec_rel, reasons[spec_rel])
            findings.append(dict(found, spec=spec_rel, pod=reasons[spec_rel]["pod"], line=reasons[spec_rel]["line"]))
    known = [f for f in findings if f["entity"]]
    present = health.returncode != 0 and bool(known)
    out.update({"cluster_dir": cluster, "workloads": workloads, "findings": findings, "fault_present": present})
    if present:
        first = known[0]
        evidence = [f["line"][-400:] for f in known] + [fact for f in known for fact in f["facts"]]
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": first["entity"], "evidence": evidence}
    return out


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
