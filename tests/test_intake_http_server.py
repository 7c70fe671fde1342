"""openhands_driver.intake.http_server: waitress in a thread, on a free port of 127.0.0.1; stop()
closes open keep-alive connections and the listener within its bound; scripts/dashboard.py serves
through it and stops on SIGTERM."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from flask import Flask

from openhands_driver.errors import UserError
from openhands_driver.intake.http_server import STOP_TIMEOUT_S, HttpServer

REPO = Path(__file__).resolve().parent.parent


def tiny_app() -> Flask:
    app = Flask("tiny")

    @app.get("/who")
    def who():
        return {"thread": threading.current_thread().name}

    return app


class HttpServerTest(unittest.TestCase):
    def test_serves_keep_alive_then_stops_with_connections_open(self):
        server = HttpServer(tiny_app(), host="127.0.0.1", port=0, threads=2).start()
        self.addCleanup(server.stop)
        self.assertTrue(server.alive)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        self.addCleanup(conn.close)
        for _ in range(3):  # one connection, three requests
            conn.request("GET", "/who")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.headers["Server"], "sre-intake")
            json.loads(response.read())
        began = time.monotonic()
        server.stop()
        self.assertLess(time.monotonic() - began, STOP_TIMEOUT_S * 2)
        self.assertFalse(server.alive)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()

    def test_a_port_in_use_is_a_user_error_naming_it(self):
        taken = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        with self.assertRaises(UserError) as caught:
            HttpServer(tiny_app(), host="127.0.0.1", port=port)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", str(caught.exception))

    def test_a_body_over_the_limit_is_refused(self):
        server = HttpServer(tiny_app(), host="127.0.0.1", port=0, max_body_bytes=1024).start()
        self.addCleanup(server.stop)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        self.addCleanup(conn.close)
        conn.request("POST", "/who", body=b"x" * 100_000, headers={"Content-Type": "application/json"})
        self.assertEqual(conn.getresponse().status, 413)


class StandaloneDashboardTest(unittest.TestCase):
    def test_dashboard_script_serves_and_stops_on_sigterm(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            trace.write_text("", encoding="utf-8")
            proc = subprocess.Popen([sys.executable, "scripts/dashboard.py", "--port", "0", "--insecure-no-auth",
                                     "--trace-log", str(trace), "--results", tmp], cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
            self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
            line = proc.stdout.readline()
            self.assertIn("listening", line, proc.stderr.read() if not line else "")
            port = int(json.loads(line)["url"].rsplit(":", 1)[1])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            os.killpg(proc.pid, signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
            self.assertEqual(proc.returncode, 0, err)
            self.assertIn('"event": "stopped"', out)


if __name__ == "__main__":
    unittest.main()
