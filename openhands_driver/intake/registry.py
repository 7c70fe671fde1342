"""Which target an incident acts on: the service registry and demo targets.

Registry file (``--services FILE`` or ``SRE_SERVICE_REGISTRY``)::

    {"schema_version": 1, "services": {
      "checkout-api": {"url": "http://127.0.0.1:8080/", "backend": "docker",
                       "handle": "checkout-api-1", "scenario": "stale_lockfile",
                       "auto_remediate": true}}}

(a bare ``{"name": {...}}`` mapping is read too). An entry of kind ``ssh`` names a host instead of
a running service::

      "payments": {"backend": "ssh", "host": "deploy@10.0.0.5:2222", "identity_file": "/etc/sre/deploy_key",
                   "known_hosts": "/etc/sre/known_hosts", "scenario": "stale_lockfile"}

(``known_hosts`` optional: the default is the user's): its incidents get a fresh target of
``scenario`` provisioned on that host over SSH (``--backend ssh``, plan kind ``ssh``); the run's
url is the host's address and the port it was given there. ``toolset: "api"`` runs that service's agent with
no shell, through its /ops/* platform API only (``--toolset api``; default ``shell``). ``handle`` is the backend's name for the running
service: the container name for docker, the service root directory for local (the layout in
CONTRIBUTING.md, with a running supervisor); ``scenario`` is the id its health body reports (the
verifier's expectation and the router's input; a local service's own etc/service.json names it when
the entry does not); ``auto_remediate: false`` makes every incident of that service an escalation
(blocked by policy).

Resolution order: a registered service is attached to; otherwise, with ``--demo-targets``, an
incident carrying a ``scenario`` gets a fresh target with that fault; otherwise it has no target
and is escalated. Attaching works where ``run_incident`` supports it (docker + a container handle,
local + a service root handle); a registered service without a handle is probed (verification
only) and escalated with the reason. An attached service is never stopped or removed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.intake.payloads import Incident, PayloadError
from openhands_driver.scenarios import Catalog

# backend -> the RunConfig fields its attach mode needs (the handle's field first)
ATTACH_FIELDS = {"docker": ("target_container", "target_url"), "local": ("target_root", "target_url")}
ATTACH_BACKENDS = tuple(ATTACH_FIELDS)
KNOWN_BACKENDS = ("local", "docker", "ssh")
HANDLE_MEANING = {"docker": "the container name", "local": "the service root directory"}


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    url: str
    backend: str
    handle: str | None = None
    scenario: str | None = None
    skill_id: str | None = None
    auto_remediate: bool = True
    pause_after_diagnosis: bool = False   # runs stop before their first change for an operator
    toolset: str = "shell"  # shell | api (--toolset): what the agent works with on this service
    # kind ssh: the host targets are provisioned on (user@host[:port]), the key to log in with, known_hosts
    ssh_host: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None


@dataclass(frozen=True)
class TargetPlan:
    """What a run will act on. kind: demo | attach | ssh | verify_only | blocked | none."""

    kind: str
    reason: str
    scenario: str | None = None
    service: ServiceEntry | None = None

    @property
    def runnable(self) -> bool:
        return self.kind in ("demo", "attach", "ssh")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TargetPlan:
        entry = data.get("service")
        return cls(data["kind"], data["reason"], data.get("scenario"),
                   ServiceEntry(**entry) if entry else None)


def load_registry(path: str | Path | None) -> dict[str, ServiceEntry]:
    """Read a registry file; UserError with the fix on problems. None -> empty registry."""
    if path is None:
        return {}
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"service registry not found: {path} (--services / SRE_SERVICE_REGISTRY)") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"service registry {path} is not valid JSON: {exc}") from None
    services = data.get("services", data) if isinstance(data, dict) else None
    if not isinstance(services, dict):
        raise UserError(f"{path}: expected {{\"services\": {{name: {{url, backend, handle}}}}}}")
    services = {k: v for k, v in services.items() if k != "schema_version"}
    entries = {}
    for name, raw in services.items():
        if isinstance(raw, dict) and raw.get("backend") == "ssh":
            entries[name] = _ssh_entry(path, name, raw)
            continue
        if not isinstance(raw, dict) or not isinstance(raw.get("url"), str) or not raw["url"]:
            raise UserError(f"{path}: service {name!r} needs a 'url' (its health URL)")
        backend = raw.get("backend", "local")
        if backend not in KNOWN_BACKENDS:
            raise UserError(f"{path}: service {name!r} has unknown backend {backend!r}; "
                            f"valid backends: {', '.join(KNOWN_BACKENDS)}")
        toolset = raw.get("toolset", "shell")
        if toolset not in ("shell", "api"):
            raise UserError(f"{path}: service {name!r} has unknown toolset {toolset!r}; valid toolsets: "
                            "shell, api")
        entries[name] = ServiceEntry(
            name=name, url=raw["url"], backend=backend,
            handle=raw.get("handle") or raw.get("container"), scenario=raw.get("scenario"),
            skill_id=raw.get("skill_id"), auto_remediate=raw.get("auto_remediate", True) is not False,
            pause_after_diagnosis=raw.get("pause_after_diagnosis") is True,
            toolset=toolset)
    return entries


def _ssh_entry(path: Path, name: str, raw: dict) -> ServiceEntry:
    """A registry entry of kind ssh: host, identity_file (checked now: exit 2 with the fix), scenario."""
    from openhands_driver.target.ssh_link import check_identity_file, check_known_hosts, parse_destination

    where = f"{path}: service {name!r} (backend ssh)"
    if not isinstance(raw.get("host"), str) or not isinstance(raw.get("identity_file"), str):
        raise UserError(f"{where} needs 'host' (user@host[:port]) and 'identity_file' (the private key)")
    if not isinstance(raw.get("scenario"), str) or not raw["scenario"]:
        raise UserError(f"{where} needs 'scenario': the incident its targets are provisioned with")
    try:
        destination = parse_destination(raw["host"])
        check_identity_file(raw["identity_file"])
        check_known_hosts(raw.get("known_hosts"))
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    toolset = raw.get("toolset", "shell")
    if toolset != "shell":
        raise UserError(f"{where}: toolset {toolset!r} is not supported over ssh yet; valid toolsets: shell")
    return ServiceEntry(name=name, url=f"ssh://{destination}", backend="ssh", scenario=raw["scenario"],
                        skill_id=raw.get("skill_id"), auto_remediate=raw.get("auto_remediate", True) is not False,
                        ssh_host=raw["host"], identity_file=raw["identity_file"], known_hosts=raw.get("known_hosts"))


def check_demo_scenario(incident: Incident, catalog: Catalog) -> None:
    """Demo mode: an unknown or unrunnable scenario is a bad payload (HTTP 400)."""
    ids = catalog.ids()
    if incident.scenario not in ids:
        raise PayloadError(f"unknown scenario {incident.scenario!r} for demo target; "
                           f"valid scenarios: {', '.join(ids)}")
    scenario = catalog.get(incident.scenario)
    if not scenario.runnable:
        raise PayloadError(f"scenario {incident.scenario!r} has no local analogue: "
                           f"{scenario.unsupported_reason}")


def _runner_can_attach(backend: str) -> bool:
    names = {f.name for f in dataclasses.fields(RunConfig)}
    return backend in ATTACH_FIELDS and set(ATTACH_FIELDS[backend]) <= names


def _reported_scenario(entry: ServiceEntry) -> str | None:
    """A local service's own scenario id (its etc/service.json), None when it cannot be read."""
    if entry.backend != "local" or not entry.handle:
        return None
    from openhands_driver.target.local import service_root_scenario

    try:
        return service_root_scenario(entry.handle)
    except UserError:
        return None


