"""Fault class placement: the service's workload cannot be admitted or placed on a node of the
local cluster, so it stays Pending and the app is never started.

The platform schedules the service like Kubernetes does (scheduler.py): etc/service.json names a
cluster directory (`cluster_dir`: nodes, other workloads' pods, ResourceQuotas, claims and
volumes, priority classes) and the workload specs (`workloads`, PodTemplate files). The
supervisor starts the app only when every workload is admitted and placed; otherwise it logs the
scheduler's reason ("0/5 nodes are available: ...") and retries. Variants (`variant`):
    node_selector   the pod template's nodeSelector names a node that does not exist
    cordoned        every node of the workload's pool that was serving is cordoned
    cluster_loss    every worker node is cordoned (cluster availability loss)
    anti_affinity   a required pod anti-affinity rule that no node can satisfy
    preemption      the workload's priorityClassName was lowered and a higher-priority batch
                    workload took the room on its nodes (no preemption victims for ours)
    quota           the namespace's ResourceQuota is below what is used + requested (admission)
    volume_claim    the template mounts a PersistentVolumeClaim that does not exist
    capacity        the template requests more CPU/memory than any node has
The workload spec and the quota keep their previous configuration in the
kubectl.kubernetes.io/last-applied-configuration annotation. The fix: that one constraint back
(the spec field from the annotation, the quota raised or removed, the incident's nodes
uncordoned); the scheduler retries on its own. Restarting, relabelling nodes, raising node
capacity, deleting other workloads' pods, uncordoning the node under maintenance or removing the
control plane's taint do not count. Decoys: the node under maintenance (cordoned on purpose), the
control-plane node, another namespace's quota, the priority classes and the other pods.

Variants (by seed): cluster directory, workload spec file and name, namespace, node names, pool
label, the variant. ITBench params: {"variant": ..., "workload": <deployment name>, "namespace":
<namespace>} (+ "quota_name"); several injections of this class share one cluster.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_placement (the runner, the tests)
    from . import faults_core as core, scheduler
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import scheduler

VARIANTS = ("node_selector", "cordoned", "cluster_loss", "anti_affinity", "preemption", "quota",
            "volume_claim", "capacity")
SPEC_FIELD = {"node_selector": "nodeSelector", "anti_affinity": "affinity", "preemption": "priorityClassName",
              "volume_claim": "volumes", "capacity": "containers"}  # the pod template field each breaks
SPEC_VARIANTS = tuple(SPEC_FIELD)
CLUSTER_DIRS = ("etc/cluster", "var/lib/cluster", "etc/kube/cluster", "srv/cluster/{svc}")
WORKLOAD_FILES = ("etc/workloads/{workload}.json", "etc/k8s/{workload}.podtemplate.json",
                  "srv/{svc}/manifests/{workload}-pod.json", "etc/scheduling/{workload}.json")
WORKLOAD_NAMES = ("{svc}", "{svc}-api", "{svc}-server", "{svc}-web")
NAMESPACES = ("default", "shop", "prod", "apps")
NODE_PREFIXES = ("worker", "node", "ip-10-0-1", "k8s-worker", "pool-a")
CONTROL_NAMES = ("control-plane-1", "master-0", "cp-1")
POOL_KEYS = ("pool", "node.example.com/pool", "workload-tier")
OTHER_POOLS = ("batch", "gpu", "memory-optimized", "ingress")
GROUPS = ("shop", "storefront", "platform", "webstore")
OTHER_APPS = ("frontend", "redis-cart", "email", "currency", "quote", "fraud-detection")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAINTENANCE = "ops.example.com/maintenance"
CONTROL_TAINT = "node-role.kubernetes.io/control-plane"
REQUESTS = {"cpu": "250m", "memory": "256Mi"}
HEALTHY_QUOTA = "16Gi"
DEFAULTS = {"variant": "node_selector", "cluster_dir": CLUSTER_DIRS[0], "workload_file": WORKLOAD_FILES[0],
            "workload": "{svc}", "namespace": "default", "node_prefix": "worker", "control": "control-plane-1",
            "pool_key": "pool", "other_pool": "batch", "group": "shop", "quota_name": "memory"}


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@core.register_class
class Placement(core.FaultClass):
    name = "placement"
    keeps_app_down = True

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"variant": rng.choice(VARIANTS), "cluster_dir": rng.choice(CLUSTER_DIRS),
                "workload_file": rng.choice(WORKLOAD_FILES), "workload": rng.choice(WORKLOAD_NAMES),
                "namespace": rng.choice(NAMESPACES), "node_prefix": rng.choice(NODE_PREFIXES),
                "control": rng.choice(CONTROL_NAMES), "pool_key": rng.choice(POOL_KEYS),
                "other_pool": rng.choice(OTHER_POOLS), "group": rng.choice(GROUPS),
                "quota_name": rng.choice(("memory", "compute-resources", "mem-quota"))}

    # --- the incident's concrete objects (deterministic from params) --------------------

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        p = dict(DEFAULTS)
        p.update({k: v for k, v in params.items() if k in DEFAULTS and v not in (None, "")})
        if p["variant"] not in VARIANTS:
            raise ValueError("placement: unknown variant %r; valid: %s" % (p["variant"], ", ".join(VARIANTS)))
        svc = str(params.get("service") or "checkout")
        p["workload"] = str(p["workload"]).replace("{svc}", svc)
        p["cluster_dir"] = str(p["cluster_dir"]).replace("{svc}", svc).rstrip("/")
        p["workload_file"] = str(p["workload_file"]).replace("{svc}", svc).replace("{workload}", p["workload"])
        prefix = p["node_prefix"]
        p["workers"] = ["%s-%d" % (prefix, i) for i in (1, 2, 3)]
        p["maintenance"] = "%s-4" % prefix
        p["ghost"] = "%s-7" % prefix
        p["pool"] = "general"
        p["claim"] = "data-%s" % p["workload"]
        p["quota_file"] = "%s/quotas/%s.json" % (p["cluster_dir"], p["quota_name"])
        p["decoy_quota"] = "%s/quotas/batch-pods.json" % p["cluster_dir"]
        p["cordon"] = (p["workers"][:2] if p["variant"] == "cordoned" else
                       list(p["workers"]) if p["variant"] == "cluster_loss" else [])
        return p

    @staticmethod
    def node_file(p: Mapping[str, Any], node: str) -> str:
        return "%s/nodes/%s.json" % (p["cluster_dir"], node)

    @staticmethod
    def nodes(p: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
        """The healthy nodes: three workers (two in the workload's pool), one in the pool but
        cordoned for maintenance, one control-plane node (tainted)."""
        found = {}
        pools = [p["pool"], p["pool"], p["other_pool"]]
        for name, pool in zip(p["workers"], pools):
            found[name] = {"metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "node-role.kubernetes.io/worker": "", p["pool_key"]: pool}},
                "spec": {}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": 110}}}
        found[p["maintenance"]] = {"metadata": {"name": p["maintenance"], "labels": {
            "kubernetes.io/hostname": p["maintenance"], "node-role.kubernetes.io/worker": "", p["pool_key"]: p["pool"]},
            "annotations": {MAINTENANCE: "disk replacement in progress (ticket OPS-2291); keep cordoned "
                                         "until the ticket is closed"}},
            "spec": {"unschedulable": True}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": 110}}}
        found[p["control"]] = {"metadata": {"name": p["control"], "labels": {
            "kubernetes.io/hostname": p["control"], CONTROL_TAINT: ""}},
            "spec": {"taints": [{"key": CONTROL_TAINT, "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": 110}}}
        return found

    @staticmethod
    def pods(p: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
        """Other workloads' running pods, one per worker (two in the workload's namespace); in
        the preemption variant also a higher-priority batch pod filling each pool node."""
        found = {}
        for i, node in enumerate(p["workers"]):
            app = OTHER_APPS[(i + len(p["group"])) % len(OTHER_APPS)]
            name = scheduler.pod_name("%s-%d" % (app, i))
            found[name] = {"metadata": {"name": name, "namespace": p["namespace"] if i < 2 else "monitoring",
                                        "labels": {"app": app, "app.kubernetes.io/part-of": p["group"]}},
                           "spec": {"nodeName": node, "requests": {"cpu": "500m", "memory": "512Mi"}}}
        if p["variant"] == "preemption":
            for i, node in enumerate(p["workers"][:2]):
                name = scheduler.pod_name("nightly-reindex-%d" % i)
                found[name] = {"metadata": {"name": name, "namespace": "batch", "labels": {"app": "nightly-reindex"}},
                               "spec": {"nodeName": node, "priorityClassName": "batch-high",
                                        "requests": {"cpu": "3", "memory": "7680Mi"}}}
        return found

    @staticmethod
    def priority_classes() -> Dict[str, Any]:
        return {"items": [{"metadata": {"name": "default"}, "value": 0, "globalDefault": True},
                          {"metadata": {"name": "best-effort"}, "value": -10},
                          {"metadata": {"name": "batch-high"}, "value": 10000},
                          {"metadata": {"name": "service-critical"}, "value": 100000}]}

    @staticmethod
    def template(p: Mapping[str, Any]) -> Dict[str, Any]:
        """The healthy pod template of the workload."""
        return {"metadata": {"labels": {"app": p["workload"], "app.kubernetes.io/part-of": p["group"]}},
                "spec": {"nodeSelector": {p["pool_key"]: p["pool"]}, "priorityClassName": "service-critical",
                         "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                             {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": p["workload"]}},
                                                                 "topologyKey": "kubernetes.io/hostname"}}]}},
                         "containers": [{"name": p["workload"], "image": "registry.local/%s:v1.4.2" % p["workload"],
                                         "resources": {"requests": dict(REQUESTS)}}],
                         "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": p["claim"]}}]}}

    @staticmethod
    def quota(p: Mapping[str, Any], hard: str) -> Dict[str, Any]:
        applied = {"spec": {"hard": {"requests.memory": HEALTHY_QUOTA, "pods": 20}}}
        return {"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": p["quota_name"], "namespace": p["namespace"],
                             "annotations": {LAST_APPLIED: json.dumps(applied, sort_keys=True)}},
                "spec": {"hard": {"requests.memory": hard, "pods": 20}}}

    @staticmethod
    def decoy_quota(p: Mapping[str, Any]) -> Dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "batch-pods", "namespace": "batch"},
                "spec": {"hard": {"pods": 2, "requests.memory": "16Gi"}}}

    # --- inject ---------------------------------------------------------------------------

    def _write_cluster(self, root: Path, p: Mapping[str, Any]) -> None:
        base = root / p["cluster_dir"]
        for name, node in self.nodes(p).items():
            core.write_json(root / self.node_file(p, name), node)
        for name, pod in self.pods(p).items():
            core.write_json(base / "pods" / ("%s.json" % name), pod)
        core.write_json(base / "priorityclasses.json", self.priority_classes())
        core.write_json(root / p["quota_file"], self.quota(p, HEALTHY_QUOTA))
        core.write_json(root / p["decoy_quota"], self.decoy_quota(p))

    @staticmethod
    def _write_claim(root: Path, p: Mapping[str, Any]) -> None:
        """The workload's own data claim and the volume bound to it."""
        base = root / p["cluster_dir"]
        core.write_json(base / "volumes" / ("pv-%s.json" % p["claim"]), {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-%s" % p["claim"]},
            "spec": {"capacity": {"storage": "10Gi"}, "claimRef": {"name": p["claim"], "namespace": p["namespace"]}}})
        core.write_json(base / "claims" / ("%s.json" % p["claim"]), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": p["claim"], "namespace": p["namespace"]},
            "spec": {"volumeName": "pv-%s" % p["claim"], "resources": {"requests": {"storage": "10Gi"}}}})

    def inject(self, ctx: core.FaultContext) -> None:
        root = Path(ctx.root)
        config = core.read_service_json(root)
        params = dict(ctx.params)
        if config.get("cluster_dir"):  # another injection of this class made the cluster already
            params["cluster_dir"] = config["cluster_dir"]
        p = self._p(params)
        if not (root / p["cluster_dir"] / "nodes").is_dir():
            self._write_cluster(root, p)
        elif p["variant"] == "preemption":
            for name, pod in self.pods(p).items():
                core.write_json(root / p["cluster_dir"] / "pods" / ("%s.json" % name), pod)
        self._write_claim(root, p)
        good = self.template(p)
        template = json.loads(json.dumps(good))
        spec = template["spec"]
        variant = p["variant"]
        if variant == "node_selector":
            spec["nodeSelector"] = {"kubernetes.io/hostname": p["ghost"]}
        elif variant == "anti_affinity":
            spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = [
                {"labelSelector": {"matchLabels": {"app.kubernetes.io/part-of": p["group"]}},
                 "topologyKey": "kubernetes.io/hostname"}]
        elif variant == "preemption":
            spec["priorityClassName"] = "best-effort"
        elif variant == "volume_claim":
            spec["volumes"][0]["persistentVolumeClaim"]["claimName"] = "%s-v2" % p["claim"]
        elif variant == "capacity":
            spec["containers"][0]["resources"]["requests"] = {"cpu": "16", "memory": "12Gi"}
        elif variant == "quota":
            used = 512 * 2  # the two other pods of the namespace
            core.write_json(root / p["quota_file"], self.quota(p, "%dMi" % (used + 128)))
        for node in p["cordon"]:
            doc = core.read_json(root / self.node_file(p, node))
            doc.setdefault("spec", {})["unschedulable"] = True
            core.write_json(root / self.node_file(p, node), doc)
        core.write_json(root / p["workload_file"], {
            "apiVersion": "v1", "kind": "PodTemplate",
            "metadata": {"name": p["workload"], "namespace": p["namespace"], "labels": {"app": p["workload"]},
                         "annotations": {LAST_APPLIED: json.dumps({"template": good}, sort_keys=True)}},
            "template": template})
        workloads = [w for w in config.get("workloads") or [] if w != p["workload_file"]]
        config["cluster_dir"], config["workloads"] = p["cluster_dir"], workloads + [p["workload_file"]]
        core.write_service_json(root, config)

    # --- ground truth -----------------------------------------------------------------------

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "down"

    def entity(self, params: Mapping[str, Any]) -> str:
        p = self._p(params)
        if p["variant"] in SPEC_VARIANTS:
            return p["workload_file"]
        if p["variant"] == "quota":
            return p["quota_file"]
        return "%s/nodes" % p["cluster_dir"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        pods = sorted(self.pods(p))
        return [self.node_file(p, p["maintenance"]), self.node_file(p, p["control"]), p["decoy_quota"],
                "%s/priorityclasses.json" % p["cluster_dir"], "%s/pods/%s.json" % (p["cluster_dir"], pods[0])]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        if p["variant"] in SPEC_VARIANTS:
            return [p["workload_file"]]
        if p["variant"] == "quota":
            return [p["quota_file"]]
        return [self.node_file(p, node) for node in p["cordon"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        root = Path(root)
        p = self._p(params)
        config = _load(root / "etc/service.json") or {}
        named = config.get("cluster_dir") == p["cluster_dir"] and p["workload_file"] in (config.get("workloads") or [])
        placed = scheduler.place(root, p["cluster_dir"], p["workload_file"])
        doc = _load(root / p["workload_file"])
        template = doc.get("template") if isinstance(doc, dict) and isinstance(doc.get("template"), dict) else {}
        spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
        good = self.template(p)["spec"]
        checks = [
            core.Check("the platform still schedules the workload from its spec", named,
                       "cluster_dir %r, workloads %r" % (config.get("cluster_dir"), config.get("workloads"))),
            # quota: admitted once the quota was raised or removed (ITBench accepts both)
            core.Check("the workload is admitted and placed on a node", placed["node"] is not None,
                       placed["reason"] or "placed on %s" % placed["node"]),
        ]
        variant = p["variant"]
        if variant == "node_selector":
            checks.append(core.Check("the nodeSelector is the workload's own pool again",
                                     spec.get("nodeSelector") == good["nodeSelector"], "%r" % (spec.get("nodeSelector"),)))
        elif variant == "anti_affinity":
            anti = (spec.get("affinity") or {}).get("podAntiAffinity") or {}
            checks.append(core.Check("no required anti-affinity rule blocks the workload",
                                     not anti.get("requiredDuringSchedulingIgnoredDuringExecution"), "%r" % (anti,)))
        elif variant == "preemption":
            checks.append(core.Check("the workload's priority class is the critical one again",
                                     spec.get("priorityClassName") == good["priorityClassName"],
                                     "priorityClassName %r" % (spec.get("priorityClassName"),)))
        elif variant == "volume_claim":
            claim = [v.get("persistentVolumeClaim", {}).get("claimName") for v in spec.get("volumes") or []
                     if isinstance(v, dict)]
            checks.append(core.Check("the workload mounts its own data claim", claim == [p["claim"]], "%r" % (claim,)))
        elif variant == "capacity":
            requests = [(c.get("resources") or {}).get("requests") for c in spec.get("containers") or [] if isinstance(c, dict)]
            checks.append(core.Check("the resource requests are the workload's usual ones",
                                     requests == [REQUESTS], "%r" % (requests,)))
        if variant in SPEC_VARIANTS:
            field = SPEC_FIELD[variant]
            rest = {k: v for k, v in spec.items() if k != field}
            checks.append(core.Check("the rest of the pod template is unchanged",
                                     rest == {k: v for k, v in good.items() if k != field}, "%r" % (sorted(rest),)))
        expected = self.nodes(p)
        for node in p["cordon"]:
            expected[node]["spec"]["unschedulable"] = False
        for name, want in expected.items():
            got = _load(root / self.node_file(p, name))
            got = got if isinstance(got, dict) else {}
            cordoned = bool((got.get("spec") or {}).get("unschedulable"))
            same = (got.get("metadata") == want["metadata"] and got.get("status") == want["status"]
                    and (got.get("spec") or {}).get("taints") == want["spec"].get("taints")
                    and cordoned == bool(want["spec"].get("unschedulable")))
            checks.append(core.Check("node %s: labels, capacity, taints and cordon as they should be" % name, same,
                                     "unschedulable=%s" % cordoned))
        missing = [n for n in self.pods(p) if not (root / p["cluster_dir"] / "pods" / ("%s.json" % n)).is_file()]
        checks.append(core.Check("the other workloads' pods are untouched", not missing, "missing: %r" % (missing,)))
        checks.append(core.Check("the batch namespace's quota is unchanged",
                                 _load(root / p["decoy_quota"]) == self.decoy_quota(p), p["decoy_quota"]))
        return checks
