"""The dry-run proxy of a fan-out: routing and plans only.

Nothing starts (no target, no agent, no SDK import), nothing is verified, so the report makes no
success claim: it has no ``fixed``/``success_rate`` figures, only how many incidents would be
planned, which are unsupported, and which skill and runbook each would get.
"""

from __future__ import annotations

import time

from openhands_driver.errors import UserError
from openhands_driver.fanout.intake import incidents_for
from openhands_driver.fanout.records import FANOUT_SCHEMA_VERSION, FanoutConfig
from openhands_driver.scenarios import load_catalog

NOTE = ("DRY-RUN PROXY: routing and plans only; no target was started, no agent ran, nothing was "
        "verified. These figures say nothing about whether an incident would be fixed.")


def simulate(config: FanoutConfig) -> dict:
    import dataclasses

    from openhands_driver.runner import plan_incident

    began = time.monotonic()
    catalog = load_catalog(config.run.training_data)
    incidents = incidents_for(config, catalog)
    rows = []
    for incident in incidents:
        scenario = incident.scenario
        source = scenario.extra.get("source") if isinstance(scenario.extra.get("source"), dict) else {}
        row = {"index": incident.index, "scenario_id": scenario.scenario_id, "source_id": source.get("id"),
               "source": source.get("benchmark"), "local_fault": scenario.local_fault,
               "arrival_s": incident.arrival_s, "status": "unsupported", "skill_id": None,
               "routing_method": None, "routing": None, "plan": None, "service_up": None,
               "error": None}
        if not scenario.runnable:
            row["error"] = f"no local analogue: {scenario.unsupported_reason}"
        else:
            run = dataclasses.replace(config.run, scenario=scenario.scenario_id, run_id=f"plan-{incident.index:03d}")
            try:
                plan = plan_incident(run)
            except UserError as exc:
                row.update(status="error", error=str(exc))
            else:
                row.update(status="planned", skill_id=plan.strategy.skill_id, routing=plan.routing.to_dict(),
                           routing_method=plan.routing.method, plan=plan.to_dict())
        rows.append(row)
    counts = {status: sum(r["status"] == status for r in rows) for status in ("planned", "unsupported", "error")}
    routed = [r for r in rows if r["status"] == "planned"]
    return {
        "schema_version": FANOUT_SCHEMA_VERSION, "kind": "fanout", "dry_run_proxy": True, "note": NOTE,
        "mode": "continuous" if config.continuous else "batch", "training_data": str(catalog.path),
        "sample_size": config.sample_size, "seed": config.seed,
        "summary": {"total": len(rows), **counts,
                    "routed_to_skill": sum(1 for r in routed if r["skill_id"]),
                    "no_skill_match": sum(1 for r in routed if not r["skill_id"]),
                    "fixed": None, "success_rate": None, "service_up": None,
                    "wall_s": round(time.monotonic() - began, 3)},
        "rows": rows,
    }
