"""The intake's generated OpenAPI document (openhands_driver/intake/openapi.py) and its docs page.

A real intake (FakeRunner) serves /openapi.json and /docs without a token; the document must
validate (openapi-spec-validator), list every rule of the app's url_map, pick up routes added by
other modules without a change, and describe the real answers: the JSON the running intake sends
back is validated against the documented schema of its status code.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
import unittest
from pathlib import Path

from flask import Blueprint, Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from pydantic import BaseModel

from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.openapi import IGNORED_METHODS, describe, document
from openhands_driver.intake.service import IntakeService
from openhands_driver.intake.testing import FakeRunner

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "intake"
TOKEN = "openapi-test-token-0123456789"
TIMEOUT_S = 10
FIXTURE_SOURCES = {"generic": "generic", "alertmanager_firing": "alertmanager", "gcp_open": "gcp",
                   "servicenow_incident": "servicenow", "servicenow_table_api": "servicenow"}


def route_set(app: Flask) -> set[tuple[str, str]]:
    import re

    out = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        out |= {(method.lower(), path) for method in rule.methods - IGNORED_METHODS}
    return out


def documented(doc: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in doc["paths"].items() for method in item}


class OpenApiServiceTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="openapi-test-")
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        config = IntakeConfig(port=0, db=self.tmp / "intake.db", token=TOKEN, demo_targets=True,
                              trace_log=self.tmp / "trace.jsonl", shutdown_deadline_s=2.0, cancel_grace_s=2.0)
        self.service = IntakeService(config, runner=FakeRunner()).start()
        self.addCleanup(self.service.stop, 2.0, 2.0)
        self.app = self.service.http.app

    def call(self, method: str, path: str, body=None, *, token: str | None = TOKEN):
        conn = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=TIMEOUT_S)
        try:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
            response = conn.getresponse()
            raw = response.read()
            kind = response.getheader("Content-Type", "")
            return response.status, (json.loads(raw) if kind.startswith("application/json") else raw.decode()), kind
        finally:
            conn.close()

    def test_document_validates_and_lists_every_route_without_a_token(self):
        status, doc, _ = self.call("GET", "/openapi.json", token=None)
        self.assertEqual(status, 200)
        validate(doc)  # raises OpenAPIValidationError with the offending part
        self.assertEqual(documented(doc), route_set(self.app))
        for needed in (("post", "/webhook/{source}"), ("get", "/executions/{execution_id}"),
                       ("get", "/openapi.json"), ("get", "/docs"), ("get", "/ui/history")):
            self.assertIn(needed, documented(doc))
        ops = doc["paths"]
        self.assertEqual(ops["/webhook/{source}"]["post"]["x-required-role"], "operator")
        self.assertEqual(ops["/ops/drain"]["post"]["x-required-role"], "admin")
        self.assertEqual(ops["/executions"]["get"]["x-required-role"], "viewer")
        self.assertEqual(ops["/healthz"]["get"]["security"], [])
        self.assertEqual(ops["/ui/history"]["get"]["security"], [{"dashboardSession": []}])
        self.assertEqual(len(ops["/webhook/{source}"]["post"]["requestBody"]["content"]["application/json"]
                             ["schema"]["oneOf"]), 4)
        # the document is public; the API it describes is not
        self.assertEqual(self.call("GET", "/ops/status", token=None)[0], 401)

    def test_real_answers_match_the_documented_schemas(self):
        doc = self.call("GET", "/openapi.json")[1]

        def check(method: str, template: str, path: str, body=None, *, expect: int):
            status, answer, kind = self.call(method, path, body)
            self.assertEqual(status, expect, answer)
            media = doc["paths"][template][method.lower()]["responses"][str(status)]["content"]
            schema = {**media["application/json"]["schema"], "components": doc["components"]}
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in Draft202012Validator(schema).iter_errors(answer)]
            self.assertEqual(errors, [], f"{method} {path} -> {status} does not match its documented schema")
            return answer

        webhook = doc["paths"]["/webhook/{source}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for name, source in FIXTURE_SOURCES.items():
            payload = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
            ref = next(r for r in webhook["oneOf"] if r["$ref"].endswith({"generic": "/GenericAlert",
                       "alertmanager": "/AlertmanagerWebhook", "gcp": "/GcpNotification",
                       "servicenow": "/ServiceNowIncident"}[source]))
            self.assertEqual(list(Draft202012Validator({**ref, "components": doc["components"]}).iter_errors(payload)),
                             [], f"fixture {name} does not match the documented {source} body")
            check("POST", "/webhook/{source}", f"/webhook/{source}", payload, expect=202)
        accepted = check("POST", "/webhook/{source}", "/webhook/generic",
                         {"title": "checkout down", "service": "checkout", "scenario": "stale_lockfile"}, expect=202)
        check("POST", "/webhook/{source}", "/webhook/generic", {"service": "x"}, expect=400)
        check("POST", "/webhook/{source}", "/webhook/nagios", {"service": "x"}, expect=404)
        execution_id = accepted["execution_id"]
        deadline = time.monotonic() + TIMEOUT_S
        while self.service.store.execution(execution_id)["status"] in ("queued", "running"):
            self.assertLess(time.monotonic(), deadline, "the execution did not finish")
            time.sleep(0.02)
        check("GET", "/executions/{execution_id}", f"/executions/{execution_id}", expect=200)
        check("GET", "/executions/{execution_id}", "/executions/ex-none", expect=404)
        check("GET", "/executions", "/executions?status=all&limit=50", expect=200)
        check("GET", "/executions", "/executions?status=bogus", expect=400)
        check("POST", "/executions/{execution_id}/resume", f"/executions/{execution_id}/resume", {}, expect=409)
        check("GET", "/ops/status", "/ops/status", expect=200)
        check("GET", "/ops/metrics", "/ops/metrics", expect=200)
        check("GET", "/ops/registry", "/ops/registry", expect=200)
        check("GET", "/healthz", "/healthz", expect=200)
        check("POST", "/ops/drain", "/ops/drain", expect=200)
        check("GET", "/healthz", "/healthz", expect=503)

    def test_docs_page_renders_offline(self):
        status, page, kind = self.call("GET", "/docs", token=None)
        self.assertEqual(status, 200)
        self.assertTrue(kind.startswith("text/html"), kind)
        for path in ("/webhook/{source}", "/executions/{execution_id}/reject", "/ops/drain", "/ui/history"):
            self.assertIn(path, page)
        self.assertIn('id="schema-WebhookAccepted"', page)
        self.assertNotIn("<script", page)
        self.assertNotRegex(page, r"(src|href)=\"(https?:)?//", "the page must not load anything from elsewhere")


class LaterRoutesTest(unittest.TestCase):
    def test_routes_added_by_other_modules_appear_unchanged(self):
        class Trigger(BaseModel):
            incident_number: str

        class Answer(BaseModel):
            execution_id: str

        app = Flask("later")
        bp = Blueprint("later_routes", __name__)

        @bp.post("/api/v9/later/trigger")
        @describe(summary="Trigger an agent", body=Trigger, responses={"202": Answer})
        def trigger():
            return {}

        @bp.get("/api/v9/later/execution/<int:number>/logs")
        def logs(number: int):
            """Logs of one execution.

            Command, output and status per step."""
            return {}

        app.register_blueprint(bp)
        doc = document(app)
        validate(doc)
        self.assertEqual(documented(doc), route_set(app))
        post = doc["paths"]["/api/v9/later/trigger"]["post"]
        self.assertEqual(post["summary"], "Trigger an agent")
        self.assertEqual(post["requestBody"]["content"]["application/json"]["schema"],
                         {"$ref": "#/components/schemas/Trigger"})
        self.assertIn("Answer", doc["components"]["schemas"])
        self.assertEqual(post["x-required-role"], "admin")  # roles.py: an unknown endpoint needs admin
        get = doc["paths"]["/api/v9/later/execution/{number}/logs"]["get"]
        self.assertEqual((get["summary"], get["description"]), ("Logs of one execution", "Command, output and status per step."))
        self.assertEqual(get["parameters"][0]["schema"], {"type": "integer"})


if __name__ == "__main__":
    unittest.main()
