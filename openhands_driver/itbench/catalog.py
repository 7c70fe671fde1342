"""Rendering: the page the agent receives, one catalog record per incident, the whole catalog."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from openhands_driver.itbench.loader import affected_workloads, is_git_url, load_checkout, materialize_source
from openhands_driver.itbench.mapping import local_fault_params, map_incident
from openhands_driver.itbench.model import SCHEMA_VERSION, ImportConfig, ImportResult, ItbenchIncident
from openhands_driver.itbench.validate import validate


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
    # one entry per injection with a local analogue, params from that injection's own arguments
    local_faults = [] if m.local_fault is None else [
        {"fault_class": fm.local_fault, "params": local_fault_params(inj), "injection": i}
        for i, (inj, fm) in enumerate(zip(incident.injections, m.per_injection)) if fm.local_fault]
    return {
        "scenario_id": f"itbench_{incident.source_id}_{incident.slug}",
        "title": f"ITBench {incident.source_id}: {incident.name}",
        "error_report": render_error_report(incident),
        "local_fault": m.local_fault,
        "skill_id": m.local_fault.replace("_", "-") if m.local_fault else None,
        "active": m.local_fault is not None,
        "unsupported_reason": m.unsupported_reason,
        "fault_params": None if m.primary is None else local_fault_params(incident.injections[m.primary]),
        "local_faults": local_faults,
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
        "source_warnings": validate(incident),
    }


def build_catalog(result: ImportResult, imported_at: str | None = None) -> dict[str, Any]:
    records = [build_record(inc, result.commit) for inc in result.incidents]
    by_description: dict[str, list[int]] = {}
    for rec in records:
        if rec["description"]:
            by_description.setdefault(rec["description"], []).append(rec["source"]["id"])
    for rec in records:  # ground truth copied between scenarios: the same description twice
        twins = [i for i in by_description.get(rec["description"], []) if i != rec["source"]["id"]]
        if twins:
            rec["source_warnings"].append(f"the description is word for word the one of scenario(s) {twins} "
                                          "(copied?); the injections are used")
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
            "multi_injection": sum(1 for r in records if len(r["injections"]) > 1),
            "multi_injection_supported": sum(1 for r in supported if len(r["local_faults"]) > 1),
            "source_warnings": {str(r["source"]["id"]): r["source_warnings"] for r in records if r["source_warnings"]},
        },
        "scenarios": records,
    }


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
