"""Fault class wrong_peer_address: an environment setting that holds a peer service's address
(named the OpenTelemetry Demo way, e.g. QUOTE_ADDR=quote:8090) was changed to a wrong value.

The service calls the peers listed in etc/service.json (`peers`) at the addresses in its
`<PEER>_ADDR` settings (etc/service.env, read at start; app_peers.py); the service registry
(var/lib/registry/services.json by default, or `registry_file`) says where each peer really
answers. With a wrong port the call is refused, with a wrong host it does not resolve: every
request fails (HTTP 500) and the log names the setting. The fix: put the registered address back
in that one setting and restart. Decoys: the registry itself (making the registry agree with the
wrong value "fixes" nothing real) and the other peers' address settings, one with an unusual but
correct value. Deleting the setting does not help (the address is then missing).

Variants (by seed): which peer (OpenTelemetry Demo names), how the value is wrong (port zeroed as
in ITBench, a neighbouring port, a host that does not exist), the other peers, where the registry
lives. ITBench params: {"variable": "QUOTE_ADDR", "value": "quote:0000"}.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_wrong_peer_address (the runner, the tests)
    from . import faults_core as core
    from .app_peers import DEFAULT_REGISTRY, address_problem, peer_variable
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    from app_peers import DEFAULT_REGISTRY, address_problem, peer_variable

# OpenTelemetry Demo services and the ports they listen on.
PEERS = {"quote": 8090, "cart": 7070, "product-catalog": 3550, "currency": 7001, "payment": 50051,
         "shipping": 50050, "email": 6060, "ad": 9555, "recommendation": 9001}
BREAKAGES = ("zero_port", "near_port", "bad_host")
REGISTRIES = (DEFAULT_REGISTRY, "var/lib/mesh/endpoints.json", "etc/discovery/services.json")


def wrong_value(peer: str, breakage: str) -> str:
    port = PEERS.get(peer, 8080)
    if breakage == "zero_port":
        return "%s:0000" % peer
    if breakage == "near_port":
        return "%s:%d" % (peer, port + 1)
    return "%s-v2:%d" % (peer, port)


@core.register_class
class WrongPeerAddress(core.FaultClass):
    name = "wrong_peer_address"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        names = sorted(PEERS)
        peer = rng.choice(names)
        others = rng.sample([n for n in names if n != peer], 2)
        breakage = rng.choice(BREAKAGES)
        return {"variable": peer_variable(peer), "value": wrong_value(peer, breakage),
                "others": others, "registry": rng.choice(REGISTRIES)}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        variable = str(params.get("variable") or "QUOTE_ADDR").strip()
        if not variable.endswith("_ADDR") or not variable[:-5]:
            raise ValueError("wrong_peer_address: variable must be <PEER>_ADDR, got %r" % variable)
        peer = variable[:-5].lower().replace("_", "-")
        value = str(params.get("value") or wrong_value(peer, "zero_port"))
        others = [str(o) for o in (params.get("others") or ["currency", "cart"]) if str(o) != peer]
        return {"variable": variable, "peer": peer, "value": value, "port": PEERS.get(peer, 8080),
                "others": others, "registry": str(params.get("registry") or DEFAULT_REGISTRY)}

    def registry_body(self, p: Mapping[str, Any]) -> Dict[str, Any]:
        body = {name: {"port": port, "protocol": "grpc" if port > 9000 else "http"}
                for name, port in sorted(PEERS.items())}
        body[p["peer"]] = {"port": p["port"], "protocol": "grpc" if p["port"] > 9000 else "http"}
        return body

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        core.write_json(ctx.root / p["registry"], self.registry_body(p))
        config = core.read_service_json(ctx.root)
        config["peers"] = [p["peer"]] + p["others"]
        if p["registry"] != DEFAULT_REGISTRY:
            config["registry_file"] = p["registry"]
        core.write_service_json(ctx.root, config)
        values = core.read_env(ctx.root)
        values[p["variable"]] = p["value"]
        for other in p["others"]:
            values[peer_variable(other)] = "%s:%d" % (other, PEERS.get(other, 8080))
        core.write_env(ctx.root, values)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["variable"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["registry"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return ["etc/service.env"]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        raw = core.service_json_or_empty(root)
        values = core.read_env(root)
        problem = address_problem(root, raw, values, p["peer"])
        registry_ok = core.read_json_or(root / p["registry"], None) == self.registry_body(p)
        others = {peer_variable(o): values.get(peer_variable(o)) for o in p["others"]}
        expected = {peer_variable(o): "%s:%d" % (o, PEERS.get(o, 8080)) for o in p["others"]}
        return [
            core.Check("%s holds the peer's registered address" % p["variable"], problem is None,
                       problem or "%s=%s" % (p["variable"], values.get(p["variable"]))),
            core.Check("the service still calls %s" % p["peer"], p["peer"] in (raw.get("peers") or []),
                       "peers in etc/service.json: %r" % (raw.get("peers"),)),
            core.Check("the service registry is unchanged", registry_ok, p["registry"]),
            core.Check("the other peers' addresses are unchanged", others == expected,
                       "%r (expected %r)" % (others, expected)),
        ]
