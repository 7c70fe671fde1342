"""Typed shapes of the intake API's bodies (pydantic), for its OpenAPI document (openapi.py).

Request models follow what ``payloads.py`` reads (extra fields are allowed: sources send more);
response models follow what ``api.py`` answers. ``tests/test_intake_openapi.py`` checks the real
answers of a running intake against these schemas, so they cannot drift silently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["P1", "P2", "P3", "P4"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- webhook payloads (one per source; payloads.py) -------------------------------------------------

class GenericAlert(_Open):
    """``POST /webhook/generic``: one alert."""

    title: str | None = Field(None, description="one line; 'title' or 'text' is required")
    text: str | None = Field(None, description="the incident text")
    service: str = Field(description="the service it concerns (registry key; one run per service at a time)")
    priority: str | None = Field(None, description="P1..P4 or a severity word (critical, error, warning, info)")
    scenario: str | None = Field(None, description="demo mode (--demo-targets): the fault scenario to start")
    dedupe_key: str | None = Field(None, description="same key while queued or running = the same incident")
    status: Literal["firing", "resolved"] = Field("firing", description="resolved cancels queued work")
    labels: dict[str, str] = Field(default_factory=dict, description="free labels (pause_after_diagnosis, ...)")
    url: str | None = Field(None, description="link back to the source system")


class AlertmanagerAlert(_Open):
    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] = Field(description="needs alertname and service, app or job")
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None  # noqa: N815 - the source's field names
    fingerprint: str | None = None
    generatorURL: str | None = None  # noqa: N815


class AlertmanagerWebhook(_Open):
    """``POST /webhook/alertmanager``: Prometheus Alertmanager webhook, version 4 (one incident per alert)."""

    version: Literal["4"]
    status: Literal["firing", "resolved"] | None = None
    alerts: list[AlertmanagerAlert] = Field(min_length=1)
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str | None = None  # noqa: N815


class GcpIncident(_Open):
    incident_id: str
    state: Literal["open", "closed", "OPEN", "CLOSED"]
    policy_name: str | None = None
    condition_name: str | None = None
    summary: str | None = None
    severity: str | None = None
    resource: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    url: str | None = None


class GcpNotification(_Open):
    """``POST /webhook/gcp``: Cloud Monitoring incident notification, version 1.2."""

    version: Literal["1.2"]
    incident: GcpIncident


class ServiceNowIncident(_Open):
    """``POST /webhook/servicenow``: an incident record, bare or in a ``result`` envelope."""

    incident_number: str | None = Field(None, description="or 'number'")
    short_description: str | None = Field(None, description="required")
    description: str | None = None
    priority: str | int | dict[str, Any] | None = Field(None, description="1..5 (required)")
    target: str | dict[str, Any] | None = Field(None, description="the service, or 'cmdb_ci'")
    state: str | int | None = None
    result: dict[str, Any] | None = Field(None, description="the Table API envelope")


WEBHOOK_BODIES = {"generic": GenericAlert, "alertmanager": AlertmanagerWebhook, "gcp": GcpNotification,
                  "servicenow": ServiceNowIncident}


# --- answers -----------------------------------------------------------------------------------------

class Error(BaseModel):
    """Every refusal and failure: the reason, with what to do next."""

    error: str


class AcceptedIncident(BaseModel):
    execution_id: str | None
    status: Literal["queued", "deduplicated", "cancelled", "running", "no_match"]
    dedupe_key: str


class WebhookAccepted(BaseModel):
    execution_id: str | None = Field(description="the first incident's execution")
    status: str
    incidents: list[AcceptedIncident]


class ExecutionSummary(_Open):
    execution_id: str
    status: str
    reason: str | None
    priority: str
    service: str
    source: str
    title: str
    dedupe_key: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    alert_count: int
    service_up: bool | None


class ExecutionList(BaseModel):
    status: str
    count: int
    executions: list[ExecutionSummary]


class Execution(_Open):
    """One execution: status, plan, run, timeline, phases, actions, escalations."""

    execution_id: str
    status: str
    reason: str | None
    priority: str
    service: str
    source: str
    dedupe_key: str
    title: str
    incident: dict[str, Any]
    target: dict[str, Any] | None
    alert_count: int
    attempts: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    expires_at: str | None
    service_up: bool | None
    verification: dict[str, Any] | None
    run: dict[str, Any] | None
    timeline: list[dict[str, Any]]
    phases: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    escalations: list[dict[str, Any]]
    report: str | None


class Health(BaseModel):
    status: Literal["ok", "draining"]


class OperatorNote(_Open):
    note: str | None = Field(None, description="kept with the execution (at most 2000 characters)")


class RejectReason(_Open):
    reason: str | None = Field(None, description="why (at most 2000 characters)")


class Resumed(BaseModel):
    execution_id: str
    status: Literal["queued"]
    resumed_by: str | None
    note: str


class Rejected(BaseModel):
    execution_id: str
    status: Literal["rejected"]
    rejected_by: str | None


class Status(_Open):
    state: Literal["running", "draining"]
    pid: int
    started_at: str | None
    services: list[str]
    concurrency: int
    active_runs: list[str]
    warnings: list[str]


class Metrics(_Open):
    queue_depth: int
    active_runs: int
    alerts_received: int
    tokens_total: int
    success_rate: float | None


class Registry(BaseModel):
    services: dict[str, dict[str, Any]]


class Draining(BaseModel):
    state: Literal["draining"]
    by: str | None
