"""An OpenAI-compatible chat-completions endpoint on 127.0.0.1 that serves the runbook policy.

The SDK (locally or inside an agent server) talks to it through litellm exactly as to a hosted
model, so the offline brain exercises the real LLM path. Requests without ``tools`` (the agent
server's title request) get a short plain-text answer. Usage is reported as zero tokens: no model
ran. Standard library only; one server can serve many conversations at once (the policy is a pure
function of each request).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openhands_driver.brain.policy import Finish, ToolCall, decide

MODEL_NAME = "runbook-policy"


def _completion(model: str, message: dict, finish_reason: str) -> dict:
    return {
        "id": f"chatcmpl-runbook-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def respond(request: dict) -> dict:
    """The chat.completion answer to one request body."""
    model = str(request.get("model") or MODEL_NAME)
    messages = request.get("messages") or []
    if not request.get("tools"):
        return _completion(model, {"role": "assistant", "content": "SRE incident remediation"}, "stop")
    decision = decide(messages, tools=request.get("tools"))
    step = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
    if isinstance(decision, Finish):
        name, arguments = "finish", {"message": decision.message}
    else:
        assert isinstance(decision, ToolCall)
        name, arguments = decision.name, decision.arguments
    call = {"id": f"call_{step:03d}_{name}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}
    return _completion(model, {"role": "assistant", "content": None, "tool_calls": [call]},
                       "tool_calls")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep the console for the incident
        return

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            self._send(200, respond(request))
        except Exception as exc:  # a bad request must not kill the server thread
            self._send(400, {"error": {"message": f"runbook policy could not answer: {exc}"}})


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # fan-out: many conversations connect at once
    daemon_threads = True


class PolicyServer:
    """Context manager: ``with PolicyServer() as server: server.base_url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._httpd = _Server((host, port), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="runbook-policy", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "PolicyServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "PolicyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
