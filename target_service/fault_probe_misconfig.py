"""Fault class probe_misconfig: the readiness probe is aimed at the wrong port or path while the
app itself is healthy.

The supervisor probes the app as the probe definition file says (`probes_file` in
etc/service.json; app_probes.py): GET http://127.0.0.1:<readiness.port><readiness.path>. The app
serves its health endpoint at /healthz on its listen port. A change pointed the readiness probe at
another port (connection refused) or another path (HTTP 404), so the instance never passes its
probe and stays out of rotation: every request gets 503 although the app runs fine. The fix: the
readiness probe's port and path back to the app's listen port and /healthz (the supervisor re-reads
the file at every probe; no restart needed). Restarting, touching the probe state, or deleting the
probe definition do not count. Decoys: the liveness probe beside it (correct, with deliberately
slow timings) and an old copy of the definition from before the port moved (`*.orig`; restoring
it aims the probe at the old port).

Variants (by seed): where the definition lives ({svc} = the service's name), how it is wrong (port
or path), the wrong path, the liveness timings. The wrong port is the target's `wrong_port`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_probe_misconfig (the runner, the tests)
    from . import faults_core as core, faults_service as service
    from .app_probes import HEALTH_PATH
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    from app_probes import HEALTH_PATH

FILES = ("etc/probes.json", "etc/{svc}/probes.json", "etc/kubelet/{svc}.probes.json", "etc/health/probes.json",
         "srv/{svc}/probes.json")
BREAKAGES = ("port", "path")
WRONG_PATHS = ("/ready", "/health", "/healthz/ready", "/readyz", "/status")


@core.register_class
class ProbeMisconfig(core.FaultClass):
    name = "probe_misconfig"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"probes_file": rng.choice(FILES), "breakage": rng.choice(BREAKAGES),
                "wrong_path": rng.choice(WRONG_PATHS), "liveness_period": rng.choice((10, 15, 20, 30)),
                "liveness_failures": rng.choice((3, 5, 6, 10))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        breakage = str(params.get("breakage") or "port")
        if breakage not in BREAKAGES:
            raise ValueError("probe_misconfig: unknown breakage %r; valid: %s" % (breakage, ", ".join(BREAKAGES)))
        rel = str(params.get("probes_file") or FILES[0]).replace("{svc}", svc)
        return {"file": rel, "backup": rel + ".orig", "breakage": breakage,
                "wrong_path": str(params.get("wrong_path") or WRONG_PATHS[0]),
                "liveness_period": int(params.get("liveness_period") or 10),
                "liveness_failures": int(params.get("liveness_failures") or 3)}

    @staticmethod
    def liveness(p: Mapping[str, Any], port: int) -> Dict[str, Any]:
        return {"port": port, "path": HEALTH_PATH, "periodSeconds": p["liveness_period"],
                "failureThreshold": p["liveness_failures"], "timeoutSeconds": 2}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        port = ctx.listen_port
        wrong_port = int(ctx.wrong_port if ctx.wrong_port is not None else port + 1)
        readiness = {"port": port, "path": HEALTH_PATH, "periodSeconds": 1, "timeoutSeconds": 1}
        if p["breakage"] == "port":
            readiness["port"] = wrong_port
        else:
            readiness["path"] = p["wrong_path"]
        core.write_json(ctx.root / p["file"], {"readiness": readiness, "liveness": self.liveness(p, port)})
        core.write_json(ctx.root / p["backup"], {
            "readiness": {"port": 8080, "path": HEALTH_PATH, "periodSeconds": 1, "timeoutSeconds": 1},
            "liveness": {"port": 8080, "path": HEALTH_PATH, "periodSeconds": 10, "failureThreshold": 3},
            "comment": "before the listen port moved"})
        config = core.read_service_json(ctx.root)
        config["probes_file"] = p["file"]
        core.write_service_json(ctx.root, config)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "unavailable"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["file"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["backup"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        port, _source = service.effective_port(root)
        named = core.service_setting(root, "probes_file")
        try:
            data = core.read_json(root / p["file"])
        except (OSError, ValueError) as exc:
            data = {"error": str(exc)}
        readiness = data.get("readiness") if isinstance(data, dict) else None
        readiness = readiness if isinstance(readiness, dict) else {}
        liveness = data.get("liveness") if isinstance(data, dict) else None
        backup_ok = core.json_field(root / p["backup"], "comment") == "before the listen port moved"
        return [
            core.Check("the supervisor still reads the probe definition", named == p["file"],
                       "probes_file in etc/service.json: %r" % (named,)),
            core.Check("the readiness probe targets the app's listen port", readiness.get("port") == port,
                       "readiness.port %r, app listens on %r (%s)" % (readiness.get("port"), port, p["file"])),
            core.Check("the readiness probe targets the health endpoint", readiness.get("path") == HEALTH_PATH,
                       "readiness.path %r (the app serves %s)" % (readiness.get("path"), HEALTH_PATH)),
            core.Check("the liveness probe is unchanged", liveness == self.liveness(p, port),
                       "liveness: %r" % (liveness,)),
            core.Check("the old copy of the definition is unchanged", backup_ok, p["backup"]),
        ]
