"""openhands_driver.intake.logs: JSON log lines, each with the trace id of its request or run,
secrets redacted, and the bounded error ring behind GET /ops/errors."""

from __future__ import annotations

import io
import json
import logging
import unittest

from openhands_driver.errors import UserError
from openhands_driver.intake import logs
from openhands_driver.intake.testing import FakeRunner
from tests.test_intake_ops import failing_outcome
from tests.test_intake_service import TOKEN, IntakeCase, wait_for


class JsonLinesTest(IntakeCase):
    def setUp(self) -> None:
        super().setUp()
        root = logging.getLogger()
        level = root.level
        self.stream = io.StringIO()
        handler = logs.configure("INFO", stream=self.stream, secrets=(TOKEN,))
        self.addCleanup(root.setLevel, level)
        self.addCleanup(root.removeHandler, handler)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def test_every_line_is_json_with_the_trace_id_of_its_request_or_run(self):
        self.start(FakeRunner(outcome=failing_outcome))
        status, body = self.post("generic", {"title": "checkout down", "service": "checkout",
                                             "scenario": "stale_lockfile"},
                                 headers={"X-Trace-Id": "trace-abc-123"})
        self.assertEqual(status, 202, body)
        execution_id = body["execution_id"]
        self.wait_status(execution_id)
        wait_for(lambda: any(line["message"].startswith("runner failed") for line in self.lines()))
        logging.getLogger("openhands_driver.test").warning("outside any request, token %s", TOKEN)
        lines = self.lines()
        self.assertTrue(lines)
        for line in lines:
            self.assertTrue({"time", "level", "logger", "message", "trace_id"} <= set(line), line)
        accepted = [line for line in lines if line["message"] == "alert queued"]
        self.assertEqual([(a["trace_id"], a["execution_id"]) for a in accepted],
                         [("trace-abc-123", execution_id)])
        failed = [line for line in lines if line["message"].startswith("runner failed")]
        self.assertEqual(failed[0]["trace_id"], execution_id)
        self.assertIn("planted runner failure", failed[0]["exc_info"])
        outside = lines[-1]
        self.assertIsNone(outside["trace_id"])
        self.assertNotIn(TOKEN, self.stream.getvalue())
        self.assertIn("<redacted>", outside["message"])

    def test_the_response_echoes_the_trace_id_or_a_fresh_one(self):
        self.start()
        import http.client

        for sent, expect_same in (("given-trace.1", True), ("bad trace id with spaces", False)):
            conn = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=10)
            conn.request("GET", "/healthz", headers={"X-Trace-Id": sent})
            response = conn.getresponse()
            response.read()
            conn.close()
            echoed = response.headers["X-Trace-Id"]
            self.assertEqual(echoed == sent, expect_same, echoed)
            self.assertTrue(echoed)


class ErrorRingTest(unittest.TestCase):
    def test_keeps_only_the_newest_entries_and_redacts(self):
        ring = logs.ErrorRing(size=3, secrets=("s3cret-value-123",)).attach()
        self.addCleanup(ring.detach)
        log = logging.getLogger("openhands_driver.test.ring")
        log.propagate = True
        with logs.trace("ex-ring"):
            for n in range(5):
                log.error("failure %d with s3cret-value-123", n)
        log.info("not kept: below WARNING")
        self.assertEqual(ring.total, 5)
        kept = ring.recent(10)
        self.assertEqual([e["message"] for e in kept],
                         [f"failure {n} with <redacted>" for n in (2, 3, 4)])
        self.assertEqual({e["trace_id"] for e in kept}, {"ex-ring"})

    def test_levels_are_checked(self):
        self.assertEqual(logs.check_level("warning"), "WARNING")
        with self.assertRaises(UserError):
            logs.check_level("chatty")


if __name__ == "__main__":
    unittest.main()
