"""Faults that cut the service off from its database: a corrupted credential, a broken resolver.

Healthy state: the database password in etc/secrets/db_password and in the "vault"
(var/lib/vault/db_password), what the (simulated) database accepts in var/lib/db/auth, and a
resolver (etc/dns/resolv.conf + .default) pointing at the cluster DNS, whose answers are in
var/lib/dns/<nameserver>.hosts. The app checks both at start (app_dependency.py), so a fix
needs a restart. The fault classes that break them: fault_bad_credential.py, fault_dns_misconfig.py
(they use the helpers here).
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


def digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode("utf-8")).hexdigest()


def resolv_conf(nameserver: str, search: Optional[str], default_rel: str = layout.RESOLV_DEFAULT,
                header: str = "Resolver for the service's outgoing connections (read at service start).") -> str:
    lines = ["# %s" % header, "# Packaged default: %s" % default_rel, "nameserver %s" % nameserver]
    if search:
        lines.append("search %s" % search)
    return "\n".join(lines + ["options ndots:5 timeout:5"]) + "\n"


@core.register_layout
def _healthy_dependency(root: Path, scenario_id: str) -> None:
    password, salt = digest("db-password", scenario_id)[:24], digest("db-salt", scenario_id)[:16]
    for rel in (layout.SECRET_FILE, layout.VAULT_SECRET):
        core.write_file(root / rel, password + "\n", mode=0o600)
    core.write_file(root / layout.DB_AUTH, "app:%s:%s\n" % (salt, digest(salt, password)),
                    mode=0o600)
    resolv = resolv_conf(CLUSTER_DNS, "svc.cluster.local cluster.local")
    for rel in (layout.RESOLV_CONF, layout.RESOLV_DEFAULT):
        core.write_file(root / rel, resolv)
    core.write_file(root / layout.DNS_DATA_DIR / ("%s.hosts" % CLUSTER_DNS),
                    "# names the cluster DNS at %s answers\n10.0.0.21 db.svc.cluster.local\n"
                    "10.0.0.22 cache.svc.cluster.local\n" % CLUSTER_DNS)
