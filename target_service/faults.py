"""Fault injection, variants, oracles and snapshots for a target service root (stdlib only).

The service root layout is root_layout.py. `init_root` writes a healthy root; `inject` =
`init_root` + one fault class, exactly once per root (marker `var/lib/provisioned`), so a
container restart never re-breaks a fixed service. This module is the entry point: it loads the
healthy-layout families and every fault-class module `fault_<name>.py` beside it (one module per
class: generator, injection, symptom, oracle, decoys; see faults_core.py), and re-exports the
registry, the helpers and the layout, so callers import only it.

    faults_core.py     the registry (`register_class`, `register_layout`), FaultClass, Check,
                       FaultContext, symptoms/alerts, the file helpers, the healthy base layout
    faults_<family>.py the healthy files of a family of the service's features
    fault_<name>.py    one fault class each

Adding a fault class = one `fault_<name>.py` (a FaultClass with @register_class) + one skill.

CLI (the container's start.sh on first boot; the runner, inside the target's context):
    python faults.py --root DIR --scenario ID --fault NAME --port N [--params JSON] [--service S]
    python faults.py --root DIR --scenario ID --faults '[{"fault": A, "params": {}}, ...]' --port N
    python faults.py oracle --root DIR --fault NAME --params JSON     -> JSON checks
    python faults.py oracle --root DIR --faults JSON                  -> every injection's checks
    python faults.py snapshot --root DIR                                -> JSON {path: sha256}
    python faults.py texts --root DIR --paths '["etc/flags.json"]'       -> JSON {path: text or null}
    python faults.py variant --fault NAME --seed N                      -> JSON variant
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib
import json
import os
import re
import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

# Siblings are modules of the target_service namespace package when imported from the repo, and
# top-level modules when this file runs as a script (here, or flat in /app inside the container).
# Importing a family registers its layout/faults; `*` re-exports the public names of each module.
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


def _load_fault_classes() -> None:
    """Import every fault_<name>.py beside this file (each registers its class)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "fault_*.py"))):
        module = os.path.splitext(os.path.basename(path))[0]
        importlib.import_module(("%s.%s" % (__package__, module)) if __package__ else module)


_load_fault_classes()


def fault_class(name: str) -> FaultClass:
    if name not in FAULT_CLASSES:
        raise ValueError("unknown fault class %r; valid: %s" % (name, ", ".join(sorted(FAULT_CLASSES))))
    return FAULT_CLASSES[name]


def make_variant(fault: str, seed: int) -> Dict[str, Any]:
    """The concrete incident of fault class `fault` for `seed`: same seed, same incident.

    Returns {fault_class, seed, service, params, entity, decoys, may_change, symptom, alert}.
    `params` go to inject() (FAULT_PARAMS in a container); `alert` is what the agent is paged
    with; entity/decoys/may_change are ground truth, never shown to the agent."""
    cls = fault_class(fault)
    rng = random.Random("%s/%d" % (fault, int(seed)))
    service = rng.choice(SERVICE_NAMES)
    params = dict(cls.generate(rng))
    params["service"] = service
    symptom = cls.symptom(params)
    return {"fault_class": fault, "seed": int(seed), "service": service, "params": params,
            "entity": cls.entity(params), "decoys": list(cls.decoys(params)),
            "may_change": list(cls.may_change(params)), "symptom": symptom,
            "alert": render_alert(symptom, service, rng)}


