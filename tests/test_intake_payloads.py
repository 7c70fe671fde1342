"""openhands_driver.intake.payloads: real payload samples of each source -> incidents; bad ones refused.

The fixtures in tests/fixtures/intake/ have the shapes the sources send: Alertmanager webhook v4,
Cloud Monitoring incident notification 1.2 (open and closed), a ServiceNow incident record (bare
and in a Table API ``result`` envelope) and a generic alert.
"""

from __future__ import annotations

import copy
import json
import unittest
from pathlib import Path

from openhands_driver.intake.payloads import PayloadError, decode, parse, priority_from
from openhands_driver.intake.store import redact_payload

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "intake"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class ParsersTest(unittest.TestCase):
    def test_alertmanager_group_becomes_one_incident_per_alert(self):
        first, second = parse("alertmanager", fixture("alertmanager_firing"))
        self.assertEqual((first.service, first.priority, first.scenario), ("checkout-api", "P1", "stale_lockfile"))
        self.assertEqual((second.service, second.priority), ("payments-api", "P3"))
        self.assertEqual(first.dedupe_key, "alertmanager:5b3f0c9d1e2a7f46")
        self.assertFalse(first.resolved)
        self.assertIn("cannot acquire its lock", first.text)
        self.assertIn("ServiceHealthCheckFailing", first.title)
        self.assertTrue(first.url.startswith("http://prometheus"))
        self.assertEqual(first.labels["team"], "checkout")  # common labels merged in

    def test_alertmanager_resolved_matches_the_firing_key(self):
        (resolved,) = parse("alertmanager", fixture("alertmanager_resolved"))
        firing = parse("alertmanager", fixture("alertmanager_firing"))[1]
        self.assertTrue(resolved.resolved)
        self.assertEqual(resolved.dedupe_key, firing.dedupe_key)

    def test_gcp_open_and_closed(self):
        (opened,) = parse("gcp", fixture("gcp_open"))
        (closed,) = parse("gcp", fixture("gcp_closed"))
        self.assertEqual((opened.service, opened.priority, opened.scenario),
                         ("orders-api", "P1", "readiness_probe_fail"))
        self.assertEqual(opened.dedupe_key, "gcp:0.nt4k2qz8c1m7")
        self.assertEqual(closed.dedupe_key, opened.dedupe_key)
        self.assertFalse(opened.resolved)
        self.assertTrue(closed.resolved)
        self.assertIn("Uptime check failing", opened.title)

    def test_servicenow_record_bare_and_in_table_api_envelope(self):
        (bare,) = parse("servicenow", fixture("servicenow_incident"))
        (table,) = parse("servicenow", fixture("servicenow_table_api"))
        self.assertEqual((bare.service, bare.priority, bare.scenario, bare.dedupe_key),
                         ("inventory-api", "P2", "port_mismatch", "servicenow:INC0012345"))
        self.assertEqual((table.service, table.priority, table.scenario, table.dedupe_key),
                         ("billing-api", "P1", None, "servicenow:INC0010023"))
        self.assertIn("invoices", table.text)

    def test_servicenow_closed_state_resolves(self):
        record = fixture("servicenow_incident")
        record["state"] = "6"
        self.assertTrue(parse("servicenow", record)[0].resolved)

    def test_generic(self):
        (incident,) = parse("generic", fixture("generic"))
        self.assertEqual((incident.service, incident.priority, incident.scenario, incident.dedupe_key),
                         ("search-api", "P4", "healthy", "search-api-slow-report-7731"))
        keyless = parse("generic", {"title": "x down", "service": "x"})[0]
        self.assertEqual(keyless.priority, "P3")
        self.assertEqual(keyless.dedupe_key, parse("generic", {"title": "x down", "service": "x"})[0].dedupe_key)

    def test_priority_forms(self):
        for value, expected in (("P1", "P1"), (2, "P2"), ("3 - Moderate", "P3"), ("5", "P4"),
                                ("critical", "P1"), ("warning", "P3"), ("info", "P4"), (None, None)):
            with self.subTest(value=value):
                self.assertEqual(priority_from(value), expected)
        with self.assertRaises(PayloadError):
            priority_from("whenever")


