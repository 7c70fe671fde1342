"""The API tool set (openhands_driver/api_tools.py): each tool against a recording HTTP server on
127.0.0.1 (the /ops/* API and a PagerDuty Events v2 receiver), limits, path safety, and the SDK tools."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from openhands_driver import api_tools
from openhands_driver.errors import UserError


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        return

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.server.seen.append({"method": self.command, "path": self.path, "body": body,
                                 "headers": dict(self.headers)})
        data = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(202 if self.path.endswith("/enqueue") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer  # noqa: N815


class ApiToolTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        self.server.seen = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.config = api_tools.ApiToolConfig(
            ops_url=base, ops_token="secret-token", service="cart", workspace=Path(self.tmp.name),
            scaling_limits=api_tools.parse_scaling_limits("cart|1|3|manual;ledger|0|2|readonly"),
            pagerduty_url=base + "/v2/enqueue", pagerduty_routing_key="rk-1", trace_id="trace-7")

    @property
    def seen(self) -> list[dict]:
        return self.server.seen

    def test_call_ops_sends_token_and_trace_id(self) -> None:
        result = api_tools.call_ops(self.config, "GET", "/ops/status")
        self.assertTrue(result.ok)
        self.assertTrue(result.text.startswith("HTTP 200"))
        self.assertEqual(self.seen[0]["headers"]["Authorization"], "Bearer secret-token")
        self.assertEqual(self.seen[0]["headers"]["X-Trace-Id"], "trace-7")
        self.assertNotIn("secret-token", result.text)
        api_tools.call_ops(self.config, "POST", "/ops/flags", {"flag": "x", "state": "DISABLED"})
        self.assertEqual(self.seen[1]["body"], {"flag": "x", "state": "DISABLED"})

    def test_call_ops_refuses_other_paths_and_methods(self) -> None:
        for method, path in (("GET", "/etc/passwd"), ("GET", "/ops/../admin"), ("GET", "http://x/ops/a"),
                             ("DELETE", "/ops/flags"), ("GET", "//evil/ops/"), ("GET", "/ops/a b")):
            with self.subTest(method=method, path=path):
                result = api_tools.call_ops(self.config, method, path)
                self.assertFalse(result.ok)
                self.assertTrue(result.text.startswith("REFUSED"))
        self.assertEqual(self.seen, [])

    def test_query_logs_and_metrics(self) -> None:
        api_tools.query_logs(self.config, n=5000, level="ERROR", contains="GET /")
        self.assertEqual(self.seen[0]["path"], "/ops/logs?n=2000&level=ERROR&contains=GET+%2F")
        self.assertTrue(api_tools.query_metrics(self.config).ok)
        self.assertEqual([s["path"] for s in self.seen[1:]], ["/ops/status", "/ops/metrics"])

    def test_scaling_limits_parse(self) -> None:
        limits = api_tools.parse_scaling_limits("cart|1|3|manual, ledger|0|2|readonly\nx|2|2|manual")
        self.assertEqual(limits["cart"], api_tools.ScalingLimit("cart", 1, 3, "manual"))
        self.assertEqual(set(limits), {"cart", "ledger", "x"})
        for bad in ("cart|1|3", "cart|a|3|manual", "cart|4|3|manual", "cart|1|3|auto"):
            with self.subTest(bad=bad):
                with self.assertRaises(UserError):
                    api_tools.parse_scaling_limits(bad)

    def test_scale_refused_outside_the_limits(self) -> None:
        for replicas in (0, 4, -1, True):
            with self.subTest(replicas=replicas):
                result = api_tools.scale(self.config, replicas)
                self.assertFalse(result.ok)
                self.assertIn("REFUSED", result.text)
        self.assertIn("not this incident's service", api_tools.scale(self.config, 1, "ledger").text)
        readonly = api_tools.ApiToolConfig(**{**self.config.__dict__, "service": "ledger"})
        self.assertIn("read-only", api_tools.scale(readonly, 1).text)
        nolimits = api_tools.ApiToolConfig(**{**self.config.__dict__, "scaling_limits": {}})
        self.assertIn("no SCALING_LIMITS entry", api_tools.scale(nolimits, 2).text)
        self.assertEqual(self.seen, [])  # nothing reached the service
        self.assertTrue(api_tools.scale(self.config, 2).ok)
        self.assertEqual((self.seen[0]["path"], self.seen[0]["body"]), ("/ops/scale", {"replicas": 2}))

    def test_pagerduty_trigger_acknowledge_resolve(self) -> None:
        self.assertTrue(api_tools.escalate(self.config, "cart down", "critical", "dk-1").ok)
        self.assertTrue(api_tools.acknowledge(self.config, "dk-1", "acknowledge").ok)
        self.assertTrue(api_tools.acknowledge(self.config, "dk-1", "resolve").ok)
        events = [s["body"] for s in self.seen]
        self.assertEqual([e["event_action"] for e in events], ["trigger", "acknowledge", "resolve"])
        self.assertTrue(all(e["routing_key"] == "rk-1" and e["dedup_key"] == "dk-1" for e in events))
        self.assertEqual(events[0]["payload"]["summary"], "cart down")
        self.assertEqual(events[0]["payload"]["source"], "cart")
        self.assertFalse(api_tools.acknowledge(self.config, "dk-1", "delete").ok)
        self.assertFalse(api_tools.escalate(self.config, "x", "sev0").ok)
        unconfigured = api_tools.ApiToolConfig(**{**self.config.__dict__, "pagerduty_routing_key": ""})
        self.assertTrue(api_tools.escalate(unconfigured, "x").text.startswith("NOT SENT"))
        self.assertEqual(len(self.seen), 3)

    def test_incident_report_stays_in_the_workspace(self) -> None:
        result = api_tools.write_report(self.config, "incident.md", "# Report\n")
        self.assertTrue(result.ok)
        self.assertEqual((Path(self.tmp.name) / "reports/incident.md").read_text(), "# Report\n")
        outside = Path(self.tmp.name).parent / "escaped.md"
        for name in ("../escaped.md", "a/b.md", "/tmp/x.md", "..", ".hidden", ""):
            with self.subTest(name=name):
                self.assertFalse(api_tools.write_report(self.config, name, "x").ok)
        self.assertFalse(outside.exists())
        link = Path(self.tmp.name) / "reports/link.md"
        link.symlink_to(outside)
        self.assertFalse(api_tools.write_report(self.config, "link.md", "x").ok)
        self.assertFalse(outside.exists())


class SdkToolTests(unittest.TestCase):
    def test_the_sdk_tools_are_the_seven_api_tools(self) -> None:
        from openhands_driver.conversation import prepare_sdk_env

        prepare_sdk_env()
        from openhands.sdk.tool.registry import resolve_tool

        with tempfile.TemporaryDirectory() as tmp:
            config = api_tools.ApiToolConfig(ops_url="http://127.0.0.1:9", ops_token="t", service="cart",
                                             workspace=Path(tmp))
            key = api_tools.remember(config)
            try:
                specs = api_tools.tool_specs(key)
                self.assertEqual([s.name for s in specs], list(api_tools.TOOL_NAMES))
                self.assertNotIn("t", json.dumps([s.params for s in specs]).replace('"', " ").split())
                tools = {s.name: resolve_tool(s, None)[0] for s in specs}
                write = tools["write_incident_report"]
                observation = write.executor(write.action_type(filename="r.md", content="hello"))
                self.assertFalse(observation.is_error)
                self.assertTrue((Path(tmp) / "reports/r.md").is_file())
                scale = tools["scale_service"]
                refused = scale.executor(scale.action_type(replicas=2))
                self.assertTrue(refused.is_error)
                self.assertIn("REFUSED", refused.text)
            finally:
                api_tools.forget(key)


if __name__ == "__main__":
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    unittest.main()
