"""The database dependency: name resolution and login (checked once, at start).

Local model, no DNS or database traffic: etc/dns/resolv.conf + var/lib/dns/<nameserver>.hosts for
names, etc/secrets/db_password against var/lib/db/auth for the login. Faults: faults_dependency.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import List, Optional
from urllib.parse import urlsplit

if __package__:  # imported as target_service.app_dependency (the runner, the tests)
    from . import root_layout as layout
else:  # run flat: python app.py, or /app in the container
    import root_layout as layout


def resolve_problem(root: Path, host: str) -> Optional[str]:
    """Resolve `host` with the service's resolver config; None when it resolves.

    Local model, no DNS traffic: a nameserver "answers" when var/lib/dns/<address>.hosts exists,
    and knows the names listed there. Short names are tried with each search domain first.
    """
    try:
        text = (root / layout.RESOLV_CONF).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None  # no service resolver configured: nothing to check
    except OSError as exc:
        return "name resolution failed for %s: cannot read %s: %s" % (host, layout.RESOLV_CONF, exc)
    nameservers: List[str] = []
    search: List[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            nameservers.append(words[1])
        elif words[:1] in (["search"], ["domain"]):
            search = words[1:]
    if not nameservers:
        return "name resolution failed for %s: no nameserver configured in %s" % (
            host, layout.RESOLV_CONF)
    names = [host] if "." in host else ["%s.%s" % (host, domain) for domain in search] + [host]
    answering = []
    for server in nameservers:
        zone = root / layout.DNS_DATA_DIR / ("%s.hosts" % server)
        if not re.fullmatch(r"[0-9a-fA-F.:]+", server) or not zone.is_file():
            continue
        answering.append(server)
        known = {word for line in zone.read_text(encoding="utf-8").splitlines()
                 for word in line.split("#", 1)[0].split()[1:]}
        if any(name in known for name in names):
            return None
    if not answering:
        return "name resolution failed for %s: no answer from nameserver %s within 5s (%s)" % (
            host, ", ".join(nameservers), layout.RESOLV_CONF)
    return "name resolution failed for %s: NXDOMAIN (tried %s via nameserver %s; %s)" % (
        host, ", ".join(names), ", ".join(answering), layout.RESOLV_CONF)


def login_problem(root: Path, user: str) -> Optional[str]:
    """Log in to the (simulated) database with etc/secrets/db_password. Never prints the secret."""
    try:
        stored = (root / layout.DB_AUTH).read_text(encoding="utf-8").strip().split(":")
    except FileNotFoundError:
        return None  # the database does not require a password
    except OSError as exc:
        return "database authentication failed for user %s: server error (%s)" % (user, exc)
    if len(stored) != 3 or stored[0] != user:
        return "database authentication failed for user %s: role does not exist" % user
    try:
        password = (root / layout.SECRET_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return "database authentication failed for user %s: no password (%s is missing)" % (
            user, layout.SECRET_FILE)
    salt, expected = stored[1], stored[2]
    if hashlib.sha256(("%s/%s" % (salt, password)).encode("utf-8")).hexdigest() != expected:
        return "database authentication failed for user %s: password rejected (credential from %s)" % (
            user, layout.SECRET_FILE)
    return None


def database_problem(root: Path, url: str) -> Optional[str]:
    """What stops the app from reaching its database (DATABASE_URL), or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if host and host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            problem = resolve_problem(root, host)
            if problem:
                return problem
    return login_problem(root, parts.username or "app")
