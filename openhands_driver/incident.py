"""The incident the runner provisions: what breaks, what the agent is paged with, the ground truth.

A scenario (catalog record) names a fault class. ``make_incident`` turns it into one concrete
incident:
- **blind** (``--blind``): the fault class's generator draws a variant from ``--variant-seed``
  (file names, settings, values, decoys, the service's name); the agent is paged with a
  symptom-level alert only; the target reports an opaque per-incident instance token.
- **labelled** (the quick demo): the scenario's own alert text and id; a seed, when given, still
  draws the variant (so the same variants can be run labelled and blind).
The ground truth (fault class, entity, seed, decoys) is recorded by the harness and never sent to
the agent.

An imported incident with several injections (``local_faults`` in its record: one {fault_class,
params} per injection) is provisioned as ONE target with every injection applied together.
Each injection's variant is drawn from the same seed (a repeated class reuses the first variant of
that class, so e.g. two flags live in the same flag files); the injection's own params win. The
ground truth lists every fault (``faults``); ``fault_class``/``entity`` are the first one's (old
readers); ``may_change`` is the union, ``decoys`` the union minus any path another injection's
fix may change; the alert is the first injection's.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from openhands_driver.errors import UserError
from openhands_driver.scenarios import Scenario


@dataclass(frozen=True)
class GroundTruth:
    """What really broke: recorded in the result and the trace, never shown to the agent."""

    fault_class: str
    entity: str
    variant_seed: int | None
    service: str
    decoys: list[str] = field(default_factory=list)
    may_change: list[str] = field(default_factory=list)
    symptom: str = ""
    # every injected fault: [{fault_class, entity, decoys, may_change, symptom}] (one entry for
    # a single-fault incident); the fields above are the first one's or the unions
    faults: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Incident:
    """One incident to provision: the target's identity and fault, and the page the agent gets."""

    instance: str              # the id the target reports in its health body (verifier identity)
    fault: str | None          # fault class injected (None: healthy)
    params: dict[str, Any]     # the fault's parameters (the variant)
    alert: str                 # the text the agent is paged with
    title: str                 # the message heading
    blind: bool
    ground_truth: GroundTruth
    # every injection: [{"fault": class, "params": {...}}]; the first is `fault`/`params`
    injections: list[dict] = field(default_factory=list)


def instance_token(run_id: str, seed: int | None) -> str:
    """An opaque per-incident identity: says nothing about the fault or the scenario."""
    digest = hashlib.sha256(f"{run_id}/{seed}".encode()).hexdigest()
    return f"i-{digest[:12]}"


def draw_seed() -> int:
    return random.SystemRandom().randrange(0, 1_000_000)


def _specs(scenario: Scenario) -> list[dict]:
    """The scenario's injections: [{fault_class, params}] (``local_faults``, else the single one)."""
    listed = scenario.extra.get("local_faults")
    if listed:
        if not isinstance(listed, list) or not all(isinstance(e, dict) for e in listed):
            raise UserError(f"scenario {scenario.scenario_id!r}: local_faults must be a list of objects")
        return [{"fault_class": str(e.get("fault_class") or ""), "params": e.get("params") or {}}
                for e in listed]
    return [{"fault_class": scenario.local_fault or "healthy",
             "params": scenario.extra.get("fault_params") or {}}]


def make_incident(scenario: Scenario, *, run_id: str, blind: bool = False,
                  seed: int | None = None) -> Incident:
    """The concrete incident for a scenario (see the module docstring)."""
    from target_service import faults

    specs = _specs(scenario)
    for spec in specs:
        if spec["fault_class"] not in faults.FAULT_CLASSES:
            known = ", ".join(sorted(faults.FAULT_CLASSES))
            raise UserError(f"scenario {scenario.scenario_id!r}: fault class {spec['fault_class']!r} has no "
                            f"fault-class module (target_service/fault_{spec['fault_class']}.py); known: {known}")
        if not isinstance(spec["params"], dict):
            raise UserError(f"scenario {scenario.scenario_id!r}: fault_params must be a JSON object")
    if blind and seed is None:
        seed = draw_seed()
    injections, drawn, service, alert = [], {}, None, scenario.error_report
    for spec in specs:
        name, imported = spec["fault_class"], spec["params"]
        if seed is not None:
            if name not in drawn:  # a repeated class shares its first variant's locations
                drawn[name] = faults.make_variant(name, seed)
            variant = drawn[name]
            service = service or variant["service"]
            if len(injections) == 0:
                alert = variant["alert"]
            params = {**variant["params"], **imported}  # an imported incident's own details win
        else:
            params = {"service": "checkout", **imported}
            service = service or str(params.get("service") or "checkout")
        params["service"] = service  # one target, one service name
        injections.append({"fault": name, "params": params})
    truths = []
    for inj in injections:
        cls = faults.fault_class(inj["fault"])
        truths.append({"fault_class": inj["fault"], "entity": cls.entity(inj["params"]),
                       "decoys": list(cls.decoys(inj["params"])),
                       "may_change": list(cls.may_change(inj["params"])),
                       "symptom": cls.symptom(inj["params"])})
    may_change = list(dict.fromkeys(p for t in truths for p in t["may_change"]))
    decoys = list(dict.fromkeys(p for t in truths for p in t["decoys"] if p not in may_change))
    first = truths[0]
    truth = GroundTruth(fault_class=first["fault_class"], entity=first["entity"], variant_seed=seed,
                        service=str(service or "checkout"), decoys=decoys, may_change=may_change,
                        symptom=first["symptom"], faults=truths)
    fault = scenario.local_fault or (specs[0]["fault_class"] if scenario.extra.get("local_faults") else None)
    params = injections[0]["params"]
    if blind:
        return Incident(instance=instance_token(run_id, seed), fault=fault,
                        params=params, alert=alert if seed is not None else scenario.error_report,
                        title=f"Alert: {truth.service}", blind=True, ground_truth=truth,
                        injections=injections)
    return Incident(instance=scenario.scenario_id, fault=fault, params=params,
                    alert=scenario.error_report, title=scenario.title or scenario.scenario_id,
                    blind=False, ground_truth=truth, injections=injections)
