"""openhands_driver.verifier: the independent health verdict, against a real local HTTP server.

A scripted http.server on 127.0.0.1 (port 0) answers each GET with the next scripted response, so
flapping, wrong services and broken bodies are reproduced exactly. ``sleep=`` records the waits
instead of sleeping.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import unittest
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

from openhands_driver import verifier
from openhands_driver.verifier import ProbeResult, VerificationResult, probe, verify

SCENARIO = "stale_lockfile"
OK = (200, {"status": "ok", "scenario": SCENARIO})
FAIL = (500, {"status": "error", "scenario": SCENARIO, "reason": "stale lock file var/lock/x.lock"})


class ScriptedServer:
    """Answers GET / with scripted (status, body) pairs; the last one repeats."""

    def __init__(self, *responses):
        self.script = deque(responses)
        self.hits = 0
        self.delay_s = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802
                status, body = owner._next()
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout tests)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def _next(self):
        self.hits += 1
        return self.script.popleft() if len(self.script) > 1 else self.script[0]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class VerifierTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.sleeps: list[float] = []

    def serve(self, *responses) -> ScriptedServer:
        server = ScriptedServer(*responses)
        self.addCleanup(server.close)
        return server

    def verify(self, url: str, **kwargs) -> VerificationResult:
        kwargs.setdefault("interval_s", 0.01)
        return verify(url, SCENARIO, sleep=self.sleeps.append, **kwargs)


class ProbeTests(VerifierTestCase):
    def test_healthy(self) -> None:
        server = self.serve(OK)
        result = probe(server.url, SCENARIO, attempt=3)
        self.assertEqual((result.attempt, result.ok, result.status_code, result.body_status,
                          result.scenario, result.reason), (3, True, 200, "ok", SCENARIO, "healthy"))
        self.assertGreaterEqual(result.elapsed_s, 0)
        self.assertEqual(result.to_dict()["reason"], "healthy")

    def test_http_error_keeps_the_service_reason(self) -> None:
        result = probe(self.serve(FAIL).url, SCENARIO)
        self.assertFalse(result.ok)
        self.assertEqual(result.status_code, 500)
        self.assertEqual(result.body_status, "error")
        self.assertEqual(result.reason, "HTTP 500: stale lock file var/lock/x.lock")

    def test_http_error_without_reason(self) -> None:
        result = probe(self.serve((503, {"status": "starting"})).url, SCENARIO)
        self.assertEqual(result.reason, "HTTP 503: starting")

    def test_wrong_scenario_is_not_ok(self) -> None:
        result = probe(self.serve((200, {"status": "ok", "scenario": "other"})).url, SCENARIO)
        self.assertFalse(result.ok)
        self.assertEqual(result.scenario, "other")
        self.assertIn("wrong service", result.reason)
        result = probe(self.serve((200, {"status": "ok"})).url, SCENARIO)
        self.assertFalse(result.ok)

    def test_status_not_ok(self) -> None:
        for status in ("degraded", "OK", None):
            with self.subTest(status=status):
                result = probe(self.serve((200, {"status": status, "scenario": SCENARIO})).url, SCENARIO)
                self.assertFalse(result.ok)
                self.assertIn("not 'ok'", result.reason)

    def test_non_json_and_non_object_bodies(self) -> None:
        cases = {b"<html>OK</html>": "body is not JSON", b"\xff\xfe": "body is not JSON",
                 b"": "body is not JSON", b'["ok"]': "body is not a JSON object",
                 b'"ok"': "body is not a JSON object"}
        for body, reason in cases.items():
            with self.subTest(body=body):
                result = probe(self.serve((200, body)).url, SCENARIO)
                self.assertFalse(result.ok)
                self.assertEqual(result.status_code, 200)
                self.assertEqual(result.reason, reason)

    def test_connection_refused(self) -> None:
        result = probe(closed_port_url(), SCENARIO)
        self.assertFalse(result.ok)
        self.assertIsNone(result.status_code)
        self.assertTrue(result.reason.startswith("connection failed"), result.reason)

    def test_timeout_is_a_failed_probe(self) -> None:
        server = self.serve(OK)
        server.delay_s = 0.5
        started = time.monotonic()
        result = probe(server.url, SCENARIO, timeout_s=0.1)
        self.assertLess(time.monotonic() - started, 0.45)
        self.assertFalse(result.ok)
        self.assertIn("connection failed", result.reason)


class VerifyTests(VerifierTestCase):
    def test_healthy_needs_consecutive_passes(self) -> None:
        server = self.serve(OK)
        result = self.verify(server.url, consecutive=2, max_attempts=6)
        self.assertTrue(result.verified)
        self.assertEqual([a.attempt for a in result.attempts], [1, 2])
        self.assertEqual(server.hits, 2)
        self.assertEqual(self.sleeps, [0.01])
        self.assertEqual((result.url, result.expected_scenario, result.consecutive_required,
                          result.max_attempts, result.interval_s), (server.url, SCENARIO, 2, 6, 0.01))
        self.assertIsNone(result.identity)

    def test_flapping_resets_the_streak(self) -> None:
        server = self.serve(OK, FAIL, OK, OK)
        result = self.verify(server.url, consecutive=2, max_attempts=6)
        self.assertTrue(result.verified)
        self.assertEqual([a.ok for a in result.attempts], [True, False, True, True])
        self.assertEqual(result.attempts[-1].attempt, 4)
        self.assertEqual(len(self.sleeps), 3)

    def test_always_failing_stops_when_the_streak_is_out_of_reach(self) -> None:
        server = self.serve(FAIL)
        result = self.verify(server.url, consecutive=2, max_attempts=6)
        self.assertFalse(result.verified)
        # after attempt 5 only one attempt is left: two in a row are impossible
        self.assertEqual(len(result.attempts), 5)
        self.assertEqual(server.hits, 5)
        self.assertEqual(len(self.sleeps), 4)
        self.assertTrue(all(not a.ok for a in result.attempts))

    def test_late_recovery_cannot_reach_the_streak(self) -> None:
        server = self.serve(FAIL, FAIL, FAIL, FAIL, OK, OK)
        result = self.verify(server.url, consecutive=3, max_attempts=6)
        self.assertFalse(result.verified)
        self.assertEqual(len(result.attempts), 4)  # 0 + 2 left < 3 after attempt 4

    def test_recovery_within_the_budget(self) -> None:
        server = self.serve(FAIL, FAIL, OK, OK)
        result = self.verify(server.url, consecutive=2, max_attempts=4)
        self.assertTrue(result.verified)
        self.assertEqual(len(result.attempts), 4)

    def test_single_probe(self) -> None:
        result = self.verify(self.serve(OK).url, consecutive=1, max_attempts=1)
        self.assertTrue(result.verified)
        self.assertEqual(self.sleeps, [])
        result = self.verify(self.serve(FAIL).url, consecutive=1, max_attempts=1)
        self.assertFalse(result.verified)

    def test_wrong_scenario_is_never_verified(self) -> None:
        server = self.serve((200, {"status": "ok", "scenario": "someone_else"}))
        result = self.verify(server.url, consecutive=2, max_attempts=3)
        self.assertFalse(result.verified)
        self.assertIn("wrong service", result.attempts[0].reason)

    def test_non_json_200_is_not_verified(self) -> None:
        result = self.verify(self.serve((200, b"OK")).url, consecutive=1, max_attempts=2)
        self.assertFalse(result.verified)
        self.assertEqual(result.attempts[0].reason, "body is not JSON")

    def test_status_not_ok_is_not_verified(self) -> None:
        server = self.serve((200, {"status": "degraded", "scenario": SCENARIO}))
        self.assertFalse(self.verify(server.url, consecutive=1, max_attempts=2).verified)

    def test_connection_refused(self) -> None:
        result = self.verify(closed_port_url(), consecutive=2, max_attempts=3)
        self.assertFalse(result.verified)
        self.assertEqual(len(result.attempts), 2)
        self.assertTrue(all("connection failed" in a.reason for a in result.attempts))

    def test_identity_check_must_pass(self) -> None:
        calls = []

        def identity() -> dict:
            calls.append(1)
            return {"ok": False, "reason": "container image differs"}

        server = self.serve(OK)
        result = self.verify(server.url, consecutive=2, max_attempts=3, identity_check=identity)
        self.assertFalse(result.verified)
        self.assertTrue(all(a.ok for a in result.attempts))
        self.assertEqual(result.identity, {"ok": False, "reason": "container image differs"})
        self.assertEqual(len(calls), 1)
        for identity_answer in ({}, {"ok": None}):
            with self.subTest(identity=identity_answer):
                result = self.verify(server.url, consecutive=1, max_attempts=1,
                                     identity_check=lambda answer=identity_answer: answer)
                self.assertFalse(result.verified)

    def test_identity_check_passing(self) -> None:
        result = self.verify(self.serve(OK).url, consecutive=2, max_attempts=2,
                             identity_check=lambda: {"ok": True, "container": "abc"})
        self.assertTrue(result.verified)
        self.assertEqual(result.identity["container"], "abc")

    def test_argument_validation(self) -> None:
        for consecutive, max_attempts in ((0, 5), (-1, 5), (3, 2), (1, 0)):
            with self.subTest(consecutive=consecutive, max_attempts=max_attempts):
                with self.assertRaises(ValueError):
                    verify("http://127.0.0.1:9/", SCENARIO, consecutive=consecutive,
                           max_attempts=max_attempts, sleep=self.sleeps.append)
        self.assertEqual(self.sleeps, [])

    def test_real_sleep_with_small_interval(self) -> None:
        server = self.serve(FAIL, OK, OK)
        started = time.monotonic()
        result = verify(server.url, SCENARIO, consecutive=2, max_attempts=4, interval_s=0.01)
        self.assertTrue(result.verified)
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertGreaterEqual(result.duration_s, 0.02)

    def test_to_dict_is_json_ready(self) -> None:
        result = self.verify(self.serve(FAIL, OK, OK).url, consecutive=2, max_attempts=4)
        data = json.loads(json.dumps(result.to_dict()))
        self.assertTrue(data["verified"])
        self.assertEqual([a["attempt"] for a in data["attempts"]], [1, 2, 3])
        self.assertEqual(set(data["attempts"][0]), set(ProbeResult.__dataclass_fields__))

    def test_defaults(self) -> None:
        self.assertEqual((verifier.DEFAULT_CONSECUTIVE, verifier.DEFAULT_MAX_ATTEMPTS), (2, 6))
        self.assertGreater(verifier.DEFAULT_INTERVAL_S, 0)

    def test_proxy_environment_is_ignored_for_the_local_probe(self) -> None:
        # BUG (verifier.py probe): urllib.request.urlopen honours http_proxy/HTTP_PROXY, so with a
        # proxy configured (and no no_proxy) the probe of http://127.0.0.1:<port>/ goes to the
        # proxy and a healthy target is reported "connection failed". targetctl.probe and the
        # tests bypass proxies with ProxyHandler({}); the verifier must too.
        server = self.serve(OK)
        proxy = closed_port_url().rstrip("/")
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy")}
        env.update({"http_proxy": proxy, "HTTP_PROXY": proxy})
        with mock.patch.dict(os.environ, env, clear=True), \
                mock.patch.object(urllib.request, "_opener", None):
            result = self.verify(server.url, consecutive=1, max_attempts=1)
        self.assertTrue(result.verified, result.attempts)


if __name__ == "__main__":
    unittest.main()
