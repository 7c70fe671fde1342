"""LLM profiles on disk in the SDK's own format, their secrets kept apart.

- Profiles: one JSON file per profile written by the SDK's ``LLMProfileStore`` (``LLM.to_persisted``,
  ``schema_version`` 1) **without secrets** (the SDK writes ``api_key: "**********"``). Directory:
  ``--profiles-dir``, else ``$OH_LLM_PROFILES_DIR``, else ``~/.openhands/llm-profiles``
  (the SDK's own default store is ``~/.openhands/profiles``: pass it to share profiles with it).
- Secrets: ``<secrets dir>/<name>.json`` holding ``{"api_key": ...}`` or ``{"api_key_env": VAR}``,
  file 0600 in a 0700 directory (a looser file is refused, like ssh does). Directory:
  ``--secrets-dir``, else ``$OH_LLM_SECRETS_DIR``, else ``~/.openhands/llm-secrets``. With no
  secret file the key comes from the environment as for ``--model`` (``LLM_API_KEY`` or the
  provider's variable; a local base URL needs none).
- :func:`resolve_profile` injects the key at run time into a :class:`GateTarget`; nothing writes it.

Listing and removing read JSON only (no SDK import); adding and editing validate through the SDK.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.model import NO_KEY_PLACEHOLDER, PROVIDER_KEY_VARS, ModelConfig, merged_environment, \
    provider_of

PROFILES_ENV, SECRETS_ENV = "OH_LLM_PROFILES_DIR", "OH_LLM_SECRETS_DIR"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # the SDK's PROFILE_NAME_PATTERN
REDACTED = "**********"  # the SDK's REDACTED_SECRET_VALUE
SECRET_FIELDS = ("api_key", "aws_access_key_id", "aws_secret_access_key", "aws_session_token")


@dataclass(frozen=True)
class ProfilePaths:
    profiles: Path
    secrets: Path


@dataclass(frozen=True)
class GateTarget:
    """What the gate checks: a resolved model (key injected) and the secret-free profile fields."""
    config: ModelConfig
    profile: dict = field(default_factory=dict)  # SDK persisted LLM fields, no secret
    profile_name: str | None = None

    @property
    def secrets(self) -> list[str]:
        key = self.config.api_key
        return [key] if key and key != NO_KEY_PLACEHOLDER else []


@dataclass(frozen=True)
class ProfileSummary:
    name: str
    model: str | None
    base_url: str | None
    api_mode: str | None
    key: str  # where the key comes from: "stored", "env:VAR" or "environment"


def profile_paths(profiles_dir: Path | None = None, secrets_dir: Path | None = None,
                  environ: dict | None = None) -> ProfilePaths:
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home()) / ".openhands"
    return ProfilePaths(Path(profiles_dir or env.get(PROFILES_ENV) or home / "llm-profiles"),
                        Path(secrets_dir or env.get(SECRETS_ENV) or home / "llm-secrets"))


def check_name(name: str) -> str:
    name = name.removesuffix(".json")
    if not NAME_RE.match(name):
        raise UserError(f"invalid profile name {name!r}: 1-64 letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    return name


def _profile_file(paths: ProfilePaths, name: str) -> Path:
    return paths.profiles / f"{check_name(name)}.json"


def _secret_file(paths: ProfilePaths, name: str) -> Path:
    return paths.secrets / f"{check_name(name)}.json"


def read_profile(paths: ProfilePaths, name: str) -> dict:
    """The profile as stored (secret fields blanked), or UserError listing the profiles."""
    path = _profile_file(paths, name)
    if not path.exists():
        names = ", ".join(s.name for s in list_profiles(paths)) or "none"
        raise UserError(f"no LLM profile {name!r} in {paths.profiles} (profiles: {names}); "
                        f"add one with `check_llm.py profiles add {name} --model ...`")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"LLM profile {path} is not readable JSON ({exc}); fix or remove it") from exc
    return redact_profile(data)


def redact_profile(data: dict) -> dict:
    return {k: (REDACTED if k in SECRET_FIELDS and v else v) for k, v in data.items()}


def read_secret(paths: ProfilePaths, name: str) -> dict:
    path = _secret_file(paths, name)
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"secret file {path} is readable by others (mode {mode:o}); "
                        f"run `chmod 600 {path}` and try again")
    return json.loads(path.read_text())


def _write_secret(paths: ProfilePaths, name: str, secret: dict) -> None:
    paths.secrets.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.secrets, 0o700)
    path = _secret_file(paths, name)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        json.dump(secret, handle)
    os.replace(tmp, path)


def _key_origin(paths: ProfilePaths, name: str) -> str:
    secret = read_secret(paths, name)
    if secret.get("api_key"):
        return "stored"
    if secret.get("api_key_env"):
        return f"env:{secret['api_key_env']}"
    return "environment"


def list_profiles(paths: ProfilePaths) -> list[ProfileSummary]:
    out = []
    for path in sorted(paths.profiles.glob("*.json")) if paths.profiles.is_dir() else []:
        if not NAME_RE.match(path.stem):
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        try:
            key = _key_origin(paths, path.stem)
        except UserError:
            key = "stored (file permissions too open)"
        out.append(ProfileSummary(path.stem, data.get("model"), data.get("base_url"), data.get("api_mode"), key))
    return out


def save_profile(paths: ProfilePaths, name: str, fields: dict, *, api_key: str | None = None,
                 api_key_env: str | None = None, replace: bool = True) -> Path:
    """Validate ``fields`` as an SDK LLM and save it with the SDK's store, without secrets."""
    from openhands_driver.conversation import prepare_sdk_env

    prepare_sdk_env()
    from openhands.sdk import LLM
    from openhands.sdk.llm import LLMProfileStore

    name = check_name(name)
    path = _profile_file(paths, name)
    if path.exists() and not replace:
        raise UserError(f"LLM profile {name!r} exists; use `profiles edit {name}` or `profiles rm {name}`")
    clean = {k: v for k, v in fields.items() if k not in SECRET_FIELDS}
    if not clean.get("model"):
        raise UserError("a profile needs a model: pass --model (any litellm id, e.g. openai/gpt-4o-mini)")
    try:
        llm = LLM.from_persisted({**clean, "usage_id": clean.get("usage_id", "check")})
    except Exception as exc:  # pydantic's message names the bad field
        raise UserError(f"profile {name!r} is not a valid SDK LLM config: {exc}") from exc
    LLMProfileStore(paths.profiles).save(name, llm, include_secrets=False)
    if api_key is not None or api_key_env is not None:
        _write_secret(paths, name, {"api_key": api_key} if api_key else {"api_key_env": api_key_env})
    if api_key and api_key in path.read_text():  # the SDK's contract; checked, never assumed
        path.unlink()
        raise RuntimeError(f"the SDK wrote the key into {path}; the profile was removed")
    return path


