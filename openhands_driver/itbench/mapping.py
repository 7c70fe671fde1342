"""The one table from ITBench fault ids to local fault classes, and how a whole incident maps."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openhands_driver.itbench.model import Injection, ItbenchIncident

LOCAL_FAULTS = ("stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config", "feature_flag",
                "chaos_schedule", "scaled_to_zero", "bad_release", "crash_loop", "bad_credential", "resource_limit",
                "dns_misconfig", "wrong_peer_address", "probe_misconfig", "service_routing",
                "ingress_policy", "placement")


@dataclass(frozen=True)
class FaultMapping:
    """How one ITBench fault type maps to a local fault class (None = no honest local analogue)."""
    local_fault: str | None
    reason: str
    standalone: bool = True  # False: only aggravates another injection, so it never blocks support alone


_NO_K8S = "needs the Kubernetes "
# The one ITBench fault -> local fault table. Ids 1-30 and 36 are the sample's catalog; 31-35 and 37-39 are in
# later upstream catalogs and are listed so newer checkouts import cleanly. Unknown ids -> unsupported.
FAULT_MAP: dict[str, FaultMapping] = {
    "cordoned-kubernetes-worker-node": FaultMapping("placement", "Worker nodes are cordoned, so a new pod stays Pending; locally the nodes of the workload's pool are cordoned in the local cluster and the scheduler keeps the pod Pending, fixed by uncordoning them (not the node under maintenance)."),
    "crashing-kubernetes-workload-init-container": FaultMapping("crash_loop", "An init step with a bad script crashes before the app starts; locally a crashing start command, fixed by repairing or reverting it."),
    "disabled-istio-ambient-mode-kubernetes-namespace": FaultMapping("ingress_policy", "The namespace lost its Istio ambient-mode label, so the mesh's gateway has no endpoint for its workloads; locally the gateway in front of the instance routes only to namespaces labelled istio.io/dataplane-mode=ambient, fixed by labelling that namespace again."),
    "failing-name-resolution-kubernetes-workload-dns-policy": FaultMapping("dns_misconfig", "A broken DNS policy stops the workload resolving its dependencies; locally a broken name-resolution setting."),
    "hanging-kubernetes-workload-init-container": FaultMapping("crash_loop", "An init step hangs so the app never starts; locally a hanging start command, fixed by repairing or reverting it."),
    "ingress-port-blocking-network-policy": FaultMapping("ingress_policy", "A NetworkPolicy selecting the workload blocks its ingress ports while the app and port are correct; locally the gateway in front of the instance enforces the same NetworkPolicy documents, fixed by allowing the workload's port (or deleting that policy)."),
    "insufficient-kubernetes-resource-quota": FaultMapping("placement", "A namespace ResourceQuota below what is used + requested makes admission refuse the pods; locally the local cluster's quota admission refuses the pod (FailedCreate, exceeded quota), fixed by raising or removing the quota."),
    "insufficient-kubernetes-workload-container-resources": FaultMapping("resource_limit", "Container CPU/memory limits set too low (OOMKilled / CrashLoopBackOff); locally a too-low limit, fixed by raising it."),
    "invalid-kubernetes-workload-container-command": FaultMapping("crash_loop", "Invalid container command -> CrashLoopBackOff; locally a bad entrypoint/start command."),
    "kubernetes-api-server-request-surge": FaultMapping(None, "Load on the Kubernetes control plane (API server); the local environment has no control plane."),
    "misconfigured-kubernetes-horizontal-pod-autoscaler": FaultMapping(None, _NO_K8S + "HorizontalPodAutoscaler; the local target runs one process with no autoscaler."),
    "misconfigured-kubernetes-workload-container-readiness-probe": FaultMapping("probe_misconfig", "The readiness probe is aimed at the wrong port or path while the app is healthy, so the pod never becomes Ready; locally the supervisor's readiness probe definition points at the wrong port/path, fixed by correcting the probe."),
    "modified-kubernetes-workload-container-environment-variable": FaultMapping("wrong_peer_address", "A named address variable (e.g. QUOTE_ADDR) is set to a wrong value, so calls to that peer fail; locally the same variable with the same wrong value in etc/service.env, fixed by restoring the registered address."),
    "modified-target-port-kubernetes-service": FaultMapping("service_routing", "The Service's targetPort is wrong while the app listens correctly; locally the route map in front of the instance targets the wrong port, fixed by restoring the route (not by moving the app)."),
    "nonexistent-kubernetes-workload-container-image": FaultMapping("bad_release", "The workload is pinned to an image that does not exist; locally a release that cannot run, fixed by rollback."),
    "nonexistent-kubernetes-workload-node": FaultMapping("placement", "The Deployment's nodeSelector names a node that does not exist, so its pods stay Pending; locally the same nodeSelector in the workload spec and the local scheduler keeps the pod Pending, fixed by restoring the selector."),
    "nonexistent-kubernetes-workload-persistent-volume-claim": FaultMapping("placement", "The pod template mounts a PersistentVolumeClaim that does not exist, so pods stay Pending; locally the workload spec names a missing claim and the local scheduler keeps the pod Pending, fixed by restoring the claim name."),
    "opentelemetry-demo-feature-flag": FaultMapping("feature_flag", "An otel-demo flagd feature flag turns on a failure mode; locally a feature flag that degrades requests, fixed by turning it off."),
    "priority-kubernetes-workload-priority-preemption": FaultMapping("placement", "The workload's priority was lowered and a higher-priority workload took its room, so it is preempted and cannot be rescheduled; locally the same priority classes and preemption rules in the local scheduler, fixed by restoring the workload's priorityClassName."),
    "scaled-to-zero-kubernetes-workload": FaultMapping("scaled_to_zero", "The workload is scaled to 0 replicas; locally the service is scaled to zero, fixed by scaling it back."),
    "scheduled-chaos-mesh-experiment": FaultMapping("chaos_schedule", "A recurring Chaos Mesh schedule degrades a workload until removed; locally a scheduled chaos experiment, fixed by removing the schedule (symptom varies by experiment type)."),
    "strict-mutual-tls-istio-service-mesh-enforcement": FaultMapping("ingress_policy", "A PeerAuthentication in mode STRICT refuses peers that present no client certificate; locally the gateway in front of the instance has none and the same policy refuses it, fixed by that policy's mode (PERMISSIVE) or removing it. Upstream's fix re-enrols the caller in the mesh instead: there is no caller workload locally to enrol."),
    "traffic-denying-istio-gateway-authorization-policy": FaultMapping("ingress_policy", "An Istio AuthorizationPolicy on the gateway has a DENY rule matching the requests (403); locally the gateway in front of the instance enforces the same policy, fixed by removing the rule (or the policy)."),
    "unassigned-kubernetes-workload-container-resource-limits": FaultMapping(None, "Removing resource limits causes no failure by itself (it only aggravates another fault); the local resource_limit fault is the opposite (a limit too low).", standalone=False),
    "unschedulable-kubernetes-workload-pod-anti-affinity-rule": FaultMapping("placement", "A required inter-pod anti-affinity rule no node satisfies makes the pods unschedulable; locally the same rule in the workload spec against the pods on every node, fixed by reverting the rule."),
    "unsupported-architecture-kubernetes-workload-container-image": FaultMapping("bad_release", "The workload is pinned to an image built for another CPU architecture; locally a release that cannot run, fixed by rollback."),
    "valkey-workload-changed-password": FaultMapping("bad_credential", "The Valkey password was changed so clients cannot authenticate; locally a changed credential, fixed by restoring it."),
    "valkey-workload-out-of-memory": FaultMapping("crash_loop", "An injected start-up change runs a memory hog, so the container is OOM-killed in a loop; the fix is reverting the start change (raising limits does not help), i.e. crash_loop, not resource_limit."),
    "invalid-kubernetes-service-selector": FaultMapping("service_routing", "The Service's label selector matches no pod, so it has no endpoints; locally the route map's selector matches no instance, fixed by restoring the route (not by relabelling the instance)."),
    "deleted-kubernetes-service": FaultMapping("service_routing", "The Service object was deleted; locally the service's entry in the route map is gone, fixed by re-creating it from the deployed manifest."),
    "aggressive-scaledown-kubernetes-horizontal-pod-autoscaler": FaultMapping(None, _NO_K8S + "HorizontalPodAutoscaler scale-down behaviour under load: it hurts only by removing replicas that carry traffic; the local target runs one instance (its autoscaler has bounds, no replicas to scale down), so a local behaviour block would change nothing real."),
    "exhausted-etcd-database-storage": FaultMapping(None, "etcd storage exhaustion in the Kubernetes control plane; the local environment has no etcd or API server."),
    "stalled-pipeline-controller": FaultMapping("scaled_to_zero", "A controller Deployment is scaled to 0 replicas; locally the service is scaled to zero, fixed by scaling it back."),
    "cluster-availability-loss": FaultMapping("placement", "All worker nodes are cordoned and the workload's pod evicted, so it cannot be placed anywhere; locally every worker of the local cluster is cordoned and the pod stays Pending, fixed by uncordoning them."),
    "breaking-configuration-change": FaultMapping("bad_env_config", "A breaking environment-variable change; locally a wrong value in etc/service.env."),
    "corrupted-kubernetes-secret-credentials": FaultMapping("bad_credential", "A Secret's credentials are corrupted; locally a corrupted credential, fixed by restoring it."),
    "node-resource-exhaustion": FaultMapping("placement", "Excessive resource requests injected into the workload exceed what any node can give, so its pod cannot be scheduled; locally the same requests against the local nodes' allocatable (Insufficient cpu/memory), fixed by reverting the requests."),
    "failed-release-pipeline-service": FaultMapping("bad_release", "A release is pinned to an invalid image tag; locally a release that cannot run, fixed by rollback."),
    "monitoring-probe-failure": FaultMapping(None, "A monitoring probe is scaled to zero so alerts go silent while the app stays healthy; the local verifier judges the target's own health, which is fine before any fix, so it could not tell a fix from no fix (and scaled_to_zero of the service would be a different incident)."),
}


# Per-incident details for the local injection (target_service/faults.py FaultContext.params), by ITBench
# fault id: which flag and state, which Chaos Mesh experiment, which way a release or start command is broken.
_CRASH_VARIANT = {"crashing-kubernetes-workload-init-container": "crash", "valkey-workload-out-of-memory": "crash",
                  "hanging-kubernetes-workload-init-container": "hang",
                  "invalid-kubernetes-workload-container-command": "invalid_command"}


_ROUTING_VARIANT = {"modified-target-port-kubernetes-service": "target_port",
                    "invalid-kubernetes-service-selector": "selector", "deleted-kubernetes-service": "deleted"}


def _policy_params(fault_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """ingress_policy's params from the injection's Kubernetes object (names, namespace, methods)."""
    meta = ((args.get("kubernetesObject") or {}).get("metadata") or {}) if isinstance(args.get("kubernetesObject"), dict) else {}
    name, ns = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    if fault_id == "disabled-istio-ambient-mode-kubernetes-namespace":  # the object is the Namespace
        return {"breakage": "mesh_membership", **({"namespace": name} if name else {})}
    out: dict[str, Any] = {"namespace": ns} if ns else {}
    if fault_id == "traffic-denying-istio-gateway-authorization-policy":
        methods = [str(m) for m in args.get("httpMethods") or [] if isinstance(m, str)]
        return {"breakage": "authorization_deny", **out, **({"gateway": name, "policy_name": name + "-deny"} if name else {}),
                **({"methods": methods} if methods else {})}
    if fault_id == "strict-mutual-tls-istio-service-mesh-enforcement":
        return {"breakage": "mtls_strict", **out, **({"policy_name": name} if name else {})}
    return {"breakage": "network_policy", "network_rule": "no_source", **out,
            **({"policy_name": name + "-ingress"} if name else {})}


_POLICY_FAULTS = ("ingress-port-blocking-network-policy", "traffic-denying-istio-gateway-authorization-policy",
                  "strict-mutual-tls-istio-service-mesh-enforcement", "disabled-istio-ambient-mode-kubernetes-namespace")


# The placement class's sub-mechanism per ITBench fault id (target_service/fault_placement.py VARIANTS).
_PLACEMENT_VARIANT = {"nonexistent-kubernetes-workload-node": "node_selector", "cordoned-kubernetes-worker-node": "cordoned",
                      "cluster-availability-loss": "cluster_loss",
                      "unschedulable-kubernetes-workload-pod-anti-affinity-rule": "anti_affinity",
                      "priority-kubernetes-workload-priority-preemption": "preemption",
                      "insufficient-kubernetes-resource-quota": "quota",
                      "nonexistent-kubernetes-workload-persistent-volume-claim": "volume_claim",
                      "node-resource-exhaustion": "capacity"}


def local_fault_params(inj: Injection) -> dict[str, Any]:
    """The params the local fault class takes for this ITBench injection ({} = the fault's defaults)."""
    args, fault_id = inj.args, inj.fault_id
    if isinstance(args.get("flag"), dict):
        return {"flag": str(args["flag"].get("name") or ""), "variant": str(args["flag"].get("state") or "on")}
    if isinstance(args.get("scheduleSpec"), dict):
        name = ((args.get("kubernetesObject") or {}).get("metadata") or {}).get("name")
        return {"name": str(name or "recurring-experiment"), "schedule_spec": args["scheduleSpec"]}
    env = (args.get("container") or {}).get("env") if isinstance(args.get("container"), dict) else None
    if fault_id == "modified-kubernetes-workload-container-environment-variable" and isinstance(env, dict):
        return {"variable": str(env.get("name") or ""), "value": str(env.get("value") or "")}
    if fault_id in _ROUTING_VARIANT:
        port = args.get("targetPort")
        return {"breakage": _ROUTING_VARIANT[fault_id],
                **({"target_port": port} if isinstance(port, int) and not isinstance(port, bool) else {})}
    if fault_id in _PLACEMENT_VARIANT:
        meta = ((args.get("kubernetesObject") or {}).get("metadata") or {}) if isinstance(args.get("kubernetesObject"), dict) else {}
        return {"variant": _PLACEMENT_VARIANT[fault_id],
                **{key: str(meta[field]) for key, field in (("workload", "name"), ("namespace", "namespace")) if meta.get(field)}}
    if fault_id in _CRASH_VARIANT:
        return {"variant": _CRASH_VARIANT[fault_id]}
    if fault_id in _POLICY_FAULTS:
        return _policy_params(fault_id, args)
    if fault_id == "unsupported-architecture-kubernetes-workload-container-image":
        return {"variant": "arch"}
    if map_fault(fault_id).local_fault == "bad_release":
        return {"variant": "missing"}
    return {}


def map_fault(fault_id: str) -> FaultMapping:
    """Mapping for one ITBench fault id; an unknown id is unsupported, never an exception."""
    return FAULT_MAP.get(fault_id) or FaultMapping(
        None, f"ITBench fault '{fault_id}' is not in the local mapping table (FAULT_MAP in openhands_driver/itbench/mapping.py); "
              "add an entry there if it has an honest local analogue.")


@dataclass(frozen=True)
class LocalMapping:
    """A whole incident mapped: the local fault (or None and why) and which injection is primary."""
    local_fault: str | None
    unsupported_reason: str | None
    primary: int | None
    per_injection: tuple[FaultMapping, ...]


def map_incident(incident: ItbenchIncident) -> LocalMapping:
    """Primary = first injection (index order) with a local analogue. Supported only if every standalone
    injection has one: a partial reproduction would be a different incident."""
    per = tuple(map_fault(inj.fault_id) for inj in incident.injections)
    if not per:
        return LocalMapping(None, "the scenario has no fault injections to reproduce", None, per)
    blocking = [i for i, m in enumerate(per) if m.local_fault is None and m.standalone]
    primary = next((i for i, m in enumerate(per) if m.local_fault), None)
    if primary is None or blocking:
        i = blocking[0] if blocking else 0
        prefix = f"injection {i + 1} of {len(per)} ({incident.injections[i].fault_id}) has no local analogue: " if len(per) > 1 else ""
        return LocalMapping(None, prefix + per[i].reason, None, per)
    return LocalMapping(per[primary].local_fault, None, primary, per)
