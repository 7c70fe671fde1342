"""Fault injection for the target service root (stdlib only, Python >= 3.9).

The service root layout is root_layout.py. `init_root` writes a healthy root; `inject` =
`init_root` + one fault from `FAULTS`, exactly once per root (marker `var/lib/fault_injected`),
so a container restart never re-breaks a fixed service. This module is the entry point: it loads
every family and re-exports the registry, the helpers and the layout, so callers import only it.

    faults_core.py        the registry (`register_fault`, `register_layout`), FaultContext, the
                          file helpers, the healthy base layout (`init_root`)
    faults_service.py     the service's own files: stale_lockfile, readiness_probe_fail,
                          port_mismatch, bad_env_config (and `healthy`)
    faults_traffic.py     per-request disruptions: feature_flag, chaos_schedule
    faults_workload.py    the app cannot run: scaled_to_zero, bad_release, crash_loop,
                          resource_limit
    faults_dependency.py  the database is unreachable: bad_credential, dns_misconfig

Adding a fault: in the module of its family (or a new faults_<family>.py imported below), write a
function taking a `FaultContext` and decorate it with `@core.register_fault("name")`; a new family
writes its healthy files with a `@core.register_layout` function. Use the helpers (`read_env`/
`write_env`, `read_service_json`/`write_service_json`, `write_file`, `read_json`/`write_json`) so
every fault edits the files the same way the app reads them. A fault must leave a symptom the
app reports (or a service that does not answer on the probe port) and must be fixable by editing
files under the root (+ a restart when config changes): restarting alone must never fix it. A
fault that keeps the app from running at all (scaled to zero, a release that cannot run, a
crashing start command, an OOM kill) is registered with `keeps_app_down=True`, so a backend waits
for the supervisor's decision instead of an app pid. `FaultContext.params` carries per-incident
details (e.g. which feature flag, which chaos experiment); every injector has deterministic
defaults when params are empty.

CLI (used by the container's start.sh on first boot):
    python faults.py --root DIR --scenario ID --fault NAME --port N [--wrong-port M] [--host H]
                     [--params JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, List, Mapping, Optional

# Siblings are modules of the target_service namespace package when imported from the repo, and
# top-level modules when this file runs as a script (here, or flat in /app inside the container).
# Importing a family registers its faults; `*` re-exports the public names of each module.
if __package__:
    from .root_layout import *  # noqa: F401,F403
    from .faults_core import *  # noqa: F401,F403
    from .faults_service import *  # noqa: F401,F403
    from .faults_traffic import *  # noqa: F401,F403
    from .faults_workload import *  # noqa: F401,F403
    from .faults_dependency import *  # noqa: F401,F403
else:
    from root_layout import *  # noqa: F401,F403
    from faults_core import *  # noqa: F401,F403
    from faults_service import *  # noqa: F401,F403
    from faults_traffic import *  # noqa: F401,F403
    from faults_workload import *  # noqa: F401,F403
    from faults_dependency import *  # noqa: F401,F403


def inject(root: Path, fault: Optional[str], *, scenario_id: str, listen_port: int,
           wrong_port: Optional[int] = None, listen_host: str = DEFAULT_LISTEN_HOST,
           params: Optional[Mapping[str, Any]] = None) -> bool:
    """init_root + apply `fault` (with its per-incident `params`), once per root.
    Returns False (no-op) if already injected."""
    if params is not None and not isinstance(params, Mapping):
        raise ValueError("fault params must be a JSON object, got %r" % (params,))
    name = fault or HEALTHY
    if name not in FAULTS:
        raise ValueError("unknown fault %r; valid faults: %s" % (fault, ", ".join(fault_names())))
    root = Path(root)
    marker = root / INJECTED_MARKER
    if marker.exists():
        return False
    init_root(root, scenario_id, listen_port, listen_host)
    if wrong_port is None:
        wrong_port = listen_port + 1 if listen_port < 65535 else listen_port - 1
    if wrong_port == listen_port:
        raise ValueError("wrong_port must differ from listen_port (both %d)" % listen_port)
    FAULTS[name](FaultContext(root, scenario_id, int(listen_port), int(wrong_port),
                              dict(params or {})))
    write_file(marker, "%s\n" % name)
    return True


# --- CLI -------------------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Inject one fault into a target service root "
                                                 "(once per root).")
    parser.add_argument("--root", required=True, help="service root directory ('/' in a container)")
    parser.add_argument("--scenario", required=True, help="scenario id reported by the service")
    parser.add_argument("--fault", default=HEALTHY,
                        help="fault name (%s); empty or 'healthy' = none" % ", ".join(fault_names()))
    parser.add_argument("--port", type=int, required=True, help="port the service is probed on")
    parser.add_argument("--host", default=DEFAULT_LISTEN_HOST,
                        help="listen_host written to etc/service.json (0.0.0.0 in a container)")
    parser.add_argument("--wrong-port", type=int, default=None,
                        help="port used by port faults (default: --port + 1)")
    parser.add_argument("--params", default="",
                        help="per-incident fault details, a JSON object "
                             "(e.g. '{\"flag\": \"cartFailure\"}')")
    args = parser.parse_args(argv)
    try:
        params = json.loads(args.params) if args.params.strip() else None
    except ValueError as exc:
        print("faults.py: --params is not valid JSON: %s" % exc, file=sys.stderr)
        return 2
    try:
        done = inject(Path(args.root), args.fault or None, scenario_id=args.scenario,
                      listen_port=args.port, wrong_port=args.wrong_port,
                      listen_host=args.host, params=params)
    except (ValueError, OSError) as exc:
        print("faults.py: %s" % exc, file=sys.stderr)
        return 2
    if done:
        print("faults.py: injected fault %r into %s" % (args.fault or HEALTHY, args.root))
    else:
        print("faults.py: %s already initialised (%s present); nothing to do"
              % (args.root, INJECTED_MARKER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
