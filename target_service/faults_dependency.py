"""Faults that cut the service off from its database: a corrupted credential, a broken resolver.

Healthy state: the database password in etc/secrets/db_password and in the "vault"
(var/lib/vault/db_password), what the (simulated) database accepts in var/lib/db/auth, and a
resolver (etc/dns/resolv.conf + .default) pointing at the cluster DNS, whose answers are in
var/lib/dns/<nameserver>.hosts. The app checks both at start (app_dependency.py), so a fix
needs a restart.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

if __package__:  # imported as target_service.faults_dependency (the runner, the tests)
    from . import faults_core as core, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout

CLUSTER_DNS = "10.96.0.10"


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode("utf-8")).hexdigest()


def _resolv_conf(nameserver: str, search: Optional[str]) -> str:
    lines = ["# Resolver for the service's outgoing connections (read at service start).",
             "# Packaged default: %s" % layout.RESOLV_DEFAULT, "nameserver %s" % nameserver]
    if search:
        lines.append("search %s" % search)
    return "\n".join(lines + ["options ndots:5 timeout:5"]) + "\n"


@core.register_layout
def _healthy_dependency(root: Path, scenario_id: str) -> None:
    password, salt = _digest("db-password", scenario_id)[:24], _digest("db-salt", scenario_id)[:16]
    for rel in (layout.SECRET_FILE, layout.VAULT_SECRET):
        core.write_file(root / rel, password + "\n", mode=0o600)
    core.write_file(root / layout.DB_AUTH, "app:%s:%s\n" % (salt, _digest(salt, password)),
                    mode=0o600)
    resolv = _resolv_conf(CLUSTER_DNS, "svc.cluster.local cluster.local")
    for rel in (layout.RESOLV_CONF, layout.RESOLV_DEFAULT):
        core.write_file(root / rel, resolv)
    core.write_file(root / layout.DNS_DATA_DIR / ("%s.hosts" % CLUSTER_DNS),
                    "# names the cluster DNS at %s answers\n10.0.0.21 db.svc.cluster.local\n"
                    "10.0.0.22 cache.svc.cluster.local\n" % CLUSTER_DNS)


@core.register_fault("bad_credential")
def _bad_credential(ctx: core.FaultContext) -> None:
    """The mounted secret etc/secrets/db_password is corrupted, so the database rejects the
    service's login; the source of truth var/lib/vault/db_password is intact."""
    core.write_file(ctx.root / layout.SECRET_FILE,
                    "corrupted-%s\n" % _digest("corrupt", ctx.scenario_id)[:16], mode=0o600)


@core.register_fault("dns_misconfig")
def _dns_misconfig(ctx: core.FaultContext) -> None:
    """etc/dns/resolv.conf points at a nameserver that does not answer and drops the search
    domains (a pod DNS policy of None with a bogus dnsConfig): the database host cannot be
    resolved. etc/dns/resolv.conf.default keeps the packaged resolver settings."""
    core.write_file(ctx.root / layout.RESOLV_CONF, _resolv_conf("192.0.2.53", None))
