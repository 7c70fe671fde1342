"""Calls to peer services: each peer's address comes from an environment setting named the
OpenTelemetry Demo way (QUOTE_ADDR=quote:8090, CART_ADDR=cart:7070, ...).

etc/service.json lists the peers this service calls (`peers`); their addresses are `<PEER>_ADDR`
settings in etc/service.env (read at start). The network is modelled by the service registry
(`registry_file` in etc/service.json, default var/lib/registry/services.json: {name: {"port": N}}),
the peers that really answer here: a host that is not registered does not resolve; a port other
than the registered one refuses the connection. The first unreachable peer fails every request
(HTTP 500) and is named in the log, Go-style. No peers listed: nothing to check. Stdlib only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

DEFAULT_REGISTRY = "var/lib/registry/services.json"


def peer_variable(peer: str) -> str:
    """quote -> QUOTE_ADDR, product-catalog -> PRODUCT_CATALOG_ADDR."""
    return peer.upper().replace("-", "_") + "_ADDR"


def registry_file(raw: dict) -> str:
    value = raw.get("registry_file") if isinstance(raw, dict) else None
    if isinstance(value, str) and value.strip() and ".." not in value.split("/") and not value.startswith("/"):
        return value.strip()
    return DEFAULT_REGISTRY


def load_registry(root: Path, rel: str) -> Dict[str, dict]:
    try:
        data = json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def peers(raw: dict) -> List[str]:
    listed = raw.get("peers") if isinstance(raw, dict) else None
    return [str(p) for p in listed if isinstance(p, str) and p] if isinstance(listed, list) else []


def address_problem(root: Path, raw: dict, settings: Dict[str, str], peer: str) -> Optional[str]:
    """Why calls to `peer` fail with these settings (None = they succeed)."""
    var = peer_variable(peer)
    value = settings.get(var)
    if not value:
        return "call to %s failed: no address configured (%s is not set; settings file etc/service.env)" % (
            peer, var)
    host, sep, port = value.rpartition(":")
    where = "%s=%s from etc/service.env" % (var, value)
    if not sep or not host:
        return "call to %s failed: dial tcp: address %s: missing port in address (%s)" % (peer, value, where)
    registry = load_registry(root, registry_file(raw))
    entry = registry.get(host)
    if not isinstance(entry, dict):
        return "call to %s failed: dial tcp: lookup %s: no such host (%s)" % (peer, host, where)
    if not port.isdigit() or int(port) != entry.get("port"):
        return "call to %s failed: dial tcp %s: connect: connection refused (%s)" % (peer, value, where)
    return None


def peer_problem(root: Path, raw: dict, settings: Dict[str, str]) -> Optional[str]:
    """The first peer this service cannot reach (None = all reachable, or no peers)."""
    for peer in peers(raw):
        problem = address_problem(root, raw, settings, peer)
        if problem:
            return problem
    return None
