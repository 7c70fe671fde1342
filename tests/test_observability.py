"""Laminar/OTLP tracing: initialised only when configured; the trace row carries the trace id.

A local OTLP/HTTP sink on 127.0.0.1 stands in for the collector.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openhands_driver.trace import read_rows

REPO = Path(__file__).resolve().parent.parent


class _Sink(BaseHTTPRequestHandler):
    received: list = []

    def log_message(self, *args):
        return

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        _Sink.received.append((self.path, len(self.rfile.read(length))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class ObservabilityTest(unittest.TestCase):
    def test_otlp_endpoint_gets_spans_and_the_row_gets_the_trace_id(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                trace = Path(tmp) / "trace.jsonl"
                env = {k: v for k, v in os.environ.items() if not k.startswith(("LMNR_", "OTEL_"))}
                env["OTEL_EXPORTER"] = "otlp_http"
                env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = \
                    f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
                proc = subprocess.run([sys.executable, "run_demo.py", "--json", "--trace-log", str(trace),
                                       "--verify-interval-s", "0.2"], cwd=REPO, env=env,
                                      capture_output=True, text=True, timeout=240)
                result = json.loads(proc.stdout)
                row = read_rows(trace)[-1]
        finally:
            server.shutdown()
            server.server_close()
        self.assertEqual(result["status"], "fixed", proc.stderr[-2000:])
        self.assertTrue(result["laminar_trace_id"])
        self.assertEqual(row["laminar_trace_id"], result["laminar_trace_id"])
        self.assertTrue(any(path == "/v1/traces" for path, _ in _Sink.received))


if __name__ == "__main__":
    unittest.main()
