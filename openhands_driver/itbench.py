"""Import ITBench SRE scenarios (itbench-hub/ITBench, Apache-2.0) as local incidents.

Reads an upstream-layout checkout under ``<root>/<subdir>`` (default ``scenarios/sre``): the scenario index
``library/indexes/scenarios/<id>.json``, the fault catalog ``library/indexes/faults/*.json`` and ground truth
``project/roles/scenarios/files/scenario_<id>/groundtruth.yaml`` (v2). Index + v2 are authoritative. Every SRE
scenario becomes one record of the ``training_data/scenarios.json`` schema (extended); ``FAULT_MAP`` is the one
table from ITBench fault ids to local fault classes. Stdlib + PyYAML only: never import the OpenHands SDK here.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import yaml

SCHEMA_VERSION = 2
DEFAULT_SUBDIR = "scenarios/sre"
LOCAL_FAULTS = ("stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config", "feature_flag",
                "chaos_schedule", "scaled_to_zero", "bad_release", "crash_loop", "bad_credential", "resource_limit",
                "dns_misconfig")


class ItbenchImportError(Exception):
    """A user-fixable problem with the ITBench source; the message says what failed and what to do."""


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
    "cordoned-kubernetes-worker-node": FaultMapping(None, _NO_K8S + "scheduler: a cordoned node leaves new pods Pending; the local target has no nodes or scheduling."),
    "crashing-kubernetes-workload-init-container": FaultMapping("crash_loop", "An init step with a bad script crashes before the app starts; locally a crashing start command, fixed by repairing or reverting it."),
    "disabled-istio-ambient-mode-kubernetes-namespace": FaultMapping(None, "Istio ambient-mesh membership of a namespace; there is no service mesh in the local environment."),
    "failing-name-resolution-kubernetes-workload-dns-policy": FaultMapping("dns_misconfig", "A broken DNS policy stops the workload resolving its dependencies; locally a broken name-resolution setting."),
    "hanging-kubernetes-workload-init-container": FaultMapping("crash_loop", "An init step hangs so the app never starts; locally a hanging start command, fixed by repairing or reverting it."),
    "ingress-port-blocking-network-policy": FaultMapping(None, _NO_K8S + "NetworkPolicy between pods; the port and app are correct, and there is no pod network to police locally."),
    "insufficient-kubernetes-resource-quota": FaultMapping(None, _NO_K8S + "API server's ResourceQuota admission (pods refused, Pending); the local resource_limit fault is an OOM/throttle of a running process, not an admission refusal."),
    "insufficient-kubernetes-workload-container-resources": FaultMapping("resource_limit", "Container CPU/memory limits set too low (OOMKilled / CrashLoopBackOff); locally a too-low limit, fixed by raising it."),
    "invalid-kubernetes-workload-container-command": FaultMapping("crash_loop", "Invalid container command -> CrashLoopBackOff; locally a bad entrypoint/start command."),
    "kubernetes-api-server-request-surge": FaultMapping(None, "Load on the Kubernetes control plane (API server); the local environment has no control plane."),
    "misconfigured-kubernetes-horizontal-pod-autoscaler": FaultMapping(None, _NO_K8S + "HorizontalPodAutoscaler; the local target runs one process with no autoscaler."),
    "misconfigured-kubernetes-workload-container-readiness-probe": FaultMapping("readiness_probe_fail", "A misconfigured readiness probe keeps the pod NotReady; locally the readiness check fails until fixed."),
    "modified-kubernetes-workload-container-environment-variable": FaultMapping("bad_env_config", "An environment variable is overwritten with a wrong value; locally a wrong value in etc/service.env."),
    "modified-target-port-kubernetes-service": FaultMapping("port_mismatch", "The Service targets the wrong port; locally the listen port disagrees with the expected port."),
    "nonexistent-kubernetes-workload-container-image": FaultMapping("bad_release", "The workload is pinned to an image that does not exist; locally a release that cannot run, fixed by rollback."),
    "nonexistent-kubernetes-workload-node": FaultMapping(None, _NO_K8S + "scheduler: a nodeSelector for a node that does not exist leaves pods Pending."),
    "nonexistent-kubernetes-workload-persistent-volume-claim": FaultMapping(None, _NO_K8S + "volume binding: a PersistentVolumeClaim that cannot bind leaves pods Pending."),
    "opentelemetry-demo-feature-flag": FaultMapping("feature_flag", "An otel-demo flagd feature flag turns on a failure mode; locally a feature flag that degrades requests, fixed by turning it off."),
    "priority-kubernetes-workload-priority-preemption": FaultMapping(None, _NO_K8S + "scheduler's priority preemption (evicted by a higher-priority workload)."),
    "scaled-to-zero-kubernetes-workload": FaultMapping("scaled_to_zero", "The workload is scaled to 0 replicas; locally the service is scaled to zero, fixed by scaling it back."),
    "scheduled-chaos-mesh-experiment": FaultMapping("chaos_schedule", "A recurring Chaos Mesh schedule degrades a workload until removed; locally a scheduled chaos experiment, fixed by removing the schedule (symptom varies by experiment type)."),
    "strict-mutual-tls-istio-service-mesh-enforcement": FaultMapping(None, "Istio strict mTLS between pods in a service mesh; there is no mesh or peer pods locally."),
    "traffic-denying-istio-gateway-authorization-policy": FaultMapping(None, "An Istio gateway AuthorizationPolicy denies requests; there is no gateway or mesh policy layer locally."),
    "unassigned-kubernetes-workload-container-resource-limits": FaultMapping(None, "Removing resource limits causes no failure by itself (it only aggravates another fault); the local resource_limit fault is the opposite (a limit too low).", standalone=False),
    "unschedulable-kubernetes-workload-pod-anti-affinity-rule": FaultMapping(None, _NO_K8S + "scheduler: an inter-pod anti-affinity rule makes pods unschedulable."),
    "unsupported-architecture-kubernetes-workload-container-image": FaultMapping("bad_release", "The workload is pinned to an image built for another CPU architecture; locally a release that cannot run, fixed by rollback."),
    "valkey-workload-changed-password": FaultMapping("bad_credential", "The Valkey password was changed so clients cannot authenticate; locally a changed credential, fixed by restoring it."),
    "valkey-workload-out-of-memory": FaultMapping("crash_loop", "An injected start-up change runs a memory hog, so the container is OOM-killed in a loop; the fix is reverting the start change (raising limits does not help), i.e. crash_loop, not resource_limit."),
    "invalid-kubernetes-service-selector": FaultMapping(None, _NO_K8S + "Service label selector / endpoints; the local target has no service-discovery layer between clients and the process."),
    "deleted-kubernetes-service": FaultMapping(None, _NO_K8S + "Service object (deleted); the local target has no service-discovery layer to recreate."),
    "aggressive-scaledown-kubernetes-horizontal-pod-autoscaler": FaultMapping(None, _NO_K8S + "HorizontalPodAutoscaler scale-down behaviour; no autoscaler locally."),
    "exhausted-etcd-database-storage": FaultMapping(None, "etcd storage exhaustion in the Kubernetes control plane; the local environment has no etcd or API server."),
    "stalled-pipeline-controller": FaultMapping("scaled_to_zero", "A controller Deployment is scaled to 0 replicas; locally the service is scaled to zero, fixed by scaling it back."),
    "cluster-availability-loss": FaultMapping(None, _NO_K8S + "nodes: all workers cordoned and pods evicted; the local target has no nodes."),
    "breaking-configuration-change": FaultMapping("bad_env_config", "A breaking environment-variable change; locally a wrong value in etc/service.env."),
    "corrupted-kubernetes-secret-credentials": FaultMapping("bad_credential", "A Secret's credentials are corrupted; locally a corrupted credential, fixed by restoring it."),
    "node-resource-exhaustion": FaultMapping(None, _NO_K8S + "scheduler and node-pressure eviction: excessive requests starve other pods on the node."),
    "failed-release-pipeline-service": FaultMapping("bad_release", "A release is pinned to an invalid image tag; locally a release that cannot run, fixed by rollback."),
    "monitoring-probe-failure": FaultMapping(None, "A monitoring probe is scaled to zero so alerts go silent while the app stays healthy; the local verifier measures the target's own health, so scaled_to_zero would be a different incident."),
}


# Per-incident details for the local injection (target_service/faults.py FaultContext.params), by ITBench
# fault id: which flag and state, which Chaos Mesh experiment, which way a release or start command is broken.
_CRASH_VARIANT = {"crashing-kubernetes-workload-init-container": "crash", "valkey-workload-out-of-memory": "crash",
                  "hanging-kubernetes-workload-init-container": "hang",
                  "invalid-kubernetes-workload-container-command": "invalid_command"}


def local_fault_params(inj: Injection) -> dict[str, Any]:
    """The params the local fault class takes for this ITBench injection ({} = the fault's defaults)."""
    args, fault_id = inj.args, inj.fault_id
    if isinstance(args.get("flag"), dict):
        return {"flag": str(args["flag"].get("name") or ""), "variant": str(args["flag"].get("state") or "on")}
    if isinstance(args.get("scheduleSpec"), dict):
        name = ((args.get("kubernetesObject") or {}).get("metadata") or {}).get("name")
        return {"name": str(name or "chaos-schedule"), "schedule_spec": args["scheduleSpec"]}
    if fault_id in _CRASH_VARIANT:
        return {"variant": _CRASH_VARIANT[fault_id]}
    if fault_id == "unsupported-architecture-kubernetes-workload-container-image":
        return {"variant": "arch"}
    if map_fault(fault_id).local_fault == "bad_release":
        return {"variant": "missing"}
    return {}


def map_fault(fault_id: str) -> FaultMapping:
    """Mapping for one ITBench fault id; an unknown id is unsupported, never an exception."""
    return FAULT_MAP.get(fault_id) or FaultMapping(
        None, f"ITBench fault '{fault_id}' is not in the local mapping table (FAULT_MAP in openhands_driver/itbench.py); "
              "add an entry there if it has an honest local analogue.")


@dataclass(frozen=True)
class Alert:
    name: str
    labels: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Injection:
    fault_id: str
    args: dict[str, Any]
    disruption: int  # index of the disruption holding this injection


@dataclass(frozen=True)
class Entity:
    kind: str
    name: str
    namespace: str | None
    api_version: str | None


@dataclass
class ItbenchIncident:
    """One ITBench scenario as read from its index JSON plus groundtruth v2."""
    source_id: int
    category: str  # "sre" or "finops" upstream
    name: str  # derived: the index has no name field
    slug: str
    description: str
    complexity: str | None
    tags: list[str]
    applications: list[str]
    alerts: list[Alert]
    injections: list[Injection]
    entities: list[Entity]  # from groundtruth v2; empty when it is missing
    solutions: list[Any]
    has_groundtruth: bool
    has_groundtruth_v1: bool
    quirks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LocalMapping:
    """A whole incident mapped: the local fault (or None and why) and which injection is primary."""
    local_fault: str | None
    unsupported_reason: str | None
    primary: int | None
    per_injection: tuple[FaultMapping, ...]


@dataclass
class ImportResult:
    location: str  # checkout path or git URL, as imported
    is_url: bool
    subdir: str
    commit: str | None
    commit_origin: str | None  # "git", "README.md note" or None
    incidents: list[ItbenchIncident]  # SRE only, sorted by source id
    finops_excluded: list[int]
    other_excluded: list[int]


@dataclass(frozen=True)
class ImportConfig:
    source: str  # checkout path or git URL (https://, ssh, file://)
    subdir: str = DEFAULT_SUBDIR
    output: Path | None = None  # where to write the catalog; None = do not write


# ------------------------------------------------------------------------------------------------- reading
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ItbenchImportError(f"cannot parse ITBench index file {path}: {exc}. "
                                 "Fix or remove the file (or re-fetch the checkout) and re-run the import.") from None


def _need(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise ItbenchImportError(f"malformed ITBench file {path}: {what}. Fix the file or re-fetch the checkout.")


def load_fault_names(sre_root: Path) -> dict[str, str]:
    """Fault id -> catalog name, from library/indexes/faults/*.json (empty if the catalog is absent)."""
    names: dict[str, str] = {}
    for path in sorted((sre_root / "library/indexes/faults").glob("*.json")):
        data = _read_json(path)
        _need(isinstance(data, dict) and isinstance(data.get("id"), str), path, "expected an object with a string 'id'")
        names[data["id"]] = str(data.get("name") or data["id"])
    return names


def _load_groundtruth(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ItbenchImportError(f"cannot parse ITBench ground truth {path}: {exc}. Fix it or re-fetch the checkout.") from None
    _need(isinstance(data, dict) and isinstance(data.get("spec"), dict), path, "expected a mapping with a 'spec' mapping")
    return data["spec"]


def _render_solutions(solutions: Any, args: dict[str, Any]) -> Any:
    """Render the index's `{{ args.a.b | lower }}` solution templates; unknown paths stay as written."""
    def sub(m: re.Match[str]) -> str:
        value: Any = args
        for key in m.group(1).split("."):
            if not isinstance(value, dict) or key not in value:
                return m.group(0)
            value = value[key]
        return json.dumps(str(value).lower() if m.group(2) else str(value))[1:-1]
    return json.loads(re.sub(r"\{\{\s*args\.([\w.]+)\s*(\|\s*lower\s*)?\}\}", sub, json.dumps(solutions)))


def _injections(data: dict[str, Any], path: Path) -> list[Injection]:
    disruptions = data.get("disruptions") or []
    _need(isinstance(disruptions, list), path, "'disruptions' must be a list")
    found = []
    for d_idx, disruption in enumerate(disruptions):
        _need(isinstance(disruption, dict), path, f"disruption {d_idx} must be an object")
        for inj in disruption.get("injections") or []:
            _need(isinstance(inj, dict) and isinstance(inj.get("id"), str), path, f"an injection in disruption {d_idx} lacks a string 'id'")
            _need(isinstance(inj.get("args") or {}, dict), path, f"injection '{inj['id']}' has non-object 'args'")
            found.append(Injection(inj["id"], inj.get("args") or {}, d_idx))
    return found


def load_incident(path: Path, sre_root: Path, fault_names: dict[str, str]) -> ItbenchIncident:
    """Read one index JSON (+ groundtruth v2 if present); every upstream quirk is noted in `quirks`."""
    data = _read_json(path)
    _need(isinstance(data, dict), path, "expected a JSON object")
    raw_id = data.get("id", path.stem)
    _need(isinstance(raw_id, int) or str(raw_id).isdigit(), path, f"'id' must be an integer, got {raw_id!r}")
    sid, quirks = int(raw_id), []
    if path.stem != str(sid):
        quirks.append(f"index file name {path.name} does not match id {sid}")
    injections = _injections(data, path)
    if len(injections) > 1:
        quirks.append(f"{len(injections)} injections")
    alerts = [Alert(str(a.get("name") or a.get("id")) if isinstance(a, dict) else str(a)) for a in data.get("alerts") or []]
    if not alerts:
        quirks.append("index lists no alerts")
    case_dir = sre_root / "project/roles/scenarios/files" / f"scenario_{sid}"
    spec = _load_groundtruth(case_dir / "groundtruth.yaml")
    entities: list[Entity] = []
    solutions: Any = data.get("solutions") or []
    templated = "{{" in json.dumps(solutions)
    if spec is None:
        quirks.append("no groundtruth.yaml (v2): entities unknown, solutions taken from the index")
        solutions = _render_solutions(solutions, injections[0].args if injections else {})
    else:
        by_name = {str(a.get("name")): a for a in spec.get("alerts") or [] if isinstance(a, dict)}
        alerts = [Alert(a.name, dict(by_name.get(a.name, {}).get("labels") or {})) for a in alerts]
        for extra in sorted(set(by_name) - {a.name for a in alerts}):
            quirks.append(f"alert {extra} appears only in groundtruth v2")
            alerts.append(Alert(extra, dict(by_name[extra].get("labels") or {})))
        for ent in (e for e in spec.get("entities") or [] if isinstance(e, dict)):
            meta = ent.get("metadata") or {}
            entities.append(Entity(str(ent.get("kind")), str(meta.get("name")), meta.get("namespace"), ent.get("apiVersion")))
        solutions = spec["solutions"] if spec.get("solutions") is not None else solutions
    if templated:
        quirks.append("index solutions are unrendered templates; " + ("used groundtruth v2" if spec else "rendered from injection args"))
    has_v1 = (case_dir / "groundtruth_v1.yaml").is_file()
    if not has_v1:
        quirks.append("no groundtruth_v1.yaml")
    description = str(data.get("description") or "").strip()
    name, slug = derive_name(injections, fault_names, description, sid)
    apps = (data.get("environment") or {}).get("applications") or []
    incident = ItbenchIncident(
        source_id=sid, category=str(data.get("category") or "sre").lower(), name=name, slug=slug,
        description=description, complexity=data.get("complexity"), tags=[str(t) for t in data.get("tags") or []],
        applications=[str(a.get("id")) for a in apps if isinstance(a, dict)], alerts=alerts, injections=injections,
        entities=entities, solutions=solutions, has_groundtruth=spec is not None, has_groundtruth_v1=has_v1, quirks=quirks)
    named, hit = set(re.findall(r"`([^`]+)`", description)), {w for w, _ in affected_workloads(incident)}
    if named and hit and not named & hit:
        quirks.append(f"description names {sorted(named)} but the injections target {sorted(hit)}; the injections are used")
    return incident


# --------------------------------------------------------------------------------------- names and targets
def _chaos(spec: dict[str, Any]) -> tuple[str, str, list[tuple[str, str | None]]]:
    """(kind, action, [(component, namespace)]) of a Chaos Mesh scheduleSpec."""
    body = next((v for k, v in spec.items() if k.endswith("Chaos") and isinstance(v, dict)), {})
    action = body.get("action") or ("abort" if body.get("abort") else "patch" if body.get("patch") else "delay"
                                    if body.get("delay") else "/".join(sorted(body.get("stressors") or {})))
    selector = body.get("selector") or {}
    namespace = (selector.get("namespaces") or [None])[0]
    return (str(spec.get("type") or "Chaos"), str(action or "experiment"),
            [(str(v), namespace) for v in (selector.get("labelSelectors") or {}).values()])


def _subject(inj: Injection) -> str:
    """What an injection hits, for names: flag name, chaos experiment, env var or object name."""
    target = str(((inj.args.get("kubernetesObject") or {}).get("metadata") or {}).get("name") or inj.fault_id)
    if isinstance(inj.args.get("flag"), dict):
        return str(inj.args["flag"].get("name"))
    if isinstance(inj.args.get("scheduleSpec"), dict):
        kind, action, comps = _chaos(inj.args["scheduleSpec"])
        return f"{kind} {action} on {', '.join(c for c, _ in comps) or target}"
    env = (inj.args.get("container") or {}).get("env")
    return f"{env.get('name')} on {target}" if isinstance(env, dict) else target


_SLUG_STOP = {"kubernetes", "workload", "container", "opentelemetry", "demo", "scheduled", "mesh", "experiment", "on"}


def derive_name(injections: list[Injection], fault_names: dict[str, str], description: str, sid: int) -> tuple[str, str]:
    """Readable name + slug, '<fault name>: <subject>' per fault type; from the description if no injections."""
    groups: dict[str, list[str]] = {}
    for subject, inj in ((_subject(i), i) for i in injections):
        if subject not in groups.setdefault(inj.fault_id, []):
            groups[inj.fault_id].append(subject)
    if groups:
        name = " + ".join(f"{fault_names.get(f) or f.replace('-', ' ').title()}: {', '.join(s)}" for f, s in groups.items())
        slug_src = " ".join(f"{f.replace('-', ' ')} {' '.join(s)}" for f, s in groups.items())
    else:
        name = re.sub(r"^this scenario (simulates )?", "", description.rstrip("."), flags=re.I) or f"ITBench scenario {sid}"
        name, slug_src = name[:1].upper() + name[1:], name
    slug = ""
    for word in re.split(r"[^a-z0-9]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", slug_src.replace("Chaos", " ")).lower()):
        if word and word not in _SLUG_STOP:
            if len(slug) + len(word) >= 60:
                break
            slug = f"{slug}_{word}" if slug else word
    return name, slug or f"scenario_{sid}"


def affected_workloads(incident: ItbenchIncident) -> list[tuple[str, str | None]]:
    """(workload, namespace) pairs for the page: injected objects, else `backticked` description names, else apps."""
    found: list[tuple[str, str | None]] = []
    namespace = None
    for inj in incident.injections:
        obj = inj.args.get("kubernetesObject") or {}
        meta = obj.get("metadata") or {}
        namespace = namespace or meta.get("namespace")
        if isinstance(inj.args.get("scheduleSpec"), dict):
            found += _chaos(inj.args["scheduleSpec"])[2]
        elif obj.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Service"} and meta.get("name"):
            found.append((str(meta["name"]), meta.get("namespace")))
    found = found or [(m, namespace) for m in re.findall(r"`([^`]+)`", incident.description)]
    return list(dict.fromkeys(found)) or [(app, namespace) for app in incident.applications]


# ------------------------------------------------------------------------------------ mapping and the page
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


def render_error_report(incident: ItbenchIncident) -> str:
    """The page the agent receives: ITBench alert names verbatim, the description, and where to look here."""
    targets = affected_workloads(incident)
    where = ", ".join(f"{w} (namespace {ns})" if ns else w for w, ns in targets) or "the application"
    noun = "service" if len(targets) < 2 else "services"
    alerts = [f"ALERT {a.name} firing for {noun} {where}" + "".join(f" {k}={v}" for k, v in sorted(a.labels.items()))
              for a in incident.alerts] or [f"No alert is firing; users report degraded behaviour of {noun} {where}."]
    return "\n".join([
        f"PAGE: ITBench scenario {incident.source_id} (complexity {incident.complexity or 'unknown'}, application "
        f"{', '.join(incident.applications) or 'unknown'})", *alerts,
        f"Report: {incident.description or 'no description provided.'}",
        f"The affected workload in this environment is the local target service, standing in for {where}; there is "
        "no Kubernetes cluster or kubectl here. Inspect and repair it with `targetctl` (`targetctl info`, `targetctl "
        "status`, `targetctl logs`, `targetctl exec ...`). Restore service health.",
    ])


# ------------------------------------------------------------------------------------------------- records
def build_record(incident: ItbenchIncident, commit: str | None) -> dict[str, Any]:
    """One catalog row: the scenarios.json schema (scenario_id ... active) plus the ITBench provenance."""
    m = map_incident(incident)
    return {
        "scenario_id": f"itbench_{incident.source_id}_{incident.slug}",
        "title": f"ITBench {incident.source_id}: {incident.name}",
        "error_report": render_error_report(incident),
        "local_fault": m.local_fault,
        "skill_id": m.local_fault.replace("_", "-") if m.local_fault else None,
        "active": m.local_fault is not None,
        "unsupported_reason": m.unsupported_reason,
        "fault_params": None if m.primary is None else local_fault_params(incident.injections[m.primary]),
        "source": {"benchmark": "itbench", "id": incident.source_id},
        "name": incident.name, "description": incident.description,
        "complexity": incident.complexity, "tags": incident.tags,
        "alerts": [{"name": a.name, "labels": a.labels} for a in incident.alerts],
        "injections": [{"fault_id": inj.fault_id, "args": inj.args, "disruption": inj.disruption, "local_fault": fm.local_fault,
                        "mapping_reason": fm.reason, "primary": i == m.primary}
                       for i, (inj, fm) in enumerate(zip(incident.injections, m.per_injection))],
        "entities": [{"kind": e.kind, "name": e.name, "namespace": e.namespace, "api_version": e.api_version}
                     for e in incident.entities],
        "solutions": incident.solutions,
        "source_commit": commit,
        "groundtruth": {"v2": incident.has_groundtruth, "v1": incident.has_groundtruth_v1},
        "quirks": incident.quirks,
    }


def build_catalog(result: ImportResult, imported_at: str | None = None) -> dict[str, Any]:
    records = [build_record(inc, result.commit) for inc in result.incidents]
    supported = [r for r in records if r["local_fault"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "source": {"benchmark": "itbench", "repository": "itbench-hub/ITBench", "license": "Apache-2.0",
                   ("url" if result.is_url else "path"): result.location, "subdir": result.subdir, "commit": result.commit,
                   "commit_origin": result.commit_origin,
                   "imported_at": imported_at or datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "summary": {
            "total_sre": len(records), "supported": len(supported), "unsupported": len(records) - len(supported),
            "finops_excluded": len(result.finops_excluded), "finops_excluded_ids": result.finops_excluded,
            "other_category_excluded_ids": result.other_excluded,
            "by_local_fault": dict(sorted(Counter(r["local_fault"] for r in supported).items())),
            "unsupported_by_fault": dict(sorted(Counter(r["injections"][0]["fault_id"] if r["injections"] else "(none)"
                                                        for r in records if not r["local_fault"]).items())),
        },
        "scenarios": records,
    }


# ------------------------------------------------------------------------------------------------- sources
def resolve_commit(root: Path) -> tuple[str | None, str | None]:
    """(commit, origin): HEAD when `root` is itself a git checkout, else an 'at commit <sha>' README note."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None
    top = git("rev-parse", "--show-toplevel")
    head = git("rev-parse", "HEAD") if top and Path(top).resolve() == root.resolve() else None
    if head:
        return head, "git"
    readme = root / "README.md"
    note = re.search(r"\bat commit\s+`?([0-9a-f]{7,40})\b", readme.read_text(errors="replace")) if readme.is_file() else None
    return (note.group(1), "README.md note") if note else (None, None)


def is_git_url(source: str) -> bool:
    return "://" in source or re.match(r"^[\w.-]+@[\w.-]+:", source) is not None


@contextmanager
def materialize_source(source: str) -> Iterator[Path]:
    """Yield a local directory for `source`: the path itself, or a shallow clone removed afterwards."""
    if not is_git_url(source):
        if not Path(source).expanduser().is_dir():
            raise ItbenchImportError(f"ITBench source {source!r} is not a directory. Pass --source the path of an "
                                     "ITBench checkout, or a git URL (https://..., file://...).")
        yield Path(source).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="itbench-src-") as tmp:
        cmd = ["git", "clone", "--depth", "1", "--quiet", "--", source, str(Path(tmp) / "checkout")]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        except (OSError, subprocess.SubprocessError) as exc:
            raise ItbenchImportError(f"could not run {' '.join(cmd)}: {exc}. Is git installed?") from None
        if proc.returncode != 0:
            detail = " ".join(proc.stderr.split())[-400:].rstrip(".")
            raise ItbenchImportError(f"git clone of {source!r} failed (exit {proc.returncode}): {detail}. "
                                     "Check the URL, or clone it yourself and pass the path.")
        yield Path(tmp) / "checkout"


def load_checkout(root: Path, subdir: str = DEFAULT_SUBDIR, location: str | None = None, is_url: bool = False) -> ImportResult:
    """Read every index JSON under `root/subdir`; SRE scenarios are kept, FinOps and others are counted."""
    sre_root = root / subdir
    index_dir = sre_root / "library/indexes/scenarios"
    if not index_dir.is_dir():
        raise ItbenchImportError(f"no ITBench scenario index at {index_dir}. Point --source at the ITBench checkout root "
                                 f"(the folder holding '{subdir}'), or set --source-subdir.")
    fault_names = load_fault_names(sre_root)
    incidents: dict[int, ItbenchIncident] = {}
    excluded: dict[int, str] = {}
    for path in sorted(index_dir.glob("*.json")):
        inc = load_incident(path, sre_root, fault_names)
        if inc.source_id in incidents or inc.source_id in excluded:
            raise ItbenchImportError(f"duplicate ITBench scenario id {inc.source_id} (second copy: {path}); remove one.")
        if inc.category == "sre":
            incidents[inc.source_id] = inc
        else:
            excluded[inc.source_id] = inc.category
    commit, origin = resolve_commit(root)
    return ImportResult(location or str(root.resolve()), is_url, subdir, commit, origin,
                        [incidents[k] for k in sorted(incidents)],
                        sorted(k for k, c in excluded.items() if c == "finops"), sorted(k for k, c in excluded.items() if c != "finops"))


def import_itbench(config: ImportConfig, imported_at: str | None = None) -> dict[str, Any]:
    """Import `config.source` (path or git URL) and return the catalog; write it too when `output` is set."""
    with materialize_source(config.source) as root:
        result = load_checkout(root, config.subdir, config.source if is_git_url(config.source) else None,
                               is_git_url(config.source))
    catalog = build_catalog(result, imported_at)
    if config.output is not None:
        config.output.parent.mkdir(parents=True, exist_ok=True)
        config.output.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return catalog
