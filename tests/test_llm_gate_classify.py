"""Failure classes with evidence: credential/config, provider/transient, likely SDK incompatibility."""

from __future__ import annotations

import os
import unittest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network for the price table

import litellm  # noqa: E402

from openhands_driver.llm_gate.classify import classify  # noqa: E402


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - we want the traceback attached
        return caught


def wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("Conversation run failed") from exc
    except RuntimeError as outer:
        return outer


class ClassifyTest(unittest.TestCase):
    def test_credentials(self):
        v = classify(wrapped(litellm.AuthenticationError("Incorrect API key provided", "openai", "gpt")))
        self.assertEqual((v.category, v.kind), ("credentials", "credential_config"))
        self.assertTrue(any("AuthenticationError" in e for e in v.evidence), v.evidence)

    def test_config(self):
        v = classify(raised(litellm.NotFoundError("model gpt-9 does not exist", "openai", "gpt-9")))
        self.assertEqual((v.category, v.kind), ("config", "credential_config"))

    def test_transient(self):
        for exc in (litellm.RateLimitError("slow down", "openai", "gpt"),
                    litellm.ServiceUnavailableError("overloaded", "openai", "gpt"),
                    litellm.Timeout("timed out", "gpt", "openai")):
            with self.subTest(exc=type(exc).__name__):
                self.assertEqual(classify(wrapped(exc)).kind, "provider_transient")

    def test_programming_error_is_an_incompatibility_with_its_frame(self):
        v = classify(wrapped(raised(TypeError("'NoneType' object is not subscriptable"))))
        self.assertEqual((v.category, v.kind), ("incompatibility", "sdk_incompatibility"))
        self.assertTrue(v.where and "raised" in v.where[-1], v.where)
        self.assertIn("TypeError", " ".join(v.evidence))

    def test_wrong_behaviour_without_provider_signal_is_an_incompatibility(self):
        v = classify(raised(RuntimeError("no terminal call ran `echo TOOL_OK`")))
        self.assertEqual(v.kind, "sdk_incompatibility")


if __name__ == "__main__":
    unittest.main()
