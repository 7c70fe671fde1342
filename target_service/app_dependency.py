"""The database dependency: name resolution and login (checked once, at start).

Local model, no DNS or database traffic. Where the files are comes from etc/service.json:
    "resolv_conf": rel         resolver for outgoing connections (default etc/dns/resolv.conf);
                               var/lib/dns/<nameserver>.hosts = the names that nameserver answers
    "db_password_file": rel    the password presented to the database (default
                               etc/secrets/db_password), checked against var/lib/db/auth
Messages follow libpq's wording. Faults: faults_dependency.py (healthy files), fault_*.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from pathlib import Path
from typing import List, Optional, Tuple
from urllib.parse import urlsplit

if __package__:  # imported as target_service.app_dependency (the runner, the tests)
    from . import root_layout as layout
else:  # run flat: python app.py, or /app in the container
    import root_layout as layout


def _config_path(root: Path, key: str, default: str) -> str:
    """A service-root-relative path named in etc/service.json, else `default`."""
    try:
        raw = json.loads((root / layout.SERVICE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, str) or not value.strip() or ".." in value.split("/"):
        return default
    return value.strip().lstrip("/")


def resolver_file(root: Path) -> str:
    return _config_path(root, "resolv_conf", layout.RESOLV_CONF)


def password_file(root: Path) -> str:
    return _config_path(root, "db_password_file", layout.SECRET_FILE)


def parse_resolver(text: str) -> Tuple[List[str], List[str]]:
    """(nameservers, search domains) of a resolv.conf text."""
    nameservers: List[str] = []
    search: List[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            nameservers.append(words[1])
        elif words[:1] in (["search"], ["domain"]):
            search = words[1:]
    return nameservers, search


def resolve(root: Path, host: str, rel: str) -> Tuple[Optional[str], Optional[str]]:
    """Resolve `host` with the resolver file `rel`: (answering nameserver, None) when it resolves,
    else (None, why). A nameserver "answers" when var/lib/dns/<address>.hosts exists and knows
    the names listed there. Short names are tried with each search domain first."""
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "resolver configuration %s is missing" % rel
    except OSError as exc:
        return None, "cannot read resolver configuration %s: %s" % (rel, exc)
    nameservers, search = parse_resolver(text)
    if not nameservers:
        return None, "Temporary failure in name resolution (no nameserver in %s)" % rel
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
            return server, None
    if not answering:
        return None, ("Temporary failure in name resolution (no answer from nameserver %s "
                      "within 5s; resolver %s)" % (", ".join(nameservers), rel))
    return None, "Name or service not known (tried %s via nameserver %s; resolver %s)" % (
        ", ".join(names), ", ".join(answering), rel)


def resolve_problem(root: Path, host: str) -> Optional[str]:
    """Why `host` does not resolve with the service's resolver config; None when it resolves
    (or when the service has no resolver config of its own)."""
    rel = resolver_file(root)
    if not (root / rel).exists() and rel == layout.RESOLV_CONF:
        return None  # no service resolver configured: nothing to check
    _server, why = resolve(root, host, rel)
    if why is None:
        return None
    return 'could not translate host name "%s" to address: %s' % (host, why)


def login_problem(root: Path, user: str, host: str = "db") -> Optional[str]:
    """Log in to the (simulated) database with the configured password file. Never prints it."""
    try:
        stored = (root / layout.DB_AUTH).read_text(encoding="utf-8").strip().split(":")
    except FileNotFoundError:
        return None  # the database does not require a password
    except OSError as exc:
        return 'connection to server at "%s" failed: server error (%s)' % (host, exc)
    if len(stored) != 3 or stored[0] != user:
        return 'connection to server at "%s" failed: FATAL:  role "%s" does not exist' % (host, user)
    rel = password_file(root)
    try:
        password = (root / rel).read_text(encoding="utf-8").strip()
    except OSError:
        return ('connection to server at "%s" failed: fe_sendauth: no password supplied '
                '(password file %s is missing)' % (host, rel))
    salt, expected = stored[1], stored[2]
    if hashlib.sha256(("%s/%s" % (salt, password)).encode("utf-8")).hexdigest() != expected:
        return ('connection to server at "%s" failed: FATAL:  password authentication failed '
                'for user "%s" (password file %s)' % (host, user, rel))
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
    return login_problem(root, parts.username or "app", host or "localhost")
