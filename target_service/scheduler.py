"""The local platform's scheduling and admission layer (the kube-scheduler's and the API server's
admission role for the service's workloads), read by the supervisor before it starts the app.

When etc/service.json names a cluster (`cluster_dir`) and the service's workload specs
(`workloads`: a list of root-relative files), every workload must be admitted and placed on a node
before the app is started; otherwise it stays Pending and the supervisor logs why, the way a
scheduler does ("0/4 nodes are available: 1 node(s) were unschedulable, 3 node(s) didn't match
Pod's node affinity/selector"). No `cluster_dir`: nothing is scheduled (a plain host).

The cluster directory holds one JSON object per file, Kubernetes style:
    nodes/<node>.json       {"metadata": {"name", "labels", "annotations"},
                             "spec": {"unschedulable": bool, "taints": [{"key", "value", "effect"}]},
                             "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}
    pods/<pod>.json         other workloads' running pods: {"metadata": {"name", "namespace",
                             "labels"}, "spec": {"nodeName", "priorityClassName", "requests"}}
    quotas/<name>.json      ResourceQuota: {"metadata": {"name", "namespace"},
                             "spec": {"hard": {"requests.cpu", "requests.memory", "pods"}}}
    claims/<name>.json      PersistentVolumeClaim: {"metadata": {"name", "namespace"},
                             "spec": {"volumeName"}}; volumes/<pv>.json PersistentVolume
    priorityclasses.json    {"items": [{"metadata": {"name"}, "value": N, "globalDefault": bool}]}
A workload spec (PodTemplate) is {"metadata": {"name", "namespace", "labels"}, "template":
{"spec": {"nodeSelector", "affinity": {"podAntiAffinity": {"requiredDuringScheduling
IgnoredDuringExecution": [{"labelSelector": {"matchLabels"}, "topologyKey"}]}},
"priorityClassName", "containers": [{"resources": {"requests"}}], "volumes": [{"name",
"persistentVolumeClaim": {"claimName"}}]}}}. Usage (used quota, node load) is computed from the
pods, never stored. Stdlib only, Python >= 3.9.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

SERVICE_JSON = "etc/service.json"
UNTOLERATED = ("NoSchedule", "NoExecute")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _safe(rel: Any) -> bool:
    return isinstance(rel, str) and bool(rel.strip()) and not rel.startswith("/") and ".." not in rel.split("/")


def locations(root: Path) -> Tuple[Optional[str], List[str]]:
    """(cluster_dir, workload spec files) from etc/service.json; (None, []) when not scheduled."""
    config = _load(Path(root) / SERVICE_JSON)
    config = config if isinstance(config, dict) else {}
    cluster = config.get("cluster_dir")
    workloads = config.get("workloads")
    if not _safe(cluster):
        return None, []
    return cluster, [w for w in workloads if _safe(w)] if isinstance(workloads, list) else []


def _objects(root: Path, cluster: str, kind: str) -> List[Dict[str, Any]]:
    folder = Path(root) / cluster / kind
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = _load(path)
        if isinstance(data, dict):
            found.append(data)
    return found


def _meta(obj: Any, key: str, default: Any = None) -> Any:
    meta = obj.get("metadata") if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else {}
    return meta.get(key, default)


def _spec(obj: Any) -> Dict[str, Any]:
    return obj["spec"] if isinstance(obj, dict) and isinstance(obj.get("spec"), dict) else {}


def cpu_millis(value: Any) -> Optional[int]:
    """A CPU quantity (4, "4", "500m", "0.5") in millicores."""
    if isinstance(value, bool):
        return None
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)(m?)\s*$", str(value))
    if not match:
        return None
    number = float(match.group(1))
    return int(round(number if match.group(2) else number * 1000))


def memory_mib(value: Any) -> Optional[float]:
    """A memory quantity (256Mi, 8Gi, 300M, bytes) in MiB."""
    if isinstance(value, bool):
        return None
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$", str(value))
    if not match:
        return None
    scale = {None: 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "k": 1000,
             "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4}[match.group(2)]
    return float(match.group(1)) * scale / (1024 * 1024)


def _requests(spec: Dict[str, Any]) -> Dict[str, float]:
    """cpu (millicores) and memory (MiB) requested by a pod spec (containers' requests, or a flat
    `requests`)."""
    total = {"cpu": 0.0, "memory": 0.0}
    blocks = [spec.get("requests")] + [((c.get("resources") or {}).get("requests"))
                                       for c in spec.get("containers") or [] if isinstance(c, dict)]
    for block in blocks:
        if isinstance(block, dict):
            total["cpu"] += cpu_millis(block.get("cpu", 0)) or 0
            total["memory"] += memory_mib(block.get("memory", 0)) or 0
    return total


def pod_name(workload: str) -> str:
    digest = hashlib.sha256(workload.encode("utf-8")).hexdigest()
    return "%s-%s-%s" % (workload, digest[:9], digest[9:14])


def _priorities(root: Path, cluster: str) -> Tuple[Dict[str, int], int]:
    """({priority class name: value}, the value of a pod that names none: the global default)."""
    data = _load(Path(root) / cluster / "priorityclasses.json")
    items = [i for i in (data.get("items") if isinstance(data, dict) else None) or []
             if isinstance(i, dict) and isinstance(i.get("value", 0), int)]
    classes = {str(_meta(i, "name")): int(i.get("value", 0)) for i in items}
    default = max([int(i.get("value", 0)) for i in items if i.get("globalDefault") is True] or [0])
    return classes, default


def _fmt_mem(mib: float) -> str:
    return "%dGi" % (mib // 1024) if mib >= 1024 and mib % 1024 == 0 else "%dMi" % round(mib)


def _admission(root: Path, cluster: str, namespace: str, name: str, wanted: Dict[str, float],
               pods: List[Dict[str, Any]]) -> Optional[str]:
    """The first ResourceQuota of the namespace the pod would exceed (the API server refuses it)."""
    mine = [p for p in pods if _meta(p, "namespace", "default") == namespace]
    for quota in _objects(root, cluster, "quotas"):
        if _meta(quota, "namespace", "default") != namespace:
            continue
        hard = _spec(quota).get("hard") if isinstance(_spec(quota).get("hard"), dict) else {}
        for key, value in sorted(hard.items()):
            if key in ("requests.memory", "memory"):
                used = sum(_requests(_spec(p))["memory"] for p in mine)
                limit, need, fmt = memory_mib(value), wanted["memory"], _fmt_mem
            elif key in ("requests.cpu", "cpu"):
                used = sum(_requests(_spec(p))["cpu"] for p in mine)
                limit, need, fmt = cpu_millis(value), wanted["cpu"], lambda v: "%dm" % v
            elif key == "pods":
                used, limit, need, fmt = len(mine), value if isinstance(value, int) else None, 1, str
            else:
                continue
            if limit is not None and used + need > limit:
                return ('Error creating: pods "%s" is forbidden: exceeded quota: %s, requested: %s=%s, '
                        'used: %s=%s, limited: %s=%s' % (name, _meta(quota, "name"), key, fmt(need), key,
                                                        fmt(used), key, fmt(limit)))
    return None


def _claims(root: Path, cluster: str, namespace: str, spec: Dict[str, Any]) -> Optional[str]:
    claims = {(_meta(c, "namespace", "default"), _meta(c, "name")): c for c in _objects(root, cluster, "claims")}
    volumes = {_meta(v, "name") for v in _objects(root, cluster, "volumes")}
    for volume in spec.get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName") if isinstance(volume, dict) else None
        if claim is None:
            continue
        found = claims.get((namespace, claim))
        if found is None:
            return 'persistentvolumeclaim "%s" not found' % claim
        if _spec(found).get("volumeName") not in volumes:
            return 'pod has unbound immediate PersistentVolumeClaims (claim "%s": volume %r not found)' % (
                claim, _spec(found).get("volumeName"))
    return None


def _matches(selector: Any, labels: Any) -> bool:
    match = selector.get("matchLabels") if isinstance(selector, dict) else None
    labels = labels if isinstance(labels, dict) else {}
    return isinstance(match, dict) and bool(match) and all(labels.get(k) == v for k, v in match.items())


def _node_reason(node: Dict[str, Any], nodes: List[Dict[str, Any]], pods: List[Dict[str, Any]],
                 spec: Dict[str, Any], wanted: Dict[str, float], priority: int) -> Tuple[Optional[str], List[str]]:
    """Why the pod cannot go on this node (None: it fits), and the pods it would preempt."""
    name, labels = _meta(node, "name"), _meta(node, "labels") or {}
    if _spec(node).get("unschedulable") is True:
        return "node(s) were unschedulable", []
    tolerations = spec.get("tolerations") or []
    for taint in _spec(node).get("taints") or []:
        if isinstance(taint, dict) and taint.get("effect") in UNTOLERATED and not any(
                isinstance(t, dict) and t.get("key") == taint.get("key") for t in tolerations):
            return "node(s) had untolerated taint {%s: %s}" % (taint.get("key"), taint.get("value") or ""), []
    selector = spec.get("nodeSelector") or {}
    if not isinstance(selector, dict) or any(labels.get(k) != v for k, v in selector.items()):
        return "node(s) didn't match Pod's node affinity/selector", []
    rules = (((spec.get("affinity") or {}).get("podAntiAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    for rule in rules if isinstance(rules, list) else []:
        key = rule.get("topologyKey") if isinstance(rule, dict) else None
        domain = labels.get(key) if key else None
        same = {_meta(n, "name") for n in nodes if domain is not None and (_meta(n, "labels") or {}).get(key) == domain}
        if any(_spec(p).get("nodeName") in same and _matches(rule.get("labelSelector"), _meta(p, "labels"))
               for p in pods):
            return "node(s) didn't match pod anti-affinity rules", []
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    on_node = [p for p in pods if _spec(p).get("nodeName") == name]
    capacity = {"cpu": cpu_millis(allocatable.get("cpu", 0)) or 0, "memory": memory_mib(allocatable.get("memory", 0)) or 0}
    short = [r for r in ("cpu", "memory") if wanted[r] > capacity[r] - sum(_requests(_spec(p))[r] for p in on_node)]
    if not short:
        return None, []
    def fits(staying: List[Dict[str, Any]]) -> bool:
        return all(wanted[r] <= capacity[r] - sum(_requests(_spec(p))[r] for p in staying) for r in ("cpu", "memory"))

    keep = [p for p in on_node if p.get("_priority", 0) >= priority]
    if fits(keep):  # preemption: evict lower-priority pods, reprieving the highest-priority first
        for pod in sorted((p for p in on_node if p not in keep), key=lambda p: -p.get("_priority", 0)):
            if fits(keep + [pod]):
                keep.append(pod)
        return None, [str(_meta(p, "name")) for p in on_node if p not in keep]
    return ", ".join("Insufficient %s" % r for r in short), []


def place(root: Path, cluster: str, rel: str) -> Dict[str, Any]:
    """Try to admit and place one workload: {"pod", "node" (None: Pending), "reason", "victims"}."""
    root = Path(root)
    doc = _load(root / rel)
    if not isinstance(doc, dict):
        return {"pod": rel, "node": None, "reason": "workload spec %s is missing or not valid JSON" % rel, "victims": []}
    name = str(_meta(doc, "name") or Path(rel).stem)
    namespace = str(_meta(doc, "namespace") or "default")
    pod = pod_name(name)
    template = doc.get("template") if isinstance(doc.get("template"), dict) else {}
    spec = _spec(template)
    classes, default = _priorities(root, cluster)
    wanted = _requests(spec)
    class_name = spec.get("priorityClassName")
    if class_name is not None and class_name not in classes:
        return {"pod": pod, "node": None, "victims": [],
                "reason": 'Error creating: pods "%s" is forbidden: no PriorityClass with name %s was found'
                          % (pod, class_name)}
    priority = classes.get(class_name, default) if class_name else default
    pods = _objects(root, cluster, "pods")
    for other in pods:
        other_class = _spec(other).get("priorityClassName")
        other["_priority"] = classes.get(other_class, default) if other_class else default
    refused = _admission(root, cluster, namespace, pod, wanted, pods)
    if refused:
        return {"pod": pod, "node": None, "reason": refused, "victims": []}
    nodes = _objects(root, cluster, "nodes")
    unbound = _claims(root, cluster, namespace, spec)
    if unbound:
        return {"pod": pod, "node": None, "victims": [],
                "reason": "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %d Preemption "
                          "is not helpful for scheduling." % (len(nodes), unbound, len(nodes), len(nodes))}
    counts: Dict[str, int] = {}
    for node in nodes:
        why, victims = _node_reason(node, nodes, pods, spec, wanted, priority)
        if why is None:
            return {"pod": pod, "node": _meta(node, "name"), "reason": None, "victims": victims}
        for part in why.split(", "):
            counts[part] = counts.get(part, 0) + 1
    detail = ", ".join("%d %s" % (n, why) for why, n in sorted(counts.items()))
    reason = "0/%d nodes are available: %s." % (len(nodes), detail or "no nodes registered")
    if any(w.startswith("Insufficient") for w in counts):
        reason += (" preemption: 0/%d nodes are available: %d No preemption victims found for incoming pod "
                   "(pod priority %d)." % (len(nodes), len(nodes), priority))
    return {"pod": pod, "node": None, "reason": reason, "victims": []}


def pending(root: Path) -> List[str]:
    """One message per workload that is not admitted or not placed ([] when all are placed, or
    when nothing is scheduled)."""
    cluster, workloads = locations(root)
    if cluster is None:
        return []
    found = []
    for rel in workloads:
        result = place(root, cluster, rel)
        if result["node"] is None:
            kind = "FailedCreate" if result["reason"].startswith("Error creating") else "FailedScheduling"
            found.append("%s pod/%s (spec %s) is Pending: %s" % (kind, result["pod"], rel, result["reason"].rstrip(".")))
    return found


def placements(root: Path) -> List[Dict[str, Any]]:
    """Every workload's outcome (for the log line of a successful start)."""
    cluster, workloads = locations(root)
    return [dict(place(root, cluster, rel), spec=rel) for rel in workloads] if cluster else []
