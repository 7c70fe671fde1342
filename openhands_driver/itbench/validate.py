"""Ground truth checked against the injections: every inconsistency becomes a `source_warnings` entry.

ITBench's ground truth (groundtruth v2 entities and solutions, or the index's solutions) is written by hand
beside the injections it should describe. The importer does not fix it silently; it records what disagrees:
- an injection whose own target (flag name, schedule name, workload) no solution mentions, e.g. a second flag
  that no solution turns off;
- a solution naming a workload or schedule that no injection targets and the ground truth does not list
  (e.g. a solution copied from another scenario);
- fewer solution groups than injections that need a fix of their own;
- ground-truth entities that name none of the injected objects.
Stdlib only.
"""
from __future__ import annotations

import json
import re
from typing import Any

from openhands_driver.itbench.model import Injection, ItbenchIncident

_KUBECTL_OBJECT = re.compile(
    r"\b(?:deployment|statefulset|daemonset|schedule|configmap|secret|service)(?:/|\s+)([a-z0-9][a-z0-9.-]*)", re.I)
_SKIP = {"-o", "--replicas", "experiment", "experiment.chaos-mesh.org", "the", "workloads", "with", "by", "and"}


def injection_targets(inj: Injection) -> list[str]:
    """The names an injection acts on: its flag, its object, its container."""
    args = inj.args
    names = []
    if isinstance(args.get("flag"), dict) and args["flag"].get("name"):
        names.append(str(args["flag"]["name"]))
    meta = (args.get("kubernetesObject") or {}).get("metadata") or {}
    if meta.get("name"):
        names.append(str(meta["name"]))
    container = args.get("container") or {}
    if isinstance(container, dict) and container.get("name"):
        names.append(str(container["name"]))
    return names


def _solution_text(solutions: Any) -> str:
    return json.dumps(solutions, ensure_ascii=False)


def _commands(value: Any) -> list[str]:
    """Every `command` string in the (nested) solutions."""
    if isinstance(value, dict):
        found = [str(value["command"])] if isinstance(value.get("command"), str) else []
        return found + [c for k, v in value.items() if k != "command" for c in _commands(v)]
    if isinstance(value, list):
        return [c for v in value for c in _commands(v)]
    return []


def _flag_or_schedule(inj: Injection) -> str | None:
    """The name a fix of this injection must mention: a flag's name or a schedule's name."""
    args = inj.args
    if isinstance(args.get("flag"), dict) and args["flag"].get("name"):
        return str(args["flag"]["name"])
    if isinstance(args.get("scheduleSpec"), dict):
        return str(((args.get("kubernetesObject") or {}).get("metadata") or {}).get("name") or "") or None
    return None


def validate(incident: ItbenchIncident) -> list[str]:
    """Every disagreement between the ground truth and the injections, as readable sentences."""
    warnings: list[str] = []
    solutions = incident.solutions if isinstance(incident.solutions, list) else []
    text = _solution_text(solutions)
    injected = {name for inj in incident.injections for name in injection_targets(inj)}
    entities = {e.name for e in incident.entities}
    for i, inj in enumerate(incident.injections):
        key = _flag_or_schedule(inj)
        if key and key not in text:
            warnings.append(f"injection {i + 1} ({inj.fault_id} {key!r}) is not mentioned by any solution: "
                            "the ground truth does not say how to undo it")
    needs_fix = [inj for inj in incident.injections if inj.fault_id != "unassigned-kubernetes-workload-container-resource-limits"]
    if solutions and len(needs_fix) > 1 and len(solutions) < len(needs_fix):
        warnings.append(f"{len(needs_fix)} injections to undo but only {len(solutions)} solution group(s)")
    named = set()
    for match in _KUBECTL_OBJECT.finditer("\n".join(c for c in _commands(solutions) if "kubectl" in c)):
        name = match.group(1).rstrip(".")
        if name.lower() not in _SKIP and "{{" not in name:
            named.add(name)
    known = injected | entities | {"flagd-config", "flagd"}
    stray = sorted(n for n in named if n not in known and not any(n.startswith(k) or k.startswith(n) for k in known))
    if stray:
        warnings.append(f"solutions name {stray} which no injection targets and the ground truth does not list "
                        "(copied from another scenario?)")
    warnings += [q for q in incident.quirks if q.startswith("description names")]
    if incident.entities and injected and not entities & injected:
        warnings.append(f"ground-truth entities {sorted(entities)} name none of the injected objects {sorted(injected)}")
    return warnings
