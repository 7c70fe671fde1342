"""The audit signing key (kept outside the log) and the public key set used to verify.

- The private key is an unencrypted PKCS#8 PEM ed25519 key in a file only its owner can read
  (mode 0600; a group- or world-readable file is refused). Writers find it through
  ``SRE_AUDIT_KEY`` (or ``run_demo.py --audit-key``); with none, entries are chained but unsigned.
- The key set (``SRE_AUDIT_KEYSET``, default ``<key file>.keyset.json``) lists every public key
  ever used, by ``key_id`` (the first 16 hex digits of the SHA-256 of the raw public key), with
  ``created_at`` and ``retired_at``. Entries carry the key id, so rotation keeps old entries
  verifiable. Keep the key set where the log's writers cannot change it.
- :func:`keygen` writes a new key and adds it to the key set; :func:`rotate` retires the current
  key in the key set and replaces the key file with a new one (the old private key is deleted).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path

from openhands_driver.errors import UserError

ENV_KEY = "SRE_AUDIT_KEY"
ENV_KEYSET = "SRE_AUDIT_KEYSET"


def _raw_public(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key) -> str:
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


class Signer:
    def __init__(self, private_key, path: Path):
        self._key = private_key
        self.path = path
        self.key_id = key_id_of(private_key.public_key())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._key.sign(data)).decode()


class Verifier:
    def __init__(self, public_key):
        self._key = public_key

    def verify(self, sig_b64: str, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self._key.verify(base64.b64decode(sig_b64, validate=True), data)
            return True
        except (InvalidSignature, ValueError):
            return False


def default_keyset_path(key_path: str | Path) -> Path:
    return Path(str(key_path) + ".keyset.json")


def load_signer(path: str | Path, *, flag: str = ENV_KEY) -> Signer:
    """The signer of the key file at ``path``; UserError when missing, readable by others or not ed25519."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path).expanduser()
    hint = "create one with `uv run python scripts/verify_audit.py keygen --key FILE`"
    try:
        info = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{flag} {path}: the audit key cannot be read ({exc.strerror or exc}); {hint}, "
                        f"or unset {ENV_KEY} to write unsigned (chained only) entries") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"{flag} {path}: the audit key is readable by others (mode "
                        f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{flag} {path}: not an unencrypted PEM private key ({exc}); {hint}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{flag} {path}: not an ed25519 key ({type(key).__name__}); {hint}")
    return Signer(key, path)


_CONFIGURED: dict[str, object] = {}
_LOCK = threading.Lock()
_CACHE: dict[tuple[str, float], Signer] = {}


def configure(path: str | Path | None) -> Signer | None:
    """Use the key at ``path`` for this process (``--audit-key``); validated now (UserError)."""
    with _LOCK:
        if path is None:
            _CONFIGURED.pop("path", None)
            return None
        signer = load_signer(path, flag="--audit-key")
        _CONFIGURED["path"] = str(path)
        return signer


def current_signer() -> Signer | None:
    """The signer configured for this process, else ``SRE_AUDIT_KEY``'s, else None (unsigned).

    Cached per (path, mtime), so a rotated key is picked up by long-running writers.
    """
    path = _CONFIGURED.get("path") or os.environ.get(ENV_KEY) or None
    if not path:
        return None
    try:
        mtime = Path(path).expanduser().stat().st_mtime
    except OSError:
        mtime = -1.0
    with _LOCK:
        cached = _CACHE.get((str(path), mtime))
        if cached is None:
            cached = load_signer(path)
            _CACHE.clear()
            _CACHE[(str(path), mtime)] = cached
        return cached


def check_configured() -> Signer | None:
    """Preflight: the configured key (if any) loads; UserError (exit 2) otherwise."""
    return current_signer()


# --- key set -------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_keyset_file(path: str | Path) -> dict:
    path = Path(path).expanduser()
    if not path.exists():
        return {"keys": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"key set {path} cannot be read as JSON ({exc}); pass the file "
                        "`verify_audit.py keygen` wrote") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise UserError(f"key set {path} has no \"keys\" list; pass the file `verify_audit.py keygen` wrote")
    return data


def load_keyset(path: str | Path) -> dict[str, Verifier]:
    """key_id -> Verifier for every key (current and retired) of the key set file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    out: dict[str, Verifier] = {}
    for item in read_keyset_file(path)["keys"]:
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(item["public_key"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"key set {path}: entry {item!r} is not a base64 raw ed25519 public key "
                            f"({exc})") from None
        if key_id_of(key) != item.get("key_id"):
            raise UserError(f"key set {path}: key_id {item.get('key_id')!r} does not match its public key")
        out[item["key_id"]] = Verifier(key)
    return out


def _write_private(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization

    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_keyset(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _add_public(keyset: dict, key) -> str:
    key_id = key_id_of(key.public_key())
    keyset["keys"].append({"key_id": key_id, "algorithm": "ed25519",
                           "public_key": base64.b64encode(_raw_public(key.public_key())).decode(),
                           "created_at": _now(), "retired_at": None})
    return key_id


def keygen(key_path: str | Path, keyset_path: str | Path | None = None) -> dict:
    """A new key at ``key_path`` (0600; refuses to overwrite) and its public key in the key set."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key_path = Path(key_path).expanduser()
    keyset_path = Path(keyset_path).expanduser() if keyset_path else default_keyset_path(key_path)
    if key_path.exists():
        raise UserError(f"{key_path} already exists; use `verify_audit.py rotate --key {key_path}` to "
                        "replace it (its public key stays in the key set)")
    keyset = read_keyset_file(keyset_path)
    key = Ed25519PrivateKey.generate()
    key_id = _add_public(keyset, key)
    _write_private(key_path, key)
    _write_keyset(keyset_path, keyset)
    return {"key": str(key_path), "keyset": str(keyset_path), "key_id": key_id}


def rotate(key_path: str | Path, keyset_path: str | Path | None = None) -> dict:
    """Retire the key at ``key_path`` (in the key set) and replace it with a new one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key_path = Path(key_path).expanduser()
    keyset_path = Path(keyset_path).expanduser() if keyset_path else default_keyset_path(key_path)
    old = load_signer(key_path, flag="--key")
    keyset = read_keyset_file(keyset_path)
    known = {k.get("key_id") for k in keyset["keys"]}
    if old.key_id not in known:  # a key made elsewhere: keep its entries verifiable
        _add_public(keyset, old._key)
    for item in keyset["keys"]:
        if item.get("key_id") == old.key_id and not item.get("retired_at"):
            item["retired_at"] = _now()
    new = Ed25519PrivateKey.generate()
    key_id = _add_public(keyset, new)
    _write_keyset(keyset_path, keyset)  # the public key first: never a signature nobody can check
    _write_private(key_path, new)
    return {"key": str(key_path), "keyset": str(keyset_path), "key_id": key_id, "retired": old.key_id}
