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


def model_llm(config, *, usage_id: str = "agent"):
    """An SDK LLM for a configured model (``model.ModelConfig``) through litellm."""
    from openhands.sdk import LLM
    from pydantic import SecretStr

    kwargs = {"model": config.model, "api_key": SecretStr(config.api_key) if config.api_key else None,
              "usage_id": usage_id, "timeout": config.timeout_s, "num_retries": 1}
    if config.base_url:
        # OpenAI-compatible servers (vLLM, Ollama, ...) speak chat completions, not /responses.
        kwargs.update(base_url=config.base_url, api_mode="chat", reasoning_effort=None)
    return LLM(**kwargs)
