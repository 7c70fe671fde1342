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
