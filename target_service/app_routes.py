"""The service's routing entry (the role of a Kubernetes Service in front of the instance).

When etc/service.json names a route map (`routes_file`, e.g. etc/routes.json: {"routes": [{"service":
"<name>", "port": 80, "selector": {"app": "<name>"}, "targetPort": N}, ...]}), every request is
routed by it, as a Service routes to its endpoints (re-read per request, like a proxy that watches
its config): the entry for this service must exist, its selector must match this instance's
labels (`labels` in etc/service.json) and its targetPort must be the port the instance listens on.
Otherwise there is no healthy upstream and every request gets 503; the reason goes to the log in a
proxy's words. No `routes_file`: requests reach the instance directly. Stdlib only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional


def _service_json(root: Path) -> Dict[str, Any]:
    try:
        raw = json.loads((Path(root) / "etc/service.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def routes_file(raw: Dict[str, Any]) -> Optional[str]:
    value = raw.get("routes_file")
    if isinstance(value, str) and value.strip() and ".." not in value.split("/") and not value.startswith("/"):
        return value.strip()
    return None


def find_route(root: Path, rel: str, service: str) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    routes = data.get("routes") if isinstance(data, dict) else None
    for route in routes if isinstance(routes, list) else []:
        if isinstance(route, dict) and route.get("service") == service:
            return route
    return None


def route_problem(root: Path, service: str, listen_port: Optional[int]) -> Optional[str]:
    """Why requests for `service` find no healthy upstream (None = routed, or no route map)."""
    raw = _service_json(root)
    rel = routes_file(raw)
    if rel is None:
        return None
    route = find_route(root, rel, service)
    if route is None:
        return 'no healthy upstream: service "%s" has no route (no entry in %s)' % (service, rel)
    labels = raw.get("labels") if isinstance(raw.get("labels"), dict) else {}
    selector = route.get("selector") if isinstance(route.get("selector"), dict) else {}
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        wanted = ",".join("%s=%s" % kv for kv in sorted(selector.items())) or "(empty)"
        have = ",".join("%s=%s" % kv for kv in sorted(labels.items())) or "(none)"
        return ('no healthy upstream: service "%s" has 0 endpoints: selector %s matches no instance '
                '(instance labels %s; route in %s)' % (service, wanted, have, rel))
    target = route.get("targetPort")
    if target != listen_port:
        return ('upstream connect error or disconnect/reset before headers: service "%s" targetPort %r, '
                'but the instance listens on %s (route in %s)' % (service, target, listen_port, rel))
    return None
