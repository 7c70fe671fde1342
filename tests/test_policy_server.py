"""openhands_driver.brain.server: the OpenAI-compatible endpoint serving the runbook policy.

Real HTTP requests on 127.0.0.1 (http.client: no proxies) against a PolicyServer on a free port.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from openhands_driver.brain.policy import Finish, decide
from openhands_driver.brain.server import MODEL_NAME, PolicyServer, respond
from openhands_driver.proof.diagnosis import parse_diagnosis

REPO = Path(__file__).resolve().parent.parent
TRIAGE = (REPO / "training_data" / "strategies" / "manual_triage.md").read_text(encoding="utf-8")
TOOLS = [{"type": "function", "function": {"name": name, "description": name,
                                            "parameters": {"type": "object", "properties": {}}}}
         for name in ("terminal", "invoke_skill", "finish")]
# What the SDK sends for a blind incident: the skill list in the system prompt, a symptom-level alert
# and a triage runbook in the first user message.
SYSTEM = {"role": "system", "content": (
    "You are an SRE agent.\n<available_skills>\n  <skill>\n    <name>lock-skill</name>\n"
    "    <description>A dead process's lock blocks the service. Signals: cannot acquire lock; held by "
    "pid</description>\n  </skill>\n</available_skills>\n")}
INCIDENT = {"role": "user", "content": ("# Incident: Alert: quotes\n\nquotes: HTTP 5xx ratio 100% for 5m\n\n"
                                        f'Follow this runbook:\n<runbook name="manual_triage.md">\n{TRIAGE}\n'
                                        "</runbook>\n")}
START = [SYSTEM, INCIDENT]
HEALTHY = ('HTTP 200\n{\n  "status": "ok",\n  "instance": "i-0a1b2c3d4e5f"\n}\n'
           "[The command completed with exit code 0.]")
BROKEN = ('HTTP 503\n{"status": "error", "instance": "i-0a1b2c3d4e5f", "error": "Service Unavailable"}\n'
          "[The command completed with exit code 1.]")
LOGS = ("2026-11-29 10:00:01 ERROR quotes[81]: cannot acquire lock var/lock/q/instance.lock: held by pid "
        "4242\n[The command completed with exit code 0.]")
SKILL = ("## Diagnose\n```bash\npython3 .agents/skills/lock-skill/diagnose.py\n```\n## Remediate\n"
         "```bash\npython3 .agents/skills/lock-skill/remediate.py\n```\n## Verify\n```bash\n"
         "targetctl status\n```\n")
DIAGNOSIS = {"fault_class": "stale_lockfile", "entity": "var/lock/q/instance.lock", "evidence": ["pid 4242 dead"]}
TIMEOUT_S = 5


def step(messages: list[dict], call_id: str, command: str, output: str, tool: str = "terminal") -> list[dict]:
    arguments = {"command": command} if tool == "terminal" else {"name": command}
    return messages + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": tool, "arguments": json.dumps(arguments)}}]},
        {"role": "tool", "tool_call_id": call_id, "content": output}]


class PolicyServerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = PolicyServer().start()
        parts = urlsplit(cls.server.base_url)
        cls.host, cls.port, cls.prefix = parts.hostname, parts.port, parts.path

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, conn: http.client.HTTPConnection | None = None):
        own = conn is None
        conn = conn or http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, response.getheader("Content-Type"), json.loads(data)
        finally:
            if own:
                conn.close()

    def chat(self, payload: dict, conn=None):
        return self.request("POST", f"{self.prefix}/chat/completions", json.dumps(payload).encode(),
                            {"Content-Type": "application/json"}, conn)

    # --- shape ------------------------------------------------------------------------------

    def test_base_url(self) -> None:
        self.assertEqual(self.host, "127.0.0.1")
        self.assertTrue(self.server.base_url.endswith("/v1"))
        self.assertGreater(self.port, 0)

    def test_models(self) -> None:
        for path in (f"{self.prefix}/models", f"{self.prefix}/models/"):
            with self.subTest(path=path):
                status, ctype, body = self.request("GET", path)
                self.assertEqual(status, 200)
                self.assertEqual(ctype, "application/json")
                self.assertEqual(body["object"], "list")
                self.assertEqual([m["id"] for m in body["data"]], [MODEL_NAME])

    def test_without_tools_a_plain_text_completion(self) -> None:
        for extra in ({}, {"tools": []}, {"tools": None}):
            with self.subTest(extra=extra):
                status, _, body = self.chat({"model": "m1", "messages": START, **extra})
                self.assertEqual(status, 200)
                self.assertEqual(body["object"], "chat.completion")
                self.assertEqual(body["model"], "m1")
                choice = body["choices"][0]
                self.assertEqual(choice["finish_reason"], "stop")
                self.assertEqual(choice["message"]["role"], "assistant")
                self.assertIsInstance(choice["message"]["content"], str)
                self.assertTrue(choice["message"]["content"])
                self.assertNotIn("tool_calls", choice["message"])

    def test_tool_call_shape(self) -> None:
        status, ctype, body = self.chat({"model": "openai/runbook-policy", "messages": START,
                                         "tools": TOOLS})
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "application/json")
        self.assertTrue(body["id"].startswith("chatcmpl-"))
        self.assertEqual(body["object"], "chat.completion")
        self.assertIsInstance(body["created"], int)
        self.assertEqual(body["model"], "openai/runbook-policy")
        self.assertEqual(body["usage"], {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
        self.assertEqual(len(body["choices"]), 1)
        choice = body["choices"][0]
        self.assertEqual(choice["index"], 0)
        self.assertEqual(choice["finish_reason"], "tool_calls")
        message = choice["message"]
        self.assertEqual(message["role"], "assistant")
        self.assertIsNone(message["content"])
        (call,) = message["tool_calls"]
        self.assertEqual(call["type"], "function")
        self.assertEqual(call["id"], "call_000_terminal")
        self.assertEqual(call["function"]["name"], "terminal")
        self.assertIsInstance(call["function"]["arguments"], str)  # a JSON string, as OpenAI sends
        arguments = json.loads(call["function"]["arguments"])
        self.assertEqual(arguments["command"], "targetctl status")
        self.assertEqual(arguments["security_risk"], "LOW")

    def test_default_model_name(self) -> None:
        _, _, body = self.chat({"messages": START, "tools": TOOLS})
        self.assertEqual(body["model"], MODEL_NAME)

    def test_finish_is_a_finish_tool_call_and_ids_follow_the_step(self) -> None:
        messages = step(START, "call_000_terminal", "targetctl status", HEALTHY)
        status, _, body = self.chat({"model": "m", "messages": messages, "tools": TOOLS})
        self.assertEqual(status, 200)
        choice = body["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        (call,) = choice["message"]["tool_calls"]
        self.assertEqual(call["id"], "call_001_finish")
        self.assertEqual(call["function"]["name"], "finish")
        message = json.loads(call["function"]["arguments"])["message"]
        expected = decide(messages)
        self.assertIsInstance(expected, Finish)
        self.assertEqual(message, expected.message)
        self.assertIn("healthy", message)

    def test_respond_without_http(self) -> None:
        self.assertEqual(respond({})["choices"][0]["finish_reason"], "stop")
        answer = respond({"messages": START, "tools": TOOLS})
        self.assertEqual(answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "terminal")

    # --- errors -----------------------------------------------------------------------------

    def test_unknown_paths_are_404(self) -> None:
        for method, path in (("GET", "/"), ("GET", f"{self.prefix}/chat/completions"),
                             ("POST", f"{self.prefix}/completions"), ("POST", "/v1/embeddings")):
            with self.subTest(method=method, path=path):
                body = b"{}" if method == "POST" else None
                status, _, answer = self.request(method, path, body)
                self.assertEqual(status, 404)
                self.assertIn("no route", answer["error"]["message"])

    def test_malformed_bodies_are_400_and_the_server_keeps_serving(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
        self.addCleanup(conn.close)
        path = f"{self.prefix}/chat/completions"
        bad = {"not json": (b"{nope", {}), "a JSON list": (b"[1, 2]", {}),
               "bad messages": (json.dumps({"messages": "x", "tools": TOOLS}).encode(), {}),
               "bad length": (b"{}", {"Content-Length": "abc"})}
        for label, (body, headers) in bad.items():
            with self.subTest(label):
                if label == "bad length":  # needs its own connection: the body is never read
                    status, _, answer = self.request("POST", path, body, headers)
                else:  # same keep-alive connection: it must stay usable after a 400
                    status, _, answer = self.request("POST", path, body, headers, conn)
                self.assertEqual(status, 400)
                self.assertIn("could not answer", answer["error"]["message"])
        status, _, answer = self.chat({"messages": START, "tools": TOOLS}, conn)
        self.assertEqual(status, 200)
        self.assertEqual(answer["choices"][0]["finish_reason"], "tool_calls")

    def test_empty_body_is_a_plain_completion(self) -> None:
        status, _, answer = self.request("POST", f"{self.prefix}/chat/completions", b"")
        self.assertEqual(status, 200)
        self.assertEqual(answer["choices"][0]["finish_reason"], "stop")

    # --- concurrency ------------------------------------------------------------------------

    def blind_flow(self) -> list[list[dict]]:
        """Every prefix of one blind conversation: triage, signal-ranked skill, fix, verify."""
        answers = [("terminal", "targetctl status", BROKEN), ("terminal", "targetctl logs -n 40", LOGS),
                   ("invoke_skill", "lock-skill", SKILL),
                   ("terminal", "python3 .agents/skills/lock-skill/diagnose.py",
                    json.dumps({"fault_present": True, "diagnosis": DIAGNOSIS})
                    + "\n[The command completed with exit code 0.]"),
                   ("terminal", "python3 .agents/skills/lock-skill/remediate.py",
                    '{"ok": true}\n[The command completed with exit code 0.]'),
                   ("terminal", "targetctl status", HEALTHY)]
        flow = [START]
        for index, (tool, command, output) in enumerate(answers):
            flow.append(step(flow[-1], f"call_{index:03d}_{tool}", command, output, tool))
        return flow

    def test_a_blind_conversation_over_http_ends_with_the_diagnosis_block(self) -> None:
        flow = self.blind_flow()
        for index, messages in enumerate(flow):
            status, _, body = self.chat({"model": "m", "messages": messages, "tools": TOOLS})
            self.assertEqual(status, 200)
            (call,) = body["choices"][0]["message"]["tool_calls"]
            arguments = json.loads(call["function"]["arguments"])
            if index + 1 < len(flow):  # the server's call is the one the recorded flow made next
                recorded = flow[index + 1][-2]["tool_calls"][0]["function"]
                self.assertEqual(call["function"]["name"], recorded["name"])
                self.assertEqual({k: arguments[k] for k in json.loads(recorded["arguments"])},
                                 json.loads(recorded["arguments"]))
            else:
                self.assertEqual(call["function"]["name"], "finish")
                self.assertTrue(arguments["message"].startswith("Fixed"))
                self.assertEqual(parse_diagnosis(arguments["message"]), DIAGNOSIS)

    def test_concurrent_conversations(self) -> None:
        conversations = self.blind_flow()
        conversations.append(step(START, "call_000_terminal", "targetctl status", HEALTHY))
        expected = [decide(messages) for messages in conversations]

        def ask(index: int):
            messages = conversations[index % len(conversations)]
            status, _, body = self.chat({"model": f"m{index}", "messages": messages, "tools": TOOLS})
            return index, status, body

        # 4 clients at once: see test_burst_of_connections for larger bursts
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(ask, range(40)))
        self.assertEqual(len(results), 40)
        for index, status, body in results:
            with self.subTest(request=index):
                self.assertEqual(status, 200)
                self.assertEqual(body["model"], f"m{index}")
                call = body["choices"][0]["message"]["tool_calls"][0]
                arguments = json.loads(call["function"]["arguments"])
                want = expected[index % len(conversations)]
                if isinstance(want, Finish):
                    self.assertEqual(call["function"]["name"], "finish")
                    self.assertEqual(arguments["message"], want.message)
                else:
                    self.assertEqual(call["function"]["name"], want.name)
                    self.assertEqual(arguments, want.arguments)


    def test_burst_of_connections(self) -> None:
        # BUG (server.py PolicyServer): ThreadingHTTPServer keeps socketserver's listen backlog of
        # 5 (request_queue_size), so a burst of ~8+ simultaneous clients (fan-out runs sharing one
        # policy server) overflows the accept queue: connects stall ~1 s (SYN retry) and some are
        # reset ("Connection reset by peer"), which fails an LLM call made with num_retries=0.
        self.assertGreaterEqual(self.server._httpd.request_queue_size, 64)
        clients = 32
        barrier = threading.Barrier(clients, timeout=TIMEOUT_S)

        def ask(_: int) -> int:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            try:
                barrier.wait()
                conn.request("POST", f"{self.prefix}/chat/completions", b"{}")
                response = conn.getresponse()
                response.read()
                return response.status
            finally:
                conn.close()

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            statuses = list(pool.map(ask, range(clients)))
        self.assertEqual(statuses, [200] * clients)
        self.assertLess(time.monotonic() - started, 0.9)


class LifecycleTests(unittest.TestCase):
    def test_context_manager_serves_and_stops(self) -> None:
        with PolicyServer() as server:
            parts = urlsplit(server.base_url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
            conn.request("GET", "/v1/models")
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            threads_before = {t.name for t in threading.enumerate()}
            self.assertIn("runbook-policy", threads_before)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
        with self.assertRaises(OSError):
            conn.request("GET", "/v1/models")
            conn.getresponse()
        conn.close()

    def test_two_servers_get_different_ports(self) -> None:
        with PolicyServer() as first, PolicyServer() as second:
            self.assertNotEqual(first.base_url, second.base_url)


if __name__ == "__main__":
    unittest.main()
