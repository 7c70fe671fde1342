"""Who may do what on the intake: bearer tokens with an id and a role, and each request's role.

Roles, each including the one before: ``viewer`` (read executions, status, metrics), ``operator``
(post alerts to the webhooks; approve, reject, resume executions), ``admin`` (the service registry,
the sanitized config, the log level, draining the intake). An unknown endpoint needs ``admin`` (deny by default).

Tokens: ``SRE_INTAKE_TOKENS`` names a JSON file ``{"tokens": [{"id", "role", "sha256"}]}`` that holds
only the SHA-256 of each token value (``scripts/intake_tokens.py add`` makes one and prints the value
once); ``SRE_INTAKE_TOKEN`` (the single token of earlier versions) is the admin token ``default``.
A request is matched against every digest in constant time. The audit trail (store.record_access)
names the token by its id, never its value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.errors import UserError

ROLES = ("viewer", "operator", "admin")
ENV_TOKENS = "SRE_INTAKE_TOKENS"
LEGACY_ID = "default"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# No token needed: liveness, and the API's own description (routes and shapes, never data; openapi.py)
PUBLIC = ("/healthz", "/openapi.json", "/docs")

# (method, path pattern) -> the least role that may call it; first match wins
RULES: tuple[tuple[str, re.Pattern, str], ...] = (
    ("GET", re.compile(r"^/executions(/[^/]+)?$"), "viewer"),
    ("GET", re.compile(r"^/ops/(status|health|metrics|dependencies|errors)$"), "viewer"),
    ("GET", re.compile(r"^/api/v1/incident/(execution/[^/]+(/logs)?|executions/active)$"), "viewer"),
    ("POST", re.compile(r"^/webhook/[^/]+$"), "operator"),
    ("POST", re.compile(r"^/api/v1/incident/trigger-agent$"), "operator"),
    ("POST", re.compile(r"^/executions/[^/]+/(approve|reject|resume)$"), "operator"),
    ("GET", re.compile(r"^/ops/registry$"), "admin"),
    ("GET", re.compile(r"^/ops/config$"), "admin"),
    ("POST", re.compile(r"^/ops/(drain|loglevel)$"), "admin"),
)


def rank(role: str) -> int:
    return ROLES.index(role)


def required_role(method: str, path: str) -> str:
    for rule_method, pattern, role in RULES:
        if method == rule_method and pattern.match(path):
            return role
    return "admin"


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: str

    def may(self, role: str) -> bool:
        return rank(self.role) >= rank(role)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class TokenSet:
    def __init__(self, entries: list[tuple[str, str, str]]):
        self.entries = entries  # (id, role, sha256 hex)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def identify(self, supplied: str) -> Principal | None:
        """The principal of a bearer value; every digest is compared (constant time each)."""
        wanted = digest(supplied).encode()
        found = None
        for token_id, role, hexdigest in self.entries:
            if hmac.compare_digest(wanted, hexdigest.encode()) and found is None:
                found = Principal(token_id, role)
        return found


def read_file(path: str | Path) -> list[tuple[str, str, str]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{ENV_TOKENS}={path}: no such file; create it with "
                        f"`uv run python scripts/intake_tokens.py add --file {path} --id NAME --role viewer`") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{ENV_TOKENS}={path}: not a JSON token file ({exc})") from None
    entries = []
    for item in (data.get("tokens") if isinstance(data, dict) else None) or []:
        token_id, role, hexdigest = item.get("id"), item.get("role"), item.get("sha256")
        if not (isinstance(token_id, str) and _ID.match(token_id)) or role not in ROLES or \
                not (isinstance(hexdigest, str) and re.fullmatch(r"[0-9a-f]{64}", hexdigest)):
            raise UserError(f"{path}: bad token entry {item!r}: needs id (letters, digits, . _ -), "
                            f"role ({', '.join(ROLES)}) and sha256 (64 hex digits)")
        entries.append((token_id, role, hexdigest))
    ids = [e[0] for e in entries]
    if len(set(ids)) != len(ids):
        raise UserError(f"{path}: token ids must be unique, got {ids}")
    return entries


def load(token: str | None, tokens_file: str | Path | None) -> TokenSet:
    entries = read_file(tokens_file) if tokens_file else []
    if token:
        if any(e[0] == LEGACY_ID for e in entries):
            raise UserError(f"{tokens_file}: the id {LEGACY_ID!r} is reserved for SRE_INTAKE_TOKEN (admin)")
        entries.append((LEGACY_ID, "admin", digest(token)))
    return TokenSet(entries)


def add_token(path: str | Path, token_id: str, role: str) -> str:
    """Add a new token to the file (created 0600 if missing); returns its value (shown once)."""
    if role not in ROLES:
        raise UserError(f"--role {role!r}: use one of {', '.join(ROLES)}")
    if not _ID.match(token_id):
        raise UserError(f"--id {token_id!r}: use letters, digits, '.', '_' and '-' (at most 64)")
    path = Path(path)
    entries = read_file(path) if path.exists() else []
    if any(e[0] == token_id for e in entries) or token_id == LEGACY_ID:
        raise UserError(f"{path}: a token with id {token_id!r} exists (or is reserved); pick another id")
    value = secrets.token_urlsafe(32)
    entries.append((token_id, role, digest(value)))
    data = {"tokens": [{"id": i, "role": r, "sha256": d} for i, r, d in entries]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)
    return value
