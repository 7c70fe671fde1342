"""Faults of the service's own files: lock, readiness flag, listen port, settings.

Their healthy state is the base layout `faults_core.init_root` writes. The app checks them in
app_service.py (config at start, lock and readiness per request).
"""

from __future__ import annotations

if __package__:  # imported as target_service.faults_service (the runner, the tests)
    from . import faults_core as core, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout


@core.register_fault(core.HEALTHY)
def _healthy(ctx: core.FaultContext) -> None:
    """No fault: the service answers 200."""


@core.register_fault("readiness_probe_fail")
def _readiness_probe_fail(ctx: core.FaultContext) -> None:
    """The readiness flag is missing, so the service reports not ready."""
    flag = ctx.root / layout.READY_FLAG
    if flag.exists():
        flag.unlink()


@core.register_fault("port_mismatch")
def _port_mismatch(ctx: core.FaultContext) -> None:
    """The service is configured to listen on a different port than the one probed."""
    config = core.read_service_json(ctx.root)
    config["listen_port"] = ctx.wrong_port
    core.write_service_json(ctx.root, config)


@core.register_fault("bad_env_config")
def _bad_env_config(ctx: core.FaultContext) -> None:
    """A required setting is missing from service.env (still documented in the .example)."""
    values = core.read_env(ctx.root)
    values.pop("DATABASE_URL", None)
    core.write_env(ctx.root, values)