def resolve(incident: Incident, registry: dict[str, ServiceEntry], *, demo_targets: bool,
            catalog: Catalog | None = None) -> TargetPlan:
    """The target plan of an incident. Raises PayloadError for a bad demo scenario."""
    entry = registry.get(incident.service)
    if entry is not None:
        if not entry.auto_remediate:
            return TargetPlan("blocked", f"policy: the registry entry of {entry.name} sets "
                              "auto_remediate false; a human handles its incidents", entry.scenario, entry)
        if entry.backend == "ssh":
            return TargetPlan("ssh", f"fresh target of scenario {entry.scenario} on ssh host {entry.ssh_host}",
                              entry.scenario, entry)
        scenario = entry.scenario or _reported_scenario(entry) or incident.scenario
        if entry.handle and _runner_can_attach(entry.backend):
            if not scenario:
                return TargetPlan("none", f"registry entry {entry.name} needs 'scenario' (the id its "
                                  "health body reports) to plan and verify a run", None, entry)
            return TargetPlan("attach", f"attach to {entry.backend} {entry.handle} at {entry.url}",
                              scenario, entry)
        meaning = HANDLE_MEANING.get(entry.backend, "the backend's name for the service")
        why = (f"registry entry {entry.name} has no 'handle' ({meaning})" if not entry.handle
               else f"run_incident cannot attach to backend {entry.backend}")
        return TargetPlan("verify_only", f"escalated: cannot attach to {entry.name} ({why}); the "
                          "service was probed, not changed", scenario, entry)
    if demo_targets and incident.scenario:
        if catalog is not None:
            check_demo_scenario(incident, catalog)
        return TargetPlan("demo", f"demo mode: fresh local target with scenario {incident.scenario}",
                          incident.scenario)
    why = ("demo mode is off" if not demo_targets else "the alert carries no 'scenario'")
    return TargetPlan("none", f"no target: service {incident.service!r} is not in the service "
                      f"registry and {why}")


def run_config(plan: TargetPlan, *, run_id: str, base: dict, incident_text: str | None = None) -> RunConfig:
    """The RunConfig of a runnable plan (base: options shared by every run); the agent receives
    the alert as it arrived (``incident_text``)."""
    if not plan.runnable:
        raise ValueError(f"plan {plan.kind} is not runnable: {plan.reason}")
    options = dict(base, scenario=plan.scenario, run_id=run_id, incident_text=incident_text)
    if plan.kind == "ssh":
        assert plan.service is not None
        service = plan.service
        options.update({"backend": "ssh", "skill_id": service.skill_id, "toolset": "shell",
                        "keep_target": False, "pause_after_diagnosis": False,
                        "target_options": {"host": service.ssh_host, "identity_file": service.identity_file,
                                           "known_hosts": service.known_hosts}})
    elif plan.kind == "attach":
        assert plan.service is not None
        service = plan.service
        handle_field = ATTACH_FIELDS[service.backend][0]
        handle = Path(service.handle) if handle_field == "target_root" else service.handle
        options.update({"backend": service.backend, handle_field: handle, "target_url": service.url,
                        "skill_id": service.skill_id, "blind": False,  # a real service: as it is
                        "toolset": service.toolset})
    return RunConfig(**options)