class BadPayloadsTest(unittest.TestCase):
    def assert_refused(self, source: str, body, fragment: str):
        with self.assertRaises(PayloadError) as caught:
            parse(source, body)
        self.assertIn(fragment, str(caught.exception))

    def test_each_source_names_what_is_wrong(self):
        am = fixture("alertmanager_firing")
        v3 = dict(am, version="3")
        self.assert_refused("alertmanager", v3, 'reads version "4"')
        self.assert_refused("alertmanager", dict(am, alerts=[]), "non-empty 'alerts'")
        broken = copy.deepcopy(am)
        del broken["alerts"][1]["labels"]["alertname"]
        del broken["commonLabels"]["alertname"]
        self.assert_refused("alertmanager", broken, "alerts[1] has no 'alertname'")
        nameless = copy.deepcopy(am)
        for alert in nameless["alerts"]:
            for key in ("service", "job"):
                alert["labels"].pop(key)
        self.assert_refused("alertmanager", nameless, "names no service")
        gcp = fixture("gcp_open")
        self.assert_refused("gcp", dict(gcp, version="1.1"), 'reads version "1.2"')
        no_id = copy.deepcopy(gcp)
        del no_id["incident"]["incident_id"]
        self.assert_refused("gcp", no_id, "incident.incident_id")
        self.assert_refused("gcp", {"version": "1.2", "incident": "x"}, "must be a JSON object")
        snow = fixture("servicenow_incident")
        self.assert_refused("servicenow", dict(snow, priority="whenever"), "is not a priority")
        self.assert_refused("servicenow", {k: v for k, v in snow.items() if k != "incident_number"},
                            "incident_number")
        self.assert_refused("servicenow", {k: v for k, v in snow.items() if k != "target"}, "'target'")
        self.assert_refused("generic", {"title": "x"}, "'service'")
        self.assert_refused("generic", {"service": "x"}, "'title' or a 'text'")
        self.assert_refused("generic", ["not", "an", "object"], "must be a JSON object")
        self.assert_refused("nagios", {}, "unknown source")

    def test_decode(self):
        self.assertEqual(decode(b'{"a": 1}'), {"a": 1})
        for raw, fragment in ((b"{not json", "not valid JSON"), (b"\xff\xfe", "not UTF-8"),
                              (b"[1, 2]", "must be a JSON object")):
            with self.subTest(raw=raw), self.assertRaises(PayloadError) as caught:
                decode(raw)
            self.assertIn(fragment, str(caught.exception))


class RedactionTest(unittest.TestCase):
    def test_secret_fields_and_bearer_strings_are_redacted(self):
        payload = {"title": "x", "auth": {"password": "hunter2-hunter2", "user": "bob"},
                   "api_key": "AKIA0123456789", "headers": {"Authorization": "Bearer abc.def.ghi123"},
                   "note": "curl -H 'Authorization: Bearer sk-live-0123456789abcdef' ...",
                   "labels": {"dedupe_key": "keep-me", "groupKey": "keep-me-too"},
                   "free_text": "the token is planted-secret-value"}
        clean = redact_payload(payload, ["planted-secret-value"])
        text = json.dumps(clean)
        for secret in ("hunter2-hunter2", "AKIA0123456789", "abc.def.ghi123", "sk-live-0123456789abcdef",
                       "planted-secret-value"):
            self.assertNotIn(secret, text)
        self.assertEqual(clean["auth"]["user"], "bob")
        self.assertEqual(clean["labels"], {"dedupe_key": "keep-me", "groupKey": "keep-me-too"})
        self.assertEqual(payload["api_key"], "AKIA0123456789", "the input is not modified")


if __name__ == "__main__":
    unittest.main()
