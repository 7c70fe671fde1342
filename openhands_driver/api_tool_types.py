"""The SDK Action/Observation types of the API tool set (api_tools.py). Module-level classes: the SDK
deserializes events by class name, and classes defined inside a function ("local classes") break
every later conversation of the process that sees them (e.g. an agent server's events)."""

from __future__ import annotations

from typing import Literal

from openhands.sdk.tool import Action, Observation
from pydantic import Field


class ApiObservation(Observation):
    """The HTTP status and body (or the refusal) of one API tool call."""

class CallOpsEndpointAction(Action):
    method: Literal["GET", "POST"] = Field(default="GET", description="GET to read, POST to change")
    path: str = Field(description="an /ops/... route of the incident's service, e.g. /ops/status")
    body: dict | None = Field(default=None, description="JSON body of a POST")

class QueryLogsAction(Action):
    n: int = Field(default=100, description="how many of the latest matching lines")
    level: str = Field(default="", description="only lines of this level (ERROR, INFO, ...)")
    contains: str = Field(default="", description="only lines containing this text")

class QueryMetricsAction(Action):
    pass

class ScaleServiceAction(Action):
    replicas: int = Field(description="how many instances the service should run")

class EscalatePagerdutyAction(Action):
    message: str = Field(description="what is wrong and what was tried")
    severity: str = Field(default="critical", description="critical, error, warning or info")
    dedup_key: str | None = Field(default=None, description="the alert's dedup key, if known")

class AcknowledgeAlertAction(Action):
    dedup_key: str = Field(description="the alert's dedup key")
    action: Literal["acknowledge", "resolve"] = Field(default="acknowledge")

class WriteIncidentReportAction(Action):
    filename: str = Field(description="a plain file name, e.g. incident-report.md")
    content: str = Field(description="the report (markdown)")

