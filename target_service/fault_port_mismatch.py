"""Fault class port_mismatch: the service listens on another port than the one it is reached on.

The load balancer (etc/upstream.json) and the probe reach the service on its port (`targetctl
info`: expected port); a config change made the app listen elsewhere, so every probe gets
connection refused while the process runs happily. The app takes its port from `listen_port` in
etc/service.json, overridden by `server.port` there, by drop-ins etc/service.d/*.json and by
`PORT` in etc/service.env (app_service.resolve_port); its start log says which one it used. The
port is read at start: the fix is the setting that carries the wrong port, then a restart.
Decoys: etc/upstream.json (the load balancer's side must stay as it is) and `metrics.port` in
etc/service.json (a second listener; a careless search-and-replace of ports changes it).

Variants (by seed): which setting carries the wrong port (listen_port, server.port, a drop-in file
with a seeded name, PORT in the env file) and the metrics port. The wrong port itself is the
target's (`FaultContext.wrong_port`, a free port).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_port_mismatch (the runner, the tests)
    from . import faults_core as core, faults_service as service, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    import root_layout as layout

SOURCES = ("listen_port", "server.port", "env", "dropin")
DROPIN_NAMES = ("50-canary.json", "10-rollout.json", "90-local.json", "20-{svc}-tuning.json",
                "override.json")


@core.register_class
class PortMismatch(core.FaultClass):
    name = "port_mismatch"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"source": rng.choice(SOURCES), "dropin": rng.choice(DROPIN_NAMES),
                "metrics_port": rng.randint(9100, 9199)}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        source = str(params.get("source") or "listen_port")
        if source not in SOURCES:
            raise ValueError("port_mismatch: unknown source %r; valid: %s" % (source, ", ".join(SOURCES)))
        dropin = "%s/%s" % (service.DROPIN_DIR,
                            str(params.get("dropin") or DROPIN_NAMES[0]).replace("{svc}", svc))
        files = {"listen_port": layout.SERVICE_JSON, "server.port": layout.SERVICE_JSON,
                 "env": layout.SERVICE_ENV, "dropin": dropin}
        keys = {"listen_port": "listen_port", "server.port": "server.port", "env": "PORT",
                "dropin": "listen_port"}
        return {"source": source, "file": files[source], "key": keys[source],
                "metrics_port": int(params.get("metrics_port") or service.DEFAULT_METRICS_PORT)}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        wrong = int(ctx.wrong_port if ctx.wrong_port is not None else ctx.listen_port + 1)
        config = core.read_service_json(ctx.root)
        config["metrics"] = {"port": p["metrics_port"], "path": "/metrics"}
        if p["source"] == "listen_port":
            config["listen_port"] = wrong
        elif p["source"] == "server.port":
            config["server"] = {"port": wrong, "keepalive_s": 75}
        core.write_service_json(ctx.root, config)
        if p["source"] == "env":
            values = core.read_env(ctx.root)
            values["PORT"] = str(wrong)
            core.write_env(ctx.root, values)
        elif p["source"] == "dropin":
            core.write_json(ctx.root / p["file"], {"listen_port": wrong, "keepalive_s": 75,
                                                   "comment": "rollout 2024-05-02"})

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "down"

    def entity(self, params: Mapping[str, Any]) -> str:
        p = self._p(params)
        return "%s:%s" % (p["file"], p["key"])

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [service.UPSTREAM_JSON]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        port, source = service.effective_port(root)
        expected = service.upstream_port(root)
        try:
            metrics = (core.read_service_json(root).get("metrics") or {}).get("port")
        except (OSError, ValueError, AttributeError):
            metrics = None
        return [
            core.Check("the service's configured listen port is the port it is reached on",
                       expected is not None and port == expected,
                       "listen port %r (from %s); %s forwards to %r"
                       % (port, source, service.UPSTREAM_JSON, expected)),
            core.Check("the metrics listener's port is unchanged", metrics == p["metrics_port"],
                       "metrics.port in %s: %r (was %d)" % (layout.SERVICE_JSON, metrics,
                                                            p["metrics_port"])),
        ]
