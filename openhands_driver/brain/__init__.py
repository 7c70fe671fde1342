"""The brain: who decides the agent's next action.

With no model configured, the deterministic runbook policy (``policy.py``) plays the model's role,
served as an OpenAI-compatible endpoint on 127.0.0.1 (``server.py``) so the SDK's normal LLM path
(and an agent server) talks to it exactly as it would to a hosted model.
"""