def edit_profile(paths: ProfilePaths, name: str, updates: dict, *, api_key: str | None = None,
                 api_key_env: str | None = None) -> Path:
    current = {k: v for k, v in read_profile(paths, name).items() if k not in SECRET_FIELDS}
    current.pop("schema_version", None)
    merged = {**current, **{k: v for k, v in updates.items()}}
    return save_profile(paths, name, merged, api_key=api_key, api_key_env=api_key_env)


def remove_profile(paths: ProfilePaths, name: str) -> list[Path]:
    removed = []
    for path in (_profile_file(paths, name), _secret_file(paths, name)):
        if path.exists():
            path.unlink()
            removed.append(path)
    if not removed:
        raise UserError(f"no LLM profile {name!r} in {paths.profiles}")
    return removed


def resolve_profile(paths: ProfilePaths, name: str, *, env_file: Path | None = None,
                    environ: dict | None = None, timeout_s: int = 60) -> GateTarget:
    """The profile plus its key, injected now: stored secret, named variable, or the environment."""
    profile = {k: v for k, v in read_profile(paths, name).items() if k not in SECRET_FIELDS}
    model, base_url = profile.get("model"), profile.get("base_url")
    secret = read_secret(paths, name)
    env = merged_environment(env_file, environ)
    if secret.get("api_key"):
        key, source = secret["api_key"], f"secrets:{name}"
    elif secret.get("api_key_env"):
        var = secret["api_key_env"]
        if not env.get(var):
            raise UserError(f"profile {name!r} takes its key from ${var}, which is not set")
        key, source = env[var], var
    else:
        key, source = None, None
        for var in ("LLM_API_KEY", PROVIDER_KEY_VARS.get(provider_of(model or ""))):
            if var and env.get(var):
                key, source = env[var], var
                break
        if key is None:
            if not base_url:
                raise UserError(f"profile {name!r} ({model}) has no key: store one with `profiles edit "
                                f"{name} --api-key-stdin`, or set LLM_API_KEY")
            key = NO_KEY_PLACEHOLDER
    return GateTarget(ModelConfig(model, base_url, key, source, timeout_s), profile, name)


def target_from_config(config: ModelConfig) -> GateTarget:
    """A ``--model`` run as a profile: the fields ``llm.model_llm`` uses."""
    profile = {"model": config.model, "num_retries": 0, "timeout": config.timeout_s}
    if config.base_url:  # OpenAI-compatible servers speak chat completions, not /responses
        profile.update(base_url=config.base_url, api_mode="chat", reasoning_effort=None)
    return GateTarget(config, profile, None)
