"""Fault class dns_misconfig: the service's resolver settings cannot resolve its database host.

At start the service resolves the host of DATABASE_URL with the resolver file named `resolv_conf`
in etc/service.json (app_dependency.py; var/lib/dns/<nameserver>.hosts is what each nameserver
answers). A bad change left it pointing at a nameserver that does not answer (a dead address or a
typo), or without the search domains the short name `db` needs, so the login never happens and
every request fails (HTTP 500) with `could not translate host name "db" to address`. The packaged
settings are in the file named in the resolver's header (`# Packaged default: ...`). The fix:
restore the packaged settings (or correct the broken line), then restart; restarting alone never
helps.

Decoys: a `.bak` of the resolver with a decommissioned nameserver (NOT the source to restore
from), and the resolver of another component (a node-local cache with its own settings) that
differs from the packaged default on purpose and must stay as it is.

Variants (by seed): where the resolver file lives ({svc} = the service's name), what is wrong
(dead nameserver, typo'd nameserver, dropped or wrong search domain), and the other component.
Older params ({}) still work: the packaged location, a dead nameserver and no search domains.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping
from urllib.parse import urlsplit

if __package__:  # imported as target_service.fault_dns_misconfig (the runner, the tests)
    from . import faults_core as core, root_layout as layout
    from .app_dependency import parse_resolver, resolve
    from .faults_dependency import CLUSTER_DNS, resolv_conf
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout
    from app_dependency import parse_resolver, resolve
    from faults_dependency import CLUSTER_DNS, resolv_conf

SEARCH = "svc.cluster.local cluster.local"
RESOLV_FILES = ("etc/dns/resolv.conf", "etc/{svc}/resolv.conf", "etc/dns/{svc}.resolv.conf",
                "etc/netns/{svc}/resolv.conf")
MODES = {  # mode -> (nameserver, search) of the broken file
    "dead_nameserver": (("192.0.2.53", "198.51.100.10", "10.96.0.100"), (SEARCH,)),
    "typo_nameserver": (("10.69.0.10", "10.96.10.0", "10.96.0.1"), (SEARCH,)),
    "dropped_search": ((CLUSTER_DNS,), (None,)),
    "wrong_search": ((CLUSTER_DNS,), ("svc.cluster.locl cluster.locl", "{svc}.svc.cluster.local",
                                      "cluster.local")),
}
OTHER_NAMESERVER = "169.254.20.10"  # a node-local DNS cache: the other component's resolver
COMPONENTS = ("metrics-agent", "log-shipper", "envoy-sidecar", "node-cache")


@core.register_class
class DnsMisconfig(core.FaultClass):
    name = "dns_misconfig"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        mode = rng.choice(sorted(MODES))
        servers, searches = MODES[mode]
        return {"resolv_conf": rng.choice(RESOLV_FILES), "mode": mode,
                "nameserver": rng.choice(servers), "search": rng.choice(searches),
                "component": rng.choice(COMPONENTS)}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        rel = str(params.get("resolv_conf") or layout.RESOLV_CONF).replace("{svc}", svc)
        search = params.get("search") if "search" in params else None
        component = str(params.get("component") or "metrics-agent")
        return {"resolv": rel, "default": rel + ".default", "bak": rel + ".bak",
                "nameserver": str(params.get("nameserver") or "192.0.2.53"),
                "search": search.replace("{svc}", svc) if isinstance(search, str) else None,
                "component": component,
                "other": "etc/dns/%s.resolv.conf" % component}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        root = ctx.root
        if p["resolv"] != layout.RESOLV_CONF:  # the packaged files live elsewhere on this host
            for rel in (layout.RESOLV_CONF, layout.RESOLV_DEFAULT):
                (root / rel).unlink()
        core.write_file(root / p["default"], resolv_conf(CLUSTER_DNS, SEARCH, p["default"]))
        core.write_file(root / p["resolv"], resolv_conf(p["nameserver"], p["search"], p["default"]))
        core.write_file(root / p["bak"], resolv_conf("10.96.0.2", SEARCH, p["default"]).replace(
            "nameserver 10.96.0.2", "# saved before the cluster DNS moved to %s\nnameserver 10.96.0.2"
            % CLUSTER_DNS))
        core.write_file(root / p["other"], resolv_conf(
            OTHER_NAMESERVER, "%s.svc.cluster.local" % p["component"], "(none: managed by %s)"
            % p["component"], header="Resolver of the %s (node-local DNS cache)." % p["component"]))
        if p["resolv"] != layout.RESOLV_CONF:
            service = core.read_service_json(root)
            service["resolv_conf"] = p["resolv"]
            core.write_service_json(root, service)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["resolv"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [p["bak"], p["other"], p["default"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["resolv"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        try:
            configured = core.read_service_json(root).get("resolv_conf") or layout.RESOLV_CONF
        except (OSError, ValueError, AttributeError):
            configured = None
        url = core.read_env(root).get("DATABASE_URL", "")
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        try:
            packaged = set(parse_resolver((root / p["default"]).read_text(encoding="utf-8"))[0])
        except OSError:
            packaged = set()
        server, why = resolve(root, "db", p["resolv"])

        def nameservers(rel: str) -> List[str]:
            try:
                return parse_resolver((root / rel).read_text(encoding="utf-8"))[0]
            except OSError:
                return []

        return [
            core.Check("the service still uses the resolver %s" % p["resolv"],
                       configured == p["resolv"], "resolv_conf: %s" % configured),
            core.Check("DATABASE_URL still names the host db", host == "db", "host: %r" % host),
            core.Check("db resolves through %s with a packaged nameserver" % p["resolv"],
                       why is None and server in packaged,
                       why or "answered by %s (packaged: %s)" % (server, ", ".join(sorted(packaged)))),
            core.Check("the packaged default %s is kept" % p["default"], bool(packaged), p["default"]),
            core.Check("the %s resolver keeps its own nameserver" % p["component"],
                       nameservers(p["other"]) == [OTHER_NAMESERVER],
                       "%s: %s" % (p["other"], ", ".join(nameservers(p["other"])) or "absent")),
            core.Check("the backup %s is kept" % p["bak"], (root / p["bak"]).is_file(), p["bak"]),
        ]
