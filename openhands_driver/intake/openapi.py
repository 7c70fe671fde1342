"""The intake's OpenAPI 3.1 document, generated from the running Flask app, and its docs page.

    GET /openapi.json   the document (no auth: it describes routes, never data)
    GET /docs           the same, rendered server-side into one HTML page (no scripts, no CDN)

Every rule of ``app.url_map`` is an operation, so routes added by any module appear without a
change here. What a route says about itself comes, in order, from: ``@describe(...)`` on its view
function (for new routes), the table ``OPERATIONS`` below (the intake's own endpoints, with the
pydantic models of api_models.py), and otherwise the view's docstring and generic answers. Who may
call it comes from the code that decides it: ``roles.required_role`` (bearer tokens), the
dashboard's open/operator endpoint lists (session cookie), ``roles.PUBLIC`` (no auth).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify
from pydantic import BaseModel

from openhands_driver.intake import api_models as m
from openhands_driver.intake import roles

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
TITLE = "SRE agent intake"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
_VARIABLE = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?(?P<name>[a-zA-Z_]\w*)>")
_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"}}
ERRORS = {"404": m.Error, "409": m.Error}

# The intake's endpoints (api.py), by Flask endpoint name. Keys: summary, body (model or {name: model}
# for alternatives), query {name: (schema, description)}, responses {code: model}, text (the 200 may
# also be text/plain), html (the answer is a page), tag (the docs page's section).
OPERATIONS: dict[str, dict[str, Any]] = {
    "webhook": {"summary": "Post an alert (one per source format); 202 with the executions it created or joined",
                "body": m.WEBHOOK_BODIES,
                "responses": {"202": m.WebhookAccepted, "400": m.Error, "404": m.Error, "413": m.Error,
                              "415": m.Error, "503": m.Error}},
    "get_execution": {"summary": "One execution: status, timeline, phases, actions, verification, escalations",
                      "responses": {"200": m.Execution, "404": m.Error}},
    "list_executions": {"summary": "Executions, newest first",
                        "query": {"status": ({"type": "string", "default": "all"},
                                             "active, all, or comma-separated statuses"),
                                  "limit": ({"type": "integer", "default": 100, "minimum": 1, "maximum": 1000},
                                            "at most this many")},
                        "responses": {"200": m.ExecutionList, "400": m.Error}},
    "healthz": {"summary": "Liveness: ok, or 503 while draining", "responses": {"200": m.Health, "503": m.Health}},
    "ops_status": {"summary": "The service's state, budgets, runner, escalation and warnings",
                   "responses": {"200": m.Status}},
    "ops_metrics": {"summary": "Counters and gauges (JSON, or the Prometheus text format)",
                    "query": {"format": ({"type": "string", "enum": ["json", "prometheus"]},
                                         "prometheus for the text exposition format")},
                    "responses": {"200": m.Metrics}, "text": True},
    "resume_execution": {"summary": "Resume a run paused after its diagnosis (the operator approves its plan)",
                         "body": m.OperatorNote, "responses": {"202": m.Resumed, **ERRORS}},
    "reject_execution": {"summary": "Reject a paused run's plan; the execution ends rejected",
                         "body": m.RejectReason, "responses": {"200": m.Rejected, **ERRORS}},
    "ops_registry": {"summary": "The service registry (targets the intake may attach to)",
                     "responses": {"200": m.Registry}},
    "ops_drain": {"summary": "Refuse new alerts from now on; queued and running work goes on",
                  "responses": {"200": m.Draining}},
    "openapi_document": {"summary": "This document", "tag": "docs"},
    "openapi_docs": {"summary": "This document as an HTML page", "html": True, "tag": "docs"},
}


def describe(**spec: Any) -> Callable:
    """Decorator for a view function: its OpenAPI facts (the keys of ``OPERATIONS``)."""
    def mark(view: Callable) -> Callable:
        view.openapi = spec  # type: ignore[attr-defined]
        return view
    return mark


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def replace(match: re.Match) -> str:
        converter, name = match.group("converter") or "default", match.group("name")
        params.append({"name": name, "in": "path", "required": True,
                       "schema": dict(_TYPES.get(converter, {"type": "string"}))})
        return "{" + name + "}"

    return _VARIABLE.sub(replace, rule), params


class _Schemas:
    """Components: each model's JSON schema (pydantic), nested models as their own components."""

    def __init__(self):
        self.components: dict[str, dict] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict:
        if model.__name__ not in self.components:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
            for name, nested in schema.pop("$defs", {}).items():
                self.components.setdefault(name, nested)
            self.components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _auth(endpoint: str, method: str, path: str, sample: str) -> tuple[list, str | None]:
    """(security requirement, least role) as the code decides it."""
    from openhands_driver.dashboard.app import OPEN_ENDPOINTS, OPERATOR_ENDPOINTS

    if path in roles.PUBLIC:
        return [], None
    if endpoint.startswith("dashboard."):
        if endpoint in OPEN_ENDPOINTS:
            return [], None
        return [{"dashboardSession": []}], "operator" if endpoint in OPERATOR_ENDPOINTS else "viewer"
    return [{"bearer": []}], roles.required_role(method, sample)


