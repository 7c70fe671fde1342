"""Fault class service_routing: the routing entry in front of the service (a Service's targetPort
or selector) is wrong, or was deleted, while the instance itself is fine.

etc/service.json names the route map (`routes_file`; app_routes.py) and the instance's `labels`;
every request is routed by the map's entry for the service: selector must match the labels,
targetPort must be the instance's listen port. A change set targetPort to another port (e.g. the
metrics port), changed the selector (a version label no instance has), or deleted the entry:
there is no healthy upstream and every request gets 503. The deployed manifest of the route is
kept under opt/ (the reference to restore from). The fix: that one entry back to the manifest
(re-read per request: no restart). Moving the instance to the wrong port, relabelling the
instance to match a wrong selector or deleting the route map do not count. Decoys: the manifest
copy, the other entry of the map (the metrics route) and the instance's labels.

Variants (by seed): where the map lives ({svc} = the service's name), how it is wrong (target
port, selector, deleted), the wrong selector. ITBench params: {"breakage": "target_port",
"target_port": 8080} (used unless it equals the instance's listen port, then the next port).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_service_routing (the runner, the tests)
    from . import faults_core as core, faults_service as service
    from .app_routes import find_route, route_problem
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    from app_routes import find_route, route_problem

FILES = ("etc/routes.json", "etc/mesh/routes.json", "etc/{svc}/service-routes.json", "srv/router/routes.json",
         "etc/proxy/{svc}.routes.json")
BREAKAGES = ("target_port", "selector", "deleted")
SELECTORS = ({"app": "{svc}-v2"}, {"app": "{svc}", "version": "v2"}, {"app": "{svc}", "track": "canary"},
             {"app": "{svc}-svc"})


@core.register_class
class ServiceRouting(core.FaultClass):
    name = "service_routing"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"routes_file": rng.choice(FILES), "breakage": rng.choice(BREAKAGES),
                "selector": dict(rng.choice(SELECTORS)), "metrics_port": rng.randint(9100, 9199)}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        breakage = str(params.get("breakage") or "target_port")
        if breakage not in BREAKAGES:
            raise ValueError("service_routing: unknown breakage %r; valid: %s" % (breakage, ", ".join(BREAKAGES)))
        selector = params.get("selector") if isinstance(params.get("selector"), dict) else SELECTORS[0]
        return {"svc": svc, "file": str(params.get("routes_file") or FILES[0]).replace("{svc}", svc),
                "breakage": breakage, "selector": {k: str(v).replace("{svc}", svc) for k, v in selector.items()},
                "target_port": params.get("target_port"),
                "metrics_port": int(params.get("metrics_port") or service.DEFAULT_METRICS_PORT),
                "manifest": "opt/%s/manifests/service.json" % svc}

    @staticmethod
    def labels(p: Mapping[str, Any]) -> Dict[str, str]:
        return {"app": p["svc"], "tier": "backend"}

    @staticmethod
    def good_route(p: Mapping[str, Any], port: int) -> Dict[str, Any]:
        return {"service": p["svc"], "port": 80, "selector": {"app": p["svc"]}, "targetPort": port}

    @staticmethod
    def metrics_route(p: Mapping[str, Any]) -> Dict[str, Any]:
        return {"service": "%s-metrics" % p["svc"], "port": 9090, "selector": {"app": p["svc"]},
                "targetPort": p["metrics_port"]}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        port = ctx.listen_port
        good = self.good_route(p, port)
        core.write_json(ctx.root / p["manifest"], {"apiVersion": "v1", "kind": "Service",
                                                    "metadata": {"name": p["svc"]}, "route": good})
        route = dict(good)
        if p["breakage"] == "target_port":
            wrong = p["target_port"] if isinstance(p["target_port"], int) else p["metrics_port"]
            route["targetPort"] = wrong if wrong != port else port + 1
        elif p["breakage"] == "selector":
            route["selector"] = dict(p["selector"])
        routes = [self.metrics_route(p)] + ([] if p["breakage"] == "deleted" else [route])
        core.write_json(ctx.root / p["file"], {"routes": routes})
        config = core.read_service_json(ctx.root)
        config["routes_file"], config["labels"] = p["file"], self.labels(p)
        config.setdefault("metrics", {"port": p["metrics_port"], "path": "/metrics"})
        config["metrics"]["port"] = p["metrics_port"]
        core.write_service_json(ctx.root, config)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "unavailable"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["file"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["manifest"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        port, _source = service.effective_port(root)
        expected = service.upstream_port(root)
        raw = core.service_json_or_empty(root)
        problem = route_problem(root, p["svc"], port if isinstance(port, int) else None)
        metrics = find_route(root, p["file"], "%s-metrics" % p["svc"])
        manifest_ok = core.json_field(root / p["manifest"], "route") == self.good_route(p, expected)
        return [
            core.Check("the service still routes through its route map", raw.get("routes_file") == p["file"],
                       "routes_file in etc/service.json: %r" % (raw.get("routes_file"),)),
            core.Check("the route reaches the instance", problem is None, problem or "routed"),
            core.listen_port_check(port, expected),
            core.Check("the instance's labels are unchanged", raw.get("labels") == self.labels(p),
                       "labels: %r" % (raw.get("labels"),)),
            core.Check("the metrics route is unchanged", metrics == self.metrics_route(p), "%r" % (metrics,)),
            core.Check("the deployed manifest is unchanged", manifest_ok, p["manifest"]),
        ]
