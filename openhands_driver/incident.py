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


def instance_token(run_id: str, seed: int | None) -> str:
    """An opaque per-incident identity: says nothing about the fault or the scenario."""
    digest = hashlib.sha256(f"{run_id}/{seed}".encode()).hexdigest()
    return f"i-{digest[:12]}"


def draw_seed() -> int:
    return random.SystemRandom().randrange(0, 1_000_000)


def make_incident(scenario: Scenario, *, run_id: str, blind: bool = False,
                  seed: int | None = None) -> Incident:
    """The concrete incident for a scenario (see the module docstring)."""
    from target_service import faults

    fault_class = scenario.local_fault or faults.HEALTHY
    if fault_class not in faults.FAULT_CLASSES:
        known = ", ".join(sorted(faults.FAULT_CLASSES))
        raise UserError(f"scenario {scenario.scenario_id!r}: fault class {fault_class!r} has no "
                        f"fault-class module (target_service/fault_{fault_class}.py); known: {known}")
    if blind and seed is None:
        seed = draw_seed()
    imported = scenario.extra.get("fault_params") or {}
    if not isinstance(imported, dict):
        raise UserError(f"scenario {scenario.scenario_id!r}: fault_params must be a JSON object")
    if seed is not None:
        variant = faults.make_variant(fault_class, seed)
        params = {**variant["params"], **imported}  # an imported incident's own details win
        alert = variant["alert"]
    else:  # the scenario's own details (the service keeps its default name)
        params = dict(imported)
        alert = scenario.error_report
    cls = faults.fault_class(fault_class)
    truth = GroundTruth(fault_class=fault_class, entity=cls.entity(params), variant_seed=seed,
                        service=str(params.get("service") or "checkout"),
                        decoys=list(cls.decoys(params)), may_change=list(cls.may_change(params)),
                        symptom=cls.symptom(params))
    if blind:
        return Incident(instance=instance_token(run_id, seed), fault=scenario.local_fault,
                        params=params, alert=alert, title=f"Alert: {truth.service}", blind=True,
                        ground_truth=truth)
    return Incident(instance=scenario.scenario_id, fault=scenario.local_fault, params=params,
                    alert=scenario.error_report, title=scenario.title or scenario.scenario_id,
                    blind=False, ground_truth=truth)
