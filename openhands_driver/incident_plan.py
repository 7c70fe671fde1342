"""The incident's plan: scenario, routing, strategy and the message, resolved before anything starts.

No SDK and no target here: dry runs (``--simulate``) and the fan-out's planning stop at this module.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.incident import Incident, make_incident
from openhands_driver.router import RoutingDecision, route
from openhands_driver.scenarios import Scenario, load_catalog
from openhands_driver.strategy import TOOLSETS, Strategy, api_strategy, choose_strategy, incident_message


@dataclass(frozen=True)
class IncidentPlan:
    run_id: str
    scenario: Scenario
    routing: RoutingDecision
    strategy: Strategy
    message: str
    incident: Incident
    toolset: str = "shell"

    def to_dict(self) -> dict:
        from openhands_driver.brain.runbook import parse_runbook
        from openhands_driver.skills import load_skills

        text = self.strategy.runbook_text
        if self.strategy.skill_id:
            text = load_skills()[self.strategy.skill_id].body
        return {"strategy": self.strategy.source, "skill_id": self.strategy.skill_id,
                "runbook": self.strategy.runbook_name or f"skill:{self.strategy.skill_id}",
                "steps": parse_runbook(text or "", "api" if self.toolset == "api" else "shell").to_dict(),
                "incident_message": self.message}


def plan_incident(config: RunConfig) -> IncidentPlan:
    """Resolve scenario, routing and strategy. Raises UserError before anything starts."""
    if config.target_root is not None and (config.backend != "local" or not config.target_url):
        raise UserError("target_root (--target-root DIR) attaches to a running local service: it needs "
                        "backend local and target_url (--target-url URL, the service's health URL)")
    catalog = load_catalog(config.training_data)
    scenario = _scenario(catalog, config.scenario or _attached_scenario(config), config)
    if not scenario.runnable:
        raise UserError(f"scenario {scenario.scenario_id!r} has no local analogue: "
                        f"{scenario.unsupported_reason}")
    _check_fault(scenario, catalog)  # --- crash safety / input: an unknown fault is a user error
    run_id = config.run_id or f"run-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    if config.variant_seed is not None and config.target_root is not None:
        raise UserError("--variant-seed draws a new incident: it cannot go with --target-root (an "
                        "attached service is already provisioned)")
    incident = make_incident(scenario, run_id=run_id, blind=config.blind, seed=config.variant_seed)
    if config.incident_text:  # an alert as received (e.g. from the intake service)
        incident = dataclasses.replace(incident, alert=config.incident_text)
        scenario = dataclasses.replace(scenario, error_report=config.incident_text)
    if config.blind:  # only what the agent can see: the alert's text, no scenario label
        routing = route(None, incident.alert, forced_skill=config.skill_id)
        chosen = routing if routing.method == "forced" else RoutingDecision(
            None, "agent", f"blind: the agent chooses from the catalog ({routing.reason})",
            routing.scores)
    else:
        routing = chosen = route(scenario, incident.alert, forced_skill=config.skill_id)
    strategy = choose_strategy(config.mode, config.strategy_source, chosen,
                               strategy_text=config.strategy_text, optimizer_result=config.optimizer_result)
    if config.toolset not in TOOLSETS:
        raise UserError(f"unknown toolset {config.toolset!r}. Valid toolsets: {', '.join(TOOLSETS)}")
    if config.toolset == "api":
        if config.remote_host:
            raise UserError("--toolset api runs the conversation in-process: drop --remote-host")
        strategy = api_strategy(strategy)
    message = incident_message(incident.title, incident.alert, strategy, chosen, blind=config.blind,
                               toolset=config.toolset)
    return IncidentPlan(run_id, scenario, routing, strategy, message, incident, config.toolset)


def _scenario(catalog, scenario_id: str, config: RunConfig) -> Scenario:
    """The catalog's scenario; for blind or seeded runs a fault class's name works too (the
    incident then comes from its generator alone)."""
    if scenario_id in catalog.ids():
        return catalog.get(scenario_id)
    builtin = load_catalog(None)
    if Path(catalog.path).resolve() != Path(builtin.path).resolve() and scenario_id in builtin.ids():
        # the design runs built-in scenarios with an imported file given: fall back, and say so
        print(f"[runner] note: scenario {scenario_id!r} is not in {catalog.path}; using the built-in "
              f"catalog's ({builtin.path})", file=sys.stderr, flush=True)
        return builtin.get(scenario_id)
    if not (config.blind or config.variant_seed is not None):
        return catalog.get(scenario_id)  # the unknown-scenario error, with the valid ids
    from target_service import faults

    if scenario_id in faults.FAULT_CLASSES:
        return Scenario(scenario_id=scenario_id, local_fault=scenario_id,
                        error_report="(drawn from the variant seed)", title=scenario_id)
    raise UserError(f"unknown scenario {scenario_id!r} in {catalog.path}. Valid scenarios: "
                    f"{', '.join(catalog.ids())}; with --blind or --variant-seed also a fault class: "
                    f"{', '.join(sorted(faults.FAULT_CLASSES))}")


def _check_fault(scenario: Scenario, catalog) -> None:
    from target_service.faults import FAULTS

    if scenario.local_fault is not None and scenario.local_fault not in FAULTS:
        raise UserError(f"{catalog.path}: scenario {scenario.scenario_id!r} has local_fault "
                        f"{scenario.local_fault!r}, which the target does not know; use one of: "
                        f"{', '.join(sorted(FAULTS))} (or null for an incident without a local analogue)")


def _attached_scenario(config: RunConfig) -> str:
    """No scenario given: the one the attached local service reports (its etc/service.json)."""
    if config.backend != "local" or config.target_root is None:
        raise UserError("no scenario given: pass a scenario id (--scenario), or attach to a running "
                        "local service (--backend local --target-root DIR) to use the one it reports")
    from openhands_driver.target.local import service_root_scenario

    return service_root_scenario(config.target_root)
