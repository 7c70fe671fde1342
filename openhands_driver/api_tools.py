"""The API-only tool set (``--toolset api``): the agent works through HTTP tools, with no terminal.

Seven SDK tools, each a thin wrapper over a plain function here (testable without the SDK):

    call_ops_endpoint    GET/POST /ops/* of the incident's service (bearer token, X-Trace-Id)
    query_logs           the service's log lines (level / substring filters), via /ops/logs
    query_metrics        golden signals and counters, via /ops/status + /ops/metrics
    scale_service        POST /ops/scale, refused outside SCALING_LIMITS (``name|min|max|mode``)
    escalate_pagerduty   PagerDuty Events API v2 trigger (PAGERDUTY_ROUTING_KEY, PAGERDUTY_EVENTS_URL)
    acknowledge_alert    Events v2 acknowledge / resolve of a dedup key
    write_incident_report a markdown file inside the workspace's reports/ folder (no traversal)

The per-incident configuration (``ApiToolConfig``: the ops URL and token, limits, escalation) is
kept in this process only; the SDK's tool specs carry an opaque id, so the token never travels with
the agent's serialized state and is never printed. Query logs and metrics against other providers
(CloudWatch, Prometheus, ...) is an extension point: another ``OpsBackend``-like function with the
same result shape.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from openhands_driver.errors import UserError

TOOL_NAMES = ("call_ops_endpoint", "query_logs", "query_metrics", "scale_service",
              "escalate_pagerduty", "acknowledge_alert", "write_incident_report")
TOOLSETS = ("shell", "api")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SCALING_MODES = ("manual", "readonly")
REPORT_DIR = "reports"
_OPS_PATH = re.compile(r"^/ops/[A-Za-z0-9/_-]*(\?[A-Za-z0-9_=&.%+-]*)?$")
_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ScalingLimit:
    name: str
    min: int
    max: int
    mode: str = "manual"  # manual: the agent may scale within [min, max]; readonly: never


def parse_scaling_limits(text: str) -> dict[str, ScalingLimit]:
    """``SCALING_LIMITS``: entries ``name|min|max|mode`` separated by commas, semicolons or lines."""
    limits = {}
    for raw in re.split(r"[,;\n]", text or ""):
        entry = raw.strip()
        if not entry:
            continue
        parts = [p.strip() for p in entry.split("|")]
        if len(parts) != 4 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            raise UserError(f"SCALING_LIMITS entry {entry!r} must be name|min|max|mode with whole "
                            f"numbers, e.g. cart|1|5|manual (modes: {', '.join(SCALING_MODES)})")
        low, high = int(parts[1]), int(parts[2])
        if low > high or parts[3] not in SCALING_MODES:
            raise UserError(f"SCALING_LIMITS entry {entry!r}: min must be <= max and mode one of "
                            f"{', '.join(SCALING_MODES)}")
        limits[parts[0]] = ScalingLimit(parts[0], low, high, parts[3])
    return limits


@dataclass
class ApiToolConfig:
    """Everything the API tools of one incident need (kept in this process only)."""

    ops_url: str
    ops_token: str
    service: str
    workspace: Path
    scaling_limits: dict[str, ScalingLimit] = field(default_factory=dict)
    pagerduty_url: str = PAGERDUTY_EVENTS_URL
    pagerduty_routing_key: str = ""
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timeout_s: float = 15.0


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    text: str


def _http(method: str, url: str, body: dict | None, headers: dict, timeout_s: float) -> tuple[int | None, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Accept": "application/json", **headers,
                                              **({"Content-Type": "application/json"} if data else {})})
    try:
        with _NO_PROXY.open(request, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc)) or type(exc).__name__


def _shown(status: int | None, text: str) -> ToolResult:
    """The observation: ``HTTP <status>`` then the body (pretty JSON when it is JSON)."""
    if status is None:
        return ToolResult(False, f"connection failed: {text}")
    try:
        text = json.dumps(json.loads(text), indent=1)
    except ValueError:
        pass
    return ToolResult(200 <= status < 300, f"HTTP {status}\n{text.strip()}")


def call_ops(config: ApiToolConfig, method: str, path: str, body: dict | None = None) -> ToolResult:
    """GET/POST one /ops/* route of the incident's service."""
    method = str(method or "GET").upper()
    if method not in ("GET", "POST"):
        return ToolResult(False, f"REFUSED: method {method!r}: only GET and POST are allowed")
    if not _OPS_PATH.match(path or "") or ".." in path:
        return ToolResult(False, f"REFUSED: path {path!r}: only /ops/... routes of this service "
                                 "(letters, digits, '/', '-', '_', and a simple query) are allowed")
    headers = {"Authorization": f"Bearer {config.ops_token}", "X-Trace-Id": config.trace_id}
    status, text = _http(method, config.ops_url.rstrip("/") + path,
                         (body or {}) if method == "POST" else None, headers, config.timeout_s)
    return _shown(status, text)


def query_logs(config: ApiToolConfig, n: int = 100, level: str = "", contains: str = "") -> ToolResult:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in (("n", max(1, min(int(n), 2000))), ("level", level),
                                         ("contains", contains)) if v})
    return call_ops(config, "GET", f"/ops/logs?{query}")


def query_metrics(config: ApiToolConfig) -> ToolResult:
    status = call_ops(config, "GET", "/ops/status")
    metrics = call_ops(config, "GET", "/ops/metrics")
    return ToolResult(status.ok and metrics.ok, status.text + "\n" + metrics.text)


def scale(config: ApiToolConfig, replicas: int, service: str | None = None) -> ToolResult:
    """POST /ops/scale, only within the service's SCALING_LIMITS entry."""
    name = service or config.service
    limit = config.scaling_limits.get(name)
    if name != config.service:
        return ToolResult(False, f"REFUSED: {name!r} is not this incident's service ({config.service})")
    if limit is None:
        return ToolResult(False, f"REFUSED: no SCALING_LIMITS entry for {name!r}; scaling it is not allowed")
    if limit.mode == "readonly":
        return ToolResult(False, f"REFUSED: scaling {name} is read-only (SCALING_LIMITS mode readonly)")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not limit.min <= replicas <= limit.max:
        return ToolResult(False, f"REFUSED: {replicas!r} replicas is outside the limits of {name} "
                                 f"({limit.min}-{limit.max}, SCALING_LIMITS)")
    return call_ops(config, "POST", "/ops/scale", {"replicas": replicas})


def _pagerduty(config: ApiToolConfig, event: dict) -> ToolResult:
    if not config.pagerduty_routing_key:
        return ToolResult(False, "NOT SENT: no PagerDuty routing key configured (PAGERDUTY_ROUTING_KEY)")
    status, text = _http("POST", config.pagerduty_url, {"routing_key": config.pagerduty_routing_key, **event},
                         {"X-Trace-Id": config.trace_id}, config.timeout_s)
    return _shown(status, text)


def escalate(config: ApiToolConfig, summary: str, severity: str = "critical",
             dedup_key: str | None = None) -> ToolResult:
    """Events v2 trigger: page a human."""
    if severity not in ("critical", "error", "warning", "info"):
        return ToolResult(False, f"REFUSED: severity {severity!r}: critical, error, warning or info")
    return _pagerduty(config, {"event_action": "trigger", "dedup_key": dedup_key or f"sre-{config.trace_id}",
                               "payload": {"summary": str(summary)[:1024], "severity": severity,
                                           "source": config.service,
                                           "custom_details": {"trace_id": config.trace_id}}})


def acknowledge(config: ApiToolConfig, dedup_key: str, action: str = "acknowledge") -> ToolResult:
    """Events v2 acknowledge or resolve of an alert's dedup key."""
    if action not in ("acknowledge", "resolve"):
        return ToolResult(False, f"REFUSED: action {action!r}: acknowledge or resolve")
    if not dedup_key:
        return ToolResult(False, "REFUSED: dedup_key is required")
    return _pagerduty(config, {"event_action": action, "dedup_key": dedup_key})


def write_report(config: ApiToolConfig, filename: str, content: str) -> ToolResult:
    """Write ``reports/<filename>`` in the workspace; names only, no directories or traversal."""
    if not _REPORT_NAME.match(filename or "") or ".." in filename:
        return ToolResult(False, f"REFUSED: {filename!r}: a plain file name (letters, digits, '.', '_', "
                                 "'-'), no directories")
    folder = (config.workspace / REPORT_DIR).resolve()
    path = (folder / filename).resolve()
    if path.parent != folder:
        return ToolResult(False, f"REFUSED: {filename!r} resolves outside {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        return ToolResult(False, f"REFUSED: {filename!r} is a symlink")
    path.write_text(str(content), encoding="utf-8")
    return ToolResult(True, f"wrote {REPORT_DIR}/{filename} ({len(str(content))} characters)")


def config_for_target(target, workspace: Path, environ: dict[str, str]) -> ApiToolConfig:
    """The API tools' config for a running target: where its /ops/* API listens and its token
    (var/run/ops.json and var/run/ops.token, written by its supervisor), read through the target
    itself (any backend); SCALING_LIMITS (default: this service, 1 to 5 replicas, manual) and the
    PagerDuty settings from ``environ``."""
    from openhands_driver import targetctl

    found = {}
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        for rel in ("var/run/ops.json", "var/run/ops.token"):
            if rel not in found:
                result = target.exec(["cat", rel], timeout_s=10.0)
                if result.exit_code == 0 and result.stdout.strip():
                    found[rel] = result.stdout.strip()
        if len(found) == 2:
            break
        time.sleep(0.2)
    if len(found) != 2:
        raise RuntimeError("the target's platform API is not up: var/run/ops.json or var/run/ops.token "
                           "missing after 10 s (does its supervisor.py serve /ops/*? see ops_api.py)")
    service = target.control_env().get(targetctl.ENV_SERVICE) or "service"
    raw = environ.get("SCALING_LIMITS", "")
    limits = parse_scaling_limits(raw) if raw.strip() else {service: ScalingLimit(service, 1, 5, "manual")}
    return ApiToolConfig(ops_url=json.loads(found["var/run/ops.json"])["url"],
                         ops_token=found["var/run/ops.token"], service=service, workspace=Path(workspace),
                         scaling_limits=limits,
                         pagerduty_url=environ.get("PAGERDUTY_EVENTS_URL") or PAGERDUTY_EVENTS_URL,
                         pagerduty_routing_key=environ.get("PAGERDUTY_ROUTING_KEY", ""))


# --- SDK tools -----------------------------------------------------------------------------------

_CONFIGS: dict[str, ApiToolConfig] = {}
_LOCK = threading.Lock()
_REGISTERED: list[bool] = []


def remember(config: ApiToolConfig) -> str:
    """Keep a config for the tools of one conversation; returns the id their specs carry."""
    key = uuid.uuid4().hex
    with _LOCK:
        _CONFIGS[key] = config
    return key


def forget(key: str) -> None:
    with _LOCK:
        _CONFIGS.pop(key, None)


def _config(key: str) -> ApiToolConfig:
    with _LOCK:
        return _CONFIGS[key]


def tool_specs(config_id: str) -> list:
    """The SDK ``Tool`` specs of the API tool set (registers the tools once per process)."""
    from openhands.sdk import Tool

    register()
    return [Tool(name=name, params={"config_id": config_id}) for name in TOOL_NAMES]


def register() -> None:
    with _LOCK:
        if _REGISTERED:
            return
        _register_sdk_tools()
        _REGISTERED.append(True)


def _register_sdk_tools() -> None:
    from openhands.sdk.tool import ToolDefinition, ToolExecutor, register_tool

    from openhands_driver.api_tool_types import (AcknowledgeAlertAction, ApiObservation, CallOpsEndpointAction,
                                                 EscalatePagerdutyAction, QueryLogsAction, QueryMetricsAction,
                                                 ScaleServiceAction, WriteIncidentReportAction)

    calls = {
        "call_ops_endpoint": (CallOpsEndpointAction, lambda c, a: call_ops(c, a.method, a.path, a.body),
                              "Call an /ops/* endpoint of the incident's service (the platform API; it "
                              "answers even when the app is down). GET /ops/status, /ops/health, "
                              "/ops/metrics, /ops/config, /ops/dependencies, /ops/errors, /ops/logs, "
                              "/ops/flags, /ops/experiments, /ops/releases, /ops/deployment; POST "
                              "/ops/flags, /ops/experiments/{pause,resume,delete}, /ops/rollback, "
                              "/ops/scale, /ops/restart, /ops/drain, /ops/loglevel."),
        "query_logs": (QueryLogsAction, lambda c, a: query_logs(c, a.n, a.level, a.contains),
                       "Read the service's latest log lines, optionally filtered by level or text."),
        "query_metrics": (QueryMetricsAction, lambda c, a: query_metrics(c),
                          "Golden signals of the service: request rate, error rate, latency p50/p99, "
                          "saturation, plus its counters."),
        "scale_service": (ScaleServiceAction, lambda c, a: scale(c, a.replicas),
                          "Set how many instances the service runs (refused outside its scaling limits)."),
        "escalate_pagerduty": (EscalatePagerdutyAction,
                               lambda c, a: escalate(c, a.message, a.severity, a.dedup_key),
                               "Page a human through PagerDuty (Events API v2 trigger)."),
        "acknowledge_alert": (AcknowledgeAlertAction, lambda c, a: acknowledge(c, a.dedup_key, a.action),
                              "Acknowledge or resolve an alert (PagerDuty Events API v2)."),
        "write_incident_report": (WriteIncidentReportAction,
                                  lambda c, a: write_report(c, a.filename, a.content),
                                  "Write the incident report as a markdown file in the workspace."),
    }

    class _Executor(ToolExecutor):
        def __init__(self, config_id: str, run) -> None:
            self.config_id, self.run = config_id, run

        def __call__(self, action, conversation=None):
            try:
                result = self.run(_config(self.config_id), action)
            except Exception as exc:  # a tool failure is the agent's information, not a crash
                result = ToolResult(False, f"tool failed: {type(exc).__name__}: {exc}")
            return ApiObservation.from_text(text=result.text, is_error=not result.ok)

    for name, (action_type, run, description) in calls.items():
        def create(cls, conv_state=None, config_id: str = "", _name=name, _action=action_type,
                   _run=run, _description=description):
            return [cls(description=_description, action_type=_action, observation_type=ApiObservation,
                        executor=_Executor(config_id, _run))]

        tool_class = type(f"Api_{name}_Tool", (ToolDefinition,),
                          {"name": name, "create": classmethod(create),
                           "__annotations__": {}})
        register_tool(name, tool_class)