def _summary(view: Callable | None, endpoint: str) -> tuple[str, str | None]:
    if endpoint == "static" or endpoint.endswith(".static"):
        return "A static file (stylesheet, image)", None  # Flask's own view: its docstring is Flask's
    doc = (getattr(view, "__doc__", None) or "").strip()
    if doc:
        first, _, rest = doc.partition("\n")
        return first.strip().rstrip("."), rest.strip() or None
    return endpoint.rsplit(".", 1)[-1].replace("_", " ").capitalize(), None


def _responses(spec: dict, schemas: _Schemas, secured: bool, endpoint: str) -> dict:
    out: dict[str, Any] = {}
    for code, model in (spec.get("responses") or {}).items():
        description = "error" if model is m.Error else ("success" if code.startswith("2") else "answer")
        content: dict[str, Any] = {"application/json": {"schema": schemas.ref(model, "serialization")}}
        if spec.get("text") and code == "200":
            content["text/plain"] = {"schema": {"type": "string"}}
        out[code] = {"description": description, "content": content}
    if not out:
        if spec.get("html") or (endpoint.startswith("dashboard.") and not endpoint.endswith("json")):
            kind = "text/html"
        else:
            kind = "application/json"
        out["200"] = {"description": "success", "content": {kind: {"schema": {} if kind != "text/html"
                                                                      else {"type": "string"}}}}
    if secured:
        out.setdefault("401", {"description": "no or unknown credentials",
                               "content": {"application/json": {"schema": schemas.ref(m.Error, "serialization")}}})
        out.setdefault("403", {"description": "the credentials' role may not do this",
                               "content": {"application/json": {"schema": schemas.ref(m.Error, "serialization")}}})
    return out


def document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every route ``app`` has now."""
    schemas, paths = _Schemas(), {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        path, path_params = _path(rule.rule)
        sample = _VARIABLE.sub("x", rule.rule)
        view = app.view_functions.get(rule.endpoint)
        spec = {**OPERATIONS.get(rule.endpoint, {}), **(getattr(view, "openapi", None) or {})}
        summary, description = _summary(view, rule.endpoint)
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            security, role = _auth(rule.endpoint, method, rule.rule, sample)
            operation: dict[str, Any] = {
                "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{method} {path}").strip("_").lower(),
                "summary": spec.get("summary") or summary,
                "tags": [spec.get("tag") or (rule.endpoint.split(".", 1)[0] if "." in rule.endpoint
                                             else (rule.rule.strip("/").split("/", 1)[0] or "root"))],
                "security": security,
                "responses": _responses(spec, schemas, bool(security), rule.endpoint)}
            if description:
                operation["description"] = description
            if role:
                operation["x-required-role"] = role
            params = list(path_params) + [{"name": name, "in": "query", "required": False, "schema": schema,
                                           "description": text}
                                          for name, (schema, text) in (spec.get("query") or {}).items()]
            if params:
                operation["parameters"] = params
            body = spec.get("body")
            if body is not None and method in ("POST", "PUT", "PATCH"):
                models = list(body.values()) if isinstance(body, dict) else [body]
                refs = [schemas.ref(model, "validation") for model in models]
                operation["requestBody"] = {"required": isinstance(body, dict), "content": {
                    "application/json": {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}}}
                if isinstance(body, dict):
                    operation["requestBody"]["description"] = "; ".join(
                        f"{name}: {model.__name__}" for name, model in body.items())
            paths.setdefault(path, {})[method.lower()] = operation
    return {"openapi": OPENAPI_VERSION,
            "info": {"title": TITLE, "version": API_VERSION,
                     "description": "Alerts in, deduplicated and prioritised incident runs out; the dashboard "
                                    "and the operations surface. Generated from the running service's routes."},
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {"schemas": dict(sorted(schemas.components.items())),
                           "securitySchemes": {
                               "bearer": {"type": "http", "scheme": "bearer",
                                          "description": "a token with a role (viewer, operator, admin)"},
                               "dashboardSession": {"type": "apiKey", "in": "cookie", "name": _cookie_name(),
                                                    "description": "the dashboard's signed session (sign in at /login)"}}}}


def _cookie_name() -> str:
    from openhands_driver.dashboard.auth import COOKIE_NAME

    return COOKIE_NAME


@functools.cache
def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("openhands_driver.intake", "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=False)
    return env


def render_docs(doc: dict) -> str:
    """The document as one self-contained HTML page (server-side, autoescaped)."""
    tags: dict[str, list] = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            tags.setdefault(operation["tags"][0], []).append((method.upper(), path, operation))
    return _environment().get_template("openapi_docs.html").render(doc=doc, tags=dict(sorted(tags.items())))


def cached(app: Flask) -> tuple[dict, str]:
    """(document, docs page) of the app's routes now, made again only when the routes change."""
    key = hash(tuple(sorted((r.rule, r.endpoint, tuple(sorted(r.methods or ()))) for r in app.url_map.iter_rules())))
    entry = app.extensions.get("openapi")
    if entry is None or entry[0] != key:
        doc = document(app)
        entry = (key, doc, render_docs(doc))
        app.extensions["openapi"] = entry
    return entry[1], entry[2]


def register(app: Flask) -> None:
    """Serve the document and the docs page (no auth: both are in roles.PUBLIC)."""

    @app.get("/openapi.json")
    def openapi_document():
        return jsonify(cached(current_app)[0])

    @app.get("/docs")
    def openapi_docs():
        return Response(cached(current_app)[1], mimetype="text/html")