def run_oracle(root: Path, fault: Optional[str], params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The fault class's oracle on this root: {"passed", "checks": [...]} (no class: healthy)."""
    name = fault or HEALTHY
    checks = fault_class(name).oracle(Path(root), dict(params or {})) if name in FAULT_CLASSES else []
    return {"fault_class": name, "passed": all(c.passed for c in checks),
            "checks": [c.to_dict() for c in checks]}


def snapshot(root: Path, dirs: Optional[List[str]] = None) -> Dict[str, str]:
    """{relative path: sha256 (or "symlink:<target>")} of every file under the snapshot dirs,
    volatile paths (logs, pids, caches) left out: the before/after of a collateral check."""
    root = Path(root)
    found: Dict[str, str] = {}
    for top in dirs or SNAPSHOT_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for current, subdirs, files in os.walk(str(base)):
            subdirs.sort()
            for name in sorted(files):
                path = Path(current) / name
                rel = path.relative_to(root).as_posix()
                if any(rel.startswith(prefix) or ("/" + prefix) in ("/" + rel) for prefix in VOLATILE):
                    continue
                try:
                    if path.is_symlink():
                        found[rel] = "symlink:%s" % os.readlink(str(path))
                    else:
                        found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    found[rel] = "unreadable"
    return found


_SECRET_PATH = re.compile(r"secret|vault|credential|passw|token|private|\.key$|/auth$|/auth/", re.I)
_SECRET_LINE = re.compile(r"^(\s*[\w.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|CREDENTIAL)[\w.-]*\s*[=:]\s*).+$",
                          re.I | re.M)
TEXT_LIMIT = 4096


def texts(root: Path, paths: List[str], limit: int = TEXT_LIMIT) -> Dict[str, Optional[str]]:
    """{relative path: text} of the given files (a path ending in "/": the files under it) that
    are small UTF-8 text, for a before/after diff of the fix. Secret-looking files are left out
    (None) and secret-looking ``KEY=value`` lines masked: the diff is shown and traced."""
    root = Path(root)
    wanted: List[str] = []
    for rel in paths:
        base = root / rel
        if rel.endswith("/") and base.is_dir():
            wanted += sorted(p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file())
        elif base.is_file():
            wanted.append(rel)
    found: Dict[str, Optional[str]] = {}
    for rel in wanted:
        if _SECRET_PATH.search(rel):
            found[rel] = None
            continue
        try:
            data = (root / rel).read_bytes()
            found[rel] = _SECRET_LINE.sub(r"\1<masked>", data.decode("utf-8")) if len(data) <= limit else None
        except (OSError, UnicodeDecodeError):
            found[rel] = None
    return found


def fault_specs(specs: Any) -> List[Dict[str, Any]]:
    """Normalise a list of injections [{"fault": name, "params": {...}}, ...] (also accepted:
    "fault_class" for "fault", or [name, params] pairs); ValueError on anything else."""
    if not isinstance(specs, (list, tuple)) or not specs:
        raise ValueError("faults must be a non-empty list of {fault, params} objects, got %r" % (specs,))
    out = []
    for spec in specs:
        if isinstance(spec, (list, tuple)) and len(spec) == 2:
            name, params = spec
        elif isinstance(spec, Mapping):
            name, params = spec.get("fault", spec.get("fault_class")), spec.get("params")
        else:
            raise ValueError("each injection must be {fault, params}, got %r" % (spec,))
        if params is not None and not isinstance(params, Mapping):
            raise ValueError("fault params must be a JSON object, got %r" % (params,))
        name = name or HEALTHY
        if name not in FAULTS:
            raise ValueError("unknown fault %r; valid faults: %s" % (name, ", ".join(fault_names())))
        out.append({"fault": name, "params": dict(params or {})})
    return out


def inject(root: Path, fault: Optional[str], *, scenario_id: str, listen_port: int,
           wrong_port: Optional[int] = None, listen_host: str = DEFAULT_LISTEN_HOST,
           params: Optional[Mapping[str, Any]] = None,
           faults: Optional[List[Mapping[str, Any]]] = None) -> bool:
    """init_root + apply `fault` (with its per-incident `params`), once per root.
    `faults` ([{fault, params}, ...]) applies several injections together instead (one healthy
    root, each class's injector in order, one marker); `fault`/`params` are then ignored.
    Returns False (no-op) if already injected."""
    if params is not None and not isinstance(params, Mapping):
        raise ValueError("fault params must be a JSON object, got %r" % (params,))
    specs = fault_specs(faults) if faults else fault_specs([{"fault": fault, "params": params}])
    root = Path(root)
    marker = root / INJECTED_MARKER
    if marker.exists():
        return False
    service = str(specs[0]["params"].get("service") or "checkout")
    init_root(root, scenario_id, listen_port, listen_host, service=service)
    if wrong_port is None:
        wrong_port = listen_port + 1 if listen_port < 65535 else listen_port - 1
    if wrong_port == listen_port:
        raise ValueError("wrong_port must differ from listen_port (both %d)" % listen_port)
    for spec in specs:  # one service: every injection sees the first one's service name
        FAULTS[spec["fault"]](FaultContext(root, scenario_id, int(listen_port), int(wrong_port),
                                           dict(spec["params"], service=service), service))
    write_file(marker, "provisioned\n")  # names nothing: the agent can read the root
    return True


def run_oracles(root: Path, specs: Any) -> Dict[str, Any]:
    """Every injection's oracle: {"passed": all passed, "checks": [...] (each named by its class
    when there are several), "by_fault": [{fault_class, passed, checks}]}."""
    found = [run_oracle(root, spec["fault"], spec["params"]) for spec in fault_specs(specs)]
    many = len(found) > 1
    checks = [dict(c, check="%s: %s" % (f["fault_class"], c["check"])) if many else c
              for f in found for c in f["checks"]]
    return {"fault_class": found[0]["fault_class"], "passed": all(f["passed"] for f in found),
            "checks": checks, "by_fault": found}


# --- CLI -------------------------------------------------------------------------------------

def _tool_main(argv: List[str]) -> int:
    """oracle | snapshot | texts | variant (JSON on stdout)."""
    parser = argparse.ArgumentParser(prog="faults.py %s" % argv[0])
    parser.add_argument("--root", default="/")
    parser.add_argument("--fault", default=HEALTHY)
    parser.add_argument("--params", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", default="", help="several injections: JSON [{fault, params}]")
    parser.add_argument("--paths", default="[]", help="texts: JSON list of relative paths (dirs end in /)")
    args = parser.parse_args(argv[1:])
    try:
        params = json.loads(args.params) if args.params.strip() else {}
        if argv[0] == "oracle" and args.faults.strip():
            out: Any = run_oracles(Path(args.root), json.loads(args.faults))
        elif argv[0] == "oracle":
            out = run_oracle(Path(args.root), args.fault, params)
        elif argv[0] == "snapshot":
            out = snapshot(Path(args.root))
        elif argv[0] == "texts":
            out = texts(Path(args.root), [str(p) for p in json.loads(args.paths)])
        else:
            out = make_variant(args.fault, args.seed)
    except ValueError as exc:
        print("faults.py: %s" % exc, file=sys.stderr)
        return 2
    print(json.dumps(out, sort_keys=True))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["oracle"], ["snapshot"], ["texts"], ["variant"]):
        return _tool_main(argv)
    parser = argparse.ArgumentParser(description="Inject one fault into a target service root "
                                                 "(once per root).")
    parser.add_argument("--root", required=True, help="service root directory ('/' in a container)")
    parser.add_argument("--scenario", default=None,
                        help="instance id reported by the service in its health body")
    parser.add_argument("--provision-file", default=None,
                        help="JSON file {instance, fault, params[, faults: [{fault, params}]]} "
                             "(instead of --scenario/--fault/--params)")
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
    parser.add_argument("--faults", default="",
                        help="several injections applied together, a JSON list [{fault, params}]")
    args = parser.parse_args(argv)
    many = None
    try:
        params = json.loads(args.params) if args.params.strip() else None
        many = json.loads(args.faults) if args.faults.strip() else None
    except ValueError as exc:
        print("faults.py: --params is not valid JSON: %s" % exc, file=sys.stderr)
        return 2
    try:
        if args.provision_file:
            with open(args.provision_file, encoding="utf-8") as handle:
                provision = json.load(handle)
            args.scenario, args.fault = provision["instance"], provision.get("fault") or HEALTHY
            params = provision.get("params") or None
            many = provision.get("faults") or None
    except (ValueError, OSError, KeyError, TypeError) as exc:
        print("faults.py: bad --provision-file %s: %s" % (args.provision_file, exc), file=sys.stderr)
        return 2
    if not args.scenario:
        print("faults.py: give --scenario ID (or --provision-file)", file=sys.stderr)
        return 2
    try:
        done = inject(Path(args.root), args.fault or None, scenario_id=args.scenario,
                      listen_port=args.port, wrong_port=args.wrong_port,
                      listen_host=args.host, params=params, faults=many)
    except (ValueError, OSError) as exc:
        print("faults.py: %s" % exc, file=sys.stderr)
        return 2
    if done:  # says nothing about which fault: the container's log is readable by the agent
        print("faults.py: provisioned %s" % args.root)
    else:
        print("faults.py: %s already initialised (%s present); nothing to do"
              % (args.root, INJECTED_MARKER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
