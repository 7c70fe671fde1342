"""Target backends: the broken service of one incident, chosen by name.

    from openhands_driver.target import create_target
    with create_target("local", scenario_id="stale_lockfile", fault="stale_lockfile") as target:
        target.exec(["ls", "var/lock"])

Adding a backend: implement `Target` (base.py) in a module of this package and add a line to
BACKENDS ("name": "module:Class"). The class is constructed as
`cls(scenario_id=..., fault=..., port=..., root=..., **kw)` (port/root may be None = choose).
Modules are imported lazily, so a backend's heavy dependencies (e.g. the docker SDK) are only
loaded when that backend is used. docker_engine.py has the label-based cleanup helper
(`remove_run_containers`) and the image build (`build_image`), both importable from docker.py.
Both backends attach to a service somebody else runs (docker: container=NAME; local:
attach=True, root=DIR, url=URL) and then never stop or remove it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from openhands_driver.target.base import CommandResult, Target, TargetError

BACKENDS: dict[str, str] = {
    "local": "openhands_driver.target.local:LocalTarget",
    "docker": "openhands_driver.target.docker:DockerTarget",
    "worker": "openhands_driver.target.worker:WorkerTarget",  # inside an agent-server worker (orchestrator)
    "ssh": "openhands_driver.target.ssh:SSHTarget",  # on another host, over the system OpenSSH client
}

__all__ = ["BACKENDS", "CommandResult", "Target", "TargetError", "create_target", "backend_class"]


def backend_class(backend: str) -> type[Target]:
    """Import and return the Target subclass registered for `backend`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown target backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    module_name, _, class_name = BACKENDS[backend].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the backend exists but one of its dependencies is missing: show that
        raise TargetError(f"target backend {backend!r} is not installed yet: module {module_name} "
                          f"does not exist; use backend 'local'") from None
    return getattr(module, class_name)


def create_target(backend: str = "local", *, scenario_id: str, fault: str | None,
                  port: int | None = None, root: Path | None = None, **kw: Any) -> Target:
    """Build (not start) a target. Start it with `.start()` or `with create_target(...) as t:`."""
    cls = backend_class(backend)
    return cls(scenario_id=scenario_id, fault=fault, port=port, root=root, **kw)
