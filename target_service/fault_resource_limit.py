"""Fault class resource_limit: the app's memory limit is below its working set: killed at start.

The supervisor reads the app container's limits from the file named by `limits_file` in
etc/service.json (`resources.limits.memory`, a quantity like 256Mi / 300M / 262144Ki / 0.25Gi)
and passes it to the app, which exits with 137 (OOMKilled) when its real peak RSS (~40 MiB) is
above it; the supervisor restarts it with back-off, forever. Here the memory limit was lowered to
a value between 8 and 24 MiB, written in varying units. Restarting never helps.

Decoys: the CPU limit in the same file (unrelated, must keep its value) and a sidecar's limits
file beside it with a small but correct memory limit (a log shipper / metrics agent needs
little): a careless "raise every memory limit" or "bump all limits" changes them.

Variants (by seed): the limits file and directory, the too-low value and its unit, the CPU
limit, the sidecar and its limit.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_resource_limit (the runner, the tests)
    from . import faults_core as core, faults_workload as wl, root_layout as layout
    from .workload_spec import parse_quantity  # the one reader of memory quantities
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_workload as wl
    import root_layout as layout
    from workload_spec import parse_quantity

LIMIT_DIRS = ("etc/resources", "etc/{svc}/resources", "etc/deploy/{svc}", "etc/limits.d")
APP_FILES = ("{svc}.json", "app.json", "server.json", "{svc}-app.json")
TOO_LOW = ("8Mi", "12Mi", "16Mi", "20Mi", "24Mi", "16M", "20M", "12288Ki", "20480Ki", "0.015Gi")
CPU = ("250m", "500m", "1", "750m", "2")
SIDECARS = (("log-shipper", "32Mi"), ("metrics-agent", "24Mi"), ("envoy", "48Mi"),
            ("config-reloader", "16Mi"))
MIN_OK_MIB = 64.0   # the app's working set is ~40 MiB; a fixed limit leaves headroom
DEFAULTS = {"limits_file": layout.LIMITS_JSON, "memory": "16Mi", "cpu": "500m",
            "sidecar": "log-shipper", "sidecar_memory": "32Mi", "sidecar_file": "etc/limits.d/log-shipper.json"}


def _load(root: Path, rel: str) -> Any:
    try:
        return json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _limits(doc: Any) -> Dict[str, Any]:
    if not isinstance(doc, dict):
        return {}
    if "memory_mb" in doc:
        return {"memory": "%sM" % doc["memory_mb"] if isinstance(doc["memory_mb"], int) else None}
    resources = doc.get("resources") if isinstance(doc.get("resources"), dict) else {}
    limits = resources.get("limits")
    return limits if isinstance(limits, dict) else {}


def _container(name: str, memory: str, cpu: str, request: str) -> dict:
    return {"container": name, "resources": {"limits": {"memory": memory, "cpu": cpu},
                                             "requests": {"memory": request, "cpu": "100m"}}}


@core.register_class
class ResourceLimit(core.FaultClass):
    name = "resource_limit"
    keeps_app_down = True

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        limit_dir = rng.choice(LIMIT_DIRS)
        sidecar, sidecar_memory = rng.choice(SIDECARS)
        return {"limits_file": "%s/%s" % (limit_dir, rng.choice(APP_FILES)),
                "memory": rng.choice(TOO_LOW), "cpu": rng.choice(CPU), "sidecar": sidecar,
                "sidecar_memory": sidecar_memory,
                "sidecar_file": "%s/%s.json" % (limit_dir, sidecar)}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        merged = dict(DEFAULTS)
        merged.update({k: v for k, v in params.items() if k in DEFAULTS and v not in (None, "")})
        for key in ("limits_file", "sidecar_file"):
            merged[key] = wl.svc_path(params, merged[key])
        mib = parse_quantity(merged["memory"])
        if mib is None or mib >= 30:
            raise ValueError("resource_limit memory must be a quantity below the app's working set "
                             "(< 30Mi), got %r" % merged["memory"])
        return merged

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        wl.clear_healthy_workload(ctx.root, "limits")
        core.write_json(ctx.root / p["limits_file"], _container(ctx.service, p["memory"], p["cpu"], p["memory"]))
        core.write_json(ctx.root / p["sidecar_file"], _container(p["sidecar"], p["sidecar_memory"], "100m",
                                                                 p["sidecar_memory"]))
        wl.set_locations(ctx.root, limits_file=p["limits_file"])

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "down"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["limits_file"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["sidecar_file"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["limits_file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        doc = _load(root, p["limits_file"])
        limits = _limits(doc)
        mib = parse_quantity(limits.get("memory"))
        sidecar = _limits(_load(root, p["sidecar_file"]))
        return [
            core.Check("the app's memory limit covers its working set with headroom",
                       mib is not None and mib >= MIN_OK_MIB,
                       "%s: memory limit %r (%s MiB; needs >= %.0f)" % (
                           p["limits_file"], limits.get("memory"),
                           "?" if mib is None else "%.0f" % mib, MIN_OK_MIB)),
            core.Check("the CPU limit is unchanged", limits.get("cpu") == p["cpu"],
                       "%s: cpu %r (was %r)" % (p["limits_file"], limits.get("cpu"), p["cpu"])),
            core.Check("the sidecar's limits are unchanged", sidecar.get("memory") == p["sidecar_memory"],
                       "%s: memory %r (was %r)" % (p["sidecar_file"], sidecar.get("memory"),
                                                   p["sidecar_memory"])),
        ]
