"""Which LLM drives the agent: the offline runbook policy endpoint or a configured model."""

from __future__ import annotations

from openhands_driver.brain.server import MODEL_NAME

RUNBOOK_API_KEY = "runbook-local-no-secret"


def runbook_llm(base_url: str):
    """An SDK LLM pointed at the local runbook policy endpoint (the SDK's normal litellm path)."""
    from openhands.sdk import LLM
    from pydantic import SecretStr

    return LLM(model=f"openai/{MODEL_NAME}", base_url=base_url, api_key=SecretStr(RUNBOOK_API_KEY),
               usage_id="agent", api_mode="chat", reasoning_effort=None, num_retries=0,
               input_cost_per_token=0.0, output_cost_per_token=0.0)


def model_llm(config, *, usage_id: str = "agent", retries: int = 0, backoff_s: float = 2.0, on_retry=None):
    """An SDK LLM for a configured model (``model.ModelConfig``) through litellm.

    ``retries``: extra attempts on the SDK's transient errors (429, 5xx, connection, timeout), waiting
    ``backoff_s`` * 2**n between them; ``on_retry(attempt, attempts, error)`` hears each one."""
    import math

    from openhands.sdk import LLM
    from pydantic import SecretStr

    kwargs = {"model": config.model, "api_key": SecretStr(config.api_key) if config.api_key else None,
              "usage_id": usage_id, "timeout": config.timeout_s, "num_retries": 1 + max(0, retries)}
    if retries:  # the SDK's tenacity: stop_after_attempt(num_retries), wait_exponential(multiplier, min, max)
        kwargs.update(retry_multiplier=float(backoff_s), retry_min_wait=0,
                      retry_max_wait=max(1, math.ceil(backoff_s * 2 ** retries)))
        if on_retry is not None:
            kwargs["retry_listener"] = on_retry
    if config.base_url:
        # OpenAI-compatible servers (vLLM, Ollama, ...) speak chat completions, not /responses.
        kwargs.update(base_url=config.base_url, api_mode="chat", reasoning_effort=None)
    return LLM(**kwargs)
