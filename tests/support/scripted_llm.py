"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for real-model tests.

It stands in for a hosted model on the real litellm/SDK path (no patching of project code): each
request to ``/v1/chat/completions`` gets the next scripted reply. A reply is one of
``tool(name, **arguments)``, ``text(...)``, ``error(status)``, ``malformed(name)`` (arguments that
are not JSON) or ``slow(seconds, reply)``. Requests are kept for assertions (``requests``), and the
``usage`` the server reported is summed in ``usage_total``.

A request with ``"stream": true`` gets the same reply as server-sent ``chat.completion.chunk`` events
(``streamed`` counts them). Only ``/chat/completions`` is served: any other path (e.g. the responses
API) answers 404, so a client that should have used chat completions fails loudly, unless
``responses=True``: then ``/responses`` serves the same script as responses-API objects.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def tool(name: str, **arguments) -> dict:
    return {"kind": "tool", "name": name, "arguments": json.dumps(arguments)}


def malformed(name: str = "terminal") -> dict:
    return {"kind": "tool", "name": name, "arguments": "{\"command\": \"targetctl status\""}


def text(content: str) -> dict:
    return {"kind": "text", "content": content}


def error(status: int, message: str = "scripted failure") -> dict:
    return {"kind": "error", "status": status, "message": message}


def slow(seconds: float, reply: dict) -> dict:
    return {**reply, "delay": seconds}


class ScriptedModel:
    def __init__(self, script: list[dict], *, prompt_tokens: int = 101, completion_tokens: int = 17,
                 repeat_last: bool = True, fail_status: int | None = None, responses: bool = False):
        self.script = list(script)
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.repeat_last = repeat_last
        self.fail_status = fail_status  # answer every request with this HTTP error
        self.responses = responses  # also serve the responses API (/responses) from the same script
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.usage_total = {"input": 0, "output": 0}
        self.streamed = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._index = 0
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                return

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, body: dict) -> None:
                data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in model._chunks(body))
                data += b"data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length) or b"{}")
                with model._lock:
                    model.paths.append(self.path)
                if model.responses and self.path.rstrip("/").endswith("/responses"):
                    status, body, delay = model._answer({**request, "tools": request.get("tools")},
                                                        dict(self.headers))
                    self._send(status, model._as_response(body) if status == 200 else body)
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                status, body, delay = model._answer(request, dict(self.headers))
                if delay:
                    time.sleep(delay)
                try:
                    if request.get("stream") and status == 200:
                        self._send_stream(body)
                    else:
                        self._send(status, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def _answer(self, request: dict, headers: dict) -> tuple[int, dict, float]:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            if self.fail_status:
                return self.fail_status, {"error": {"message": "Incorrect API key provided",
                                                    "type": "invalid_request_error"}}, 0
            if not request.get("tools"):  # title / no-tool request
                self.usage_total["input"] += self.prompt_tokens
                self.usage_total["output"] += self.completion_tokens
                return 200, self._completion({"role": "assistant", "content": "incident"}, "stop"), 0
            if self._index < len(self.script):
                step = self.script[self._index]
                self._index += 1
            elif self.repeat_last and self.script:
                step = self.script[-1]
            else:
                step = text("done")
            if step["kind"] == "error":
                return step["status"], {"error": {"message": step["message"], "type": "server_error",
                                                  "code": step["status"]}}, step.get("delay", 0)
            self.usage_total["input"] += self.prompt_tokens
            self.usage_total["output"] += self.completion_tokens
            if step["kind"] == "text":
                return 200, self._completion({"role": "assistant", "content": step["content"]}, "stop"), \
                    step.get("delay", 0)
            call = {"id": f"call_{len(self.requests)}", "type": "function",
                    "function": {"name": step["name"], "arguments": step["arguments"]}}
            return 200, self._completion({"role": "assistant", "content": None, "tool_calls": [call]},
                                         "tool_calls"), step.get("delay", 0)

    def _as_response(self, body: dict) -> dict:
        """A chat.completion as a responses-API object (``output`` items)."""
        message = body["choices"][0]["message"]
        output = []
        if message.get("content"):
            output.append({"type": "message", "id": f"msg_{time.time_ns()}", "status": "completed",
                           "role": "assistant",
                           "content": [{"type": "output_text", "text": message["content"], "annotations": []}]})
        for call in message.get("tool_calls") or []:
            output.append({"type": "function_call", "id": f"fc_{call['id']}", "call_id": call["id"],
                           "name": call["function"]["name"], "arguments": call["function"]["arguments"],
                           "status": "completed"})
        usage = body["usage"]
        return {"id": f"resp_{time.time_ns()}", "object": "response", "created_at": body["created"],
                "status": "completed", "model": body["model"], "output": output,
                "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"],
                          "total_tokens": usage["total_tokens"]}}

    def _chunks(self, body: dict) -> list[dict]:
        """A chat.completion as streamed chunks: role, content in pieces or the tool call, then usage."""
        choice = body["choices"][0]
        message = choice["message"]
        base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"],
                "model": body["model"]}

        def chunk(delta: dict, finish=None, **extra) -> dict:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

        out = [chunk({"role": "assistant", "content": ""})]
        content = message.get("content") or ""
        for i in range(0, len(content), 4):
            out.append(chunk({"content": content[i:i + 4]}))
        for index, call in enumerate(message.get("tool_calls") or []):
            out.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                              "function": {"name": call["function"]["name"], "arguments": ""}}]}))
            arguments = call["function"]["arguments"]
            for i in range(0, len(arguments), 16):
                out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[i:i + 16]}}]}))
        out.append(chunk({}, choice["finish_reason"]))
        out.append({**base, "choices": [], "usage": body["usage"]})
        with self._lock:
            self.streamed += len(out)
        return out

    def _completion(self, message: dict, finish_reason: str) -> dict:
        return {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion",
                "created": int(time.time()), "model": "scripted",
                "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                          "total_tokens": self.prompt_tokens + self.completion_tokens}}

    def __enter__(self) -> "ScriptedModel":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
