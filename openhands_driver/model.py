"""Which brain drives the agent: a configured model (any litellm id) or the offline runbook policy.

Resolution: ``--model`` or ``LLM_MODEL``; ``--llm-base-url`` or ``LLM_BASE_URL``; the key from
``LLM_API_KEY`` or the provider's usual variable (``OPENAI_API_KEY``, ...). A ``.env`` file is read
(``--env-file`` to choose another); the real environment wins over it. No SDK import here.

Key values never reach the agent: :func:`scrub_environment` removes every key variable from this
process's environment before the agent's terminal starts (it inherits this environment), and the
values are registered with the conversation's secret masking and the trace redaction.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import REPO_ROOT

DEFAULT_ENV_FILE = REPO_ROOT / ".env"
PROVIDER_KEY_VARS = {
    "openai": "OPENAI_API_KEY", "azure": "AZURE_API_KEY", "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY", "vertex_ai": "GOOGLE_APPLICATION_CREDENTIALS",
    "mistral": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY", "together_ai": "TOGETHERAI_API_KEY",
    "litellm_proxy": "LITELLM_API_KEY", "bedrock": "AWS_SECRET_ACCESS_KEY",
}
# Variables whose values are secrets wherever they appear (removed from the agent's environment).
SECRET_VARS = ("LLM_API_KEY", *sorted(set(PROVIDER_KEY_VARS.values()) - {"GOOGLE_APPLICATION_CREDENTIALS"}),
               "LMNR_PROJECT_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "HF_TOKEN")
NO_KEY_PLACEHOLDER = "sk-no-key-required"
# Values removed from os.environ by scrub_environment, still available to later runs in-process.
_SCRUBBED: dict[str, str] = {}
_ENV_LOCK = threading.Lock()  # fan-out threads read the environment while another scrubs it


@dataclass(frozen=True)
class ModelConfig:
    model: str | None = None          # None: the offline runbook brain
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    key_source: str | None = None     # the variable the key came from (never the value)
    timeout_s: int = 120

    @property
    def brain(self) -> str:
        return "llm" if self.model else "runbook"

    def describe(self) -> dict:
        return {"brain": self.brain, "model": self.model, "base_url": self.base_url,
                "key_source": self.key_source}


def read_env_file(path: Path | None) -> dict[str, str]:
    from dotenv import dotenv_values

    path = DEFAULT_ENV_FILE if path is None else Path(path)
    if not path.exists():
        if path != DEFAULT_ENV_FILE:
            raise UserError(f"--env-file {path} does not exist")
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def merged_environment(env_file: Path | None = None, environ: dict | None = None) -> dict[str, str]:
    """The .env values overlaid by the real environment (the real environment wins)."""
    if environ is None:
        with _ENV_LOCK:
            environ = {**_SCRUBBED, **os.environ}
    return {**read_env_file(env_file), **dict(environ)}


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


def resolve_model(model: str | None = None, base_url: str | None = None, *,
                  env_file: Path | None = None, environ: dict | None = None,
                  timeout_s: int = 120) -> ModelConfig:
    """Resolve and preflight the model configuration (UserError names what to set)."""
    env = merged_environment(env_file, environ)
    model = model or env.get("LLM_MODEL") or None
    base_url = base_url or env.get("LLM_BASE_URL") or None
    if not model:
        if base_url:
            raise UserError("--llm-base-url was given without a model: pass --model "
                            "(e.g. openai/<served-model-name>) or set LLM_MODEL")
        return ModelConfig(timeout_s=timeout_s)
    candidates = ["LLM_API_KEY"]
    provider_var = PROVIDER_KEY_VARS.get(provider_of(model))
    if provider_var:
        candidates.append(provider_var)
    for var in candidates:
        if env.get(var):
            return ModelConfig(model, base_url, env[var], var, timeout_s)
    if base_url:  # a local OpenAI-compatible server usually needs no key
        return ModelConfig(model, base_url, NO_KEY_PLACEHOLDER, None, timeout_s)
    raise UserError(f"model {model!r} has no API key: set {' or '.join(candidates)} "
                    "(in the environment or .env), or pass --llm-base-url for a local "
                    "OpenAI-compatible server. Without --model the offline runbook brain runs.")


def named_secrets() -> dict[str, str]:
    """Secret variables known to this process (also those already scrubbed), by name."""
    with _ENV_LOCK:
        env = {**_SCRUBBED, **os.environ}
    return {name: env[name] for name in SECRET_VARS if env.get(name)}


def secret_values(environ: dict | None = None) -> list[str]:
    """Every secret value known to this process (for masking and redaction)."""
    if environ is None:
        with _ENV_LOCK:
            environ = {**_SCRUBBED, **os.environ}
    return [environ[name] for name in SECRET_VARS if environ.get(name)]


def scrub_environment() -> list[str]:
    """Remove key variables from this process's environment; return the removed values."""
    removed = []
    with _ENV_LOCK:
        for name in SECRET_VARS:
            value = os.environ.pop(name, None)
            if value:
                _SCRUBBED[name] = value
                removed.append(value)
    return removed
