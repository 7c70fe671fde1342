"""Webhook payloads -> incidents: one parser per alert source, all or nothing.

Each parser takes the decoded JSON body and returns a list of :class:`Incident` (Alertmanager
groups several alerts into one webhook; the other sources send one). A payload that does not have
the shape of its source raises :class:`PayloadError` with the reason, before anything is queued.

Sources and the fields they are read from:
- ``alertmanager``: Prometheus Alertmanager webhook, ``version`` "4": ``alerts[]`` with ``status``
  firing/resolved, ``labels``, ``annotations``, ``startsAt``, ``fingerprint``.
- ``gcp``: Cloud Monitoring incident notification, ``version`` "1.2": ``incident{incident_id,
  state open/closed, policy_name, condition_name, summary, severity, resource{labels}, metadata}``.
- ``servicenow``: an incident record (``incident_number``/``number``, ``short_description``,
  ``description``, ``priority`` 1..5, ``target`` (a service name, or ``{service, hostname,
  ip_address}`` as /api/v1/incident/trigger-agent receives it) or ``cmdb_ci``), bare or in a
  ``result`` envelope.
- ``generic``: ``{title|text, priority, service, scenario, dedupe_key, status}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

PRIORITIES = ("P1", "P2", "P3", "P4")
DEFAULT_PRIORITY = "P3"
MAX_TEXT_CHARS = 4000
_SEVERITY_PRIORITY = {
    "critical": "P1", "page": "P1", "emergency": "P1", "fatal": "P1",
    "error": "P2", "high": "P2", "major": "P2",
    "warning": "P3", "warn": "P3", "medium": "P3", "moderate": "P3", "minor": "P3",
    "info": "P4", "low": "P4", "none": "P4", "no severity": "P4", "planning": "P4",
}


class PayloadError(ValueError):
    """The payload is not a valid alert of its source (HTTP 400; the message is the reason)."""


@dataclass(frozen=True)
class Incident:
    """One alert, normalised: what the intake queues, dedupes and runs."""

    source: str                  # alertmanager | gcp | servicenow | generic
    title: str                   # one line
    text: str                    # the incident text (title, description, labels)
    priority: str                # P1 (most urgent) .. P4
    service: str                 # the service it concerns (serialization + registry key)
    dedupe_key: str              # same key while queued or running = the same incident
    scenario: str | None = None  # demo mode: the fault scenario to reproduce
    resolved: bool = False       # a resolve/close notification: cancels queued work
    labels: dict[str, str] = field(default_factory=dict)
    url: str | None = None       # link back to the source system

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Incident:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


# --- helpers -------------------------------------------------------------------------------------

def _need_dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # ServiceNow reference fields: {"display_value", "value", "link"}
        value = value.get("display_value") or value.get("value") or ""
    return str(value).strip()


def _first(*values: Any) -> str:
    for value in values:
        text = _str(value)
        if text:
            return text
    return ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " [...]"


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    return {str(k): _str(v) for k, v in _need_dict(value, where).items()}


def priority_from(value: Any, where: str = "priority") -> str | None:
    """P1..P4 from "P2", 2, "2", "2 - High", "critical", ...; None when absent."""
    text = _str(value).lower()
    if not text:
        return None
    if re.fullmatch(r"p[1-5]", text):
        return PRIORITIES[min(int(text[1]), 4) - 1]
    number = re.match(r"^([1-5])\b", text)
    if number:
        return PRIORITIES[min(int(number.group(1)), 4) - 1]
    if text in _SEVERITY_PRIORITY:
        return _SEVERITY_PRIORITY[text]
    raise PayloadError(f"{where} {value!r} is not a priority: use P1..P4, 1..5 or a severity "
                       f"({', '.join(sorted(set(_SEVERITY_PRIORITY)))})")


def _hash_key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _service_or_fail(service: str, source: str, hint: str) -> str:
    if not service:
        raise PayloadError(f"{source} alert names no service: {hint}")
    return service


# --- parsers -------------------------------------------------------------------------------------

def parse_alertmanager(body: dict) -> list[Incident]:
    if str(body.get("version")) != "4":
        raise PayloadError(f"unsupported Alertmanager webhook version {body.get('version')!r}; "
                           "this receiver reads version \"4\"")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("Alertmanager payload needs a non-empty 'alerts' list")
    common_labels = _labels(body.get("commonLabels"), "commonLabels")
    common_annotations = _labels(body.get("commonAnnotations"), "commonAnnotations")
    incidents = []
    for index, raw in enumerate(alerts):
        alert = _need_dict(raw, f"alerts[{index}]")
        labels = {**common_labels, **_labels(alert.get("labels"), f"alerts[{index}].labels")}
        annotations = {**common_annotations,
                       **_labels(alert.get("annotations"), f"alerts[{index}].annotations")}
        status = _str(alert.get("status") or body.get("status")).lower()
        if status not in ("firing", "resolved"):
            raise PayloadError(f"alerts[{index}].status must be 'firing' or 'resolved', got {status!r}")
        name = labels.get("alertname", "")
        if not name:
            raise PayloadError(f"alerts[{index}] has no 'alertname' label")
        service = _service_or_fail(
            _first(labels.get("service"), labels.get("app"), labels.get("job")), "Alertmanager",
            f"alerts[{index}] needs a 'service', 'app' or 'job' label")
        summary = _first(annotations.get("summary"), annotations.get("message"), name)
        details = _first(annotations.get("description"))
        label_text = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        text = f"{summary}\n{details}\nAlert {name} since {_str(alert.get('startsAt'))} ({label_text})"
        fingerprint = _first(alert.get("fingerprint")) or _hash_key(
            *(f"{k}={v}" for k, v in sorted(labels.items())))
        incidents.append(Incident(
            source="alertmanager", title=f"{name}: {summary}"[:200], text=_clip(text.strip()),
            priority=priority_from(labels.get("priority"), f"alerts[{index}] label priority")
            or priority_from(labels.get("severity"), f"alerts[{index}] label severity") or DEFAULT_PRIORITY,
            service=service, dedupe_key=f"alertmanager:{fingerprint}",
            scenario=_first(labels.get("scenario"), annotations.get("scenario")) or None,
            resolved=status == "resolved", labels=labels,
            url=_first(alert.get("generatorURL"), body.get("externalURL")) or None))
    return incidents


def parse_gcp(body: dict) -> list[Incident]:
    if str(body.get("version")) != "1.2":
        raise PayloadError(f"unsupported Cloud Monitoring notification version {body.get('version')!r}; "
                           "this receiver reads version \"1.2\"")
    incident = _need_dict(body.get("incident"), "incident")
    incident_id = _first(incident.get("incident_id"))
    if not incident_id:
        raise PayloadError("Cloud Monitoring payload needs incident.incident_id")
    state = _str(incident.get("state")).lower()
    if state not in ("open", "closed"):
        raise PayloadError(f"incident.state must be 'open' or 'closed', got {state!r}")
    metadata = _need_dict(incident.get("metadata") or {}, "incident.metadata")
    user_labels = {**_labels(incident.get("policy_user_labels"), "incident.policy_user_labels"),
                   **_labels(metadata.get("user_labels"), "incident.metadata.user_labels")}
    resource = _need_dict(incident.get("resource") or {}, "incident.resource")
    resource_labels = _labels(resource.get("labels"), "incident.resource.labels")
    service = _service_or_fail(
        _first(user_labels.get("service"), resource_labels.get("service_name"),
               resource_labels.get("container_name"), incident.get("resource_display_name")),
        "Cloud Monitoring", "set a 'service' user label on the alert policy")
    policy = _first(incident.get("policy_name"), "alert policy")
    condition = _first(incident.get("condition_name"))
    summary = _first(incident.get("summary"), f"{policy} {condition}")
    text = (f"{summary}\nPolicy {policy}" + (f", condition {condition}" if condition else "")
            + f"; resource {_first(incident.get('resource_name'), resource.get('type'))}"
            + f"; observed {_first(incident.get('observed_value'), '-')}"
            + f" (threshold {_first(incident.get('threshold_value'), '-')})")
    return [Incident(
        source="gcp", title=f"{policy}: {condition or summary}"[:200], text=_clip(text),
        priority=priority_from(user_labels.get("priority"), "user label priority")
        or priority_from(incident.get("severity"), "incident.severity") or DEFAULT_PRIORITY,
        service=service, dedupe_key=f"gcp:{incident_id}",
        scenario=user_labels.get("scenario") or None, resolved=state == "closed",
        labels={**resource_labels, **user_labels}, url=_first(incident.get("url")) or None)]


_SNOW_CLOSED_STATES = {"6", "7", "8", "resolved", "closed", "canceled", "cancelled"}


def parse_servicenow(body: dict) -> list[Incident]:
    record = _need_dict(body["result"], "result") if isinstance(body.get("result"), dict) else body
    number = _first(record.get("incident_number"), record.get("number"))
    if not number:
        raise PayloadError("ServiceNow record needs 'incident_number' (or 'number')")
    short = _first(record.get("short_description"))
    if not short:
        raise PayloadError(f"ServiceNow incident {number} needs a 'short_description'")
    if "priority" not in record:
        raise PayloadError(f"ServiceNow incident {number} needs a 'priority' (1..5)")
    priority = priority_from(record.get("priority"), f"ServiceNow incident {number} priority")
    target = record.get("target")
    target = target if isinstance(target, dict) and "service" in target else {"service": target}
    service = _service_or_fail(
        _first(target.get("service"), record.get("cmdb_ci"), record.get("business_service")),
        "ServiceNow", f"incident {number} needs a 'target' (a service name or {{service, hostname, "
        "ip_address}}) or 'cmdb_ci'")
    state = _str(record.get("state")).lower()
    description = _first(record.get("description"))
    extra = {key: _str(value) for key, value in (("target_hostname", target.get("hostname")),
                                                 ("target_ip_address", target.get("ip_address")),
                                                 ("category", record.get("category")),
                                                 ("assignment_group", record.get("assignment_group")))
             if _str(value)}
    return [Incident(
        source="servicenow", title=f"{number}: {short}"[:200],
        text=_clip(f"{short}\n{description}".strip()), priority=priority or DEFAULT_PRIORITY,
        service=service, dedupe_key=f"servicenow:{number}",
        scenario=_first(record.get("scenario"), record.get("u_scenario")) or None,
        resolved=state in _SNOW_CLOSED_STATES or state.split(" ")[0] in _SNOW_CLOSED_STATES,
        labels={"incident_number": number, **({"state": state} if state else {}), **extra},
        url=_first(record.get("url"), record.get("link")) or None)]


def parse_generic(body: dict) -> list[Incident]:
    title = _first(body.get("title"), body.get("summary"))
    text = _first(body.get("text"), body.get("description"))
    if not title and not text:
        raise PayloadError("generic alert needs a 'title' or a 'text'")
    service = _service_or_fail(_first(body.get("service")), "generic", "set the 'service' field")
    status = _str(body.get("status") or "firing").lower()
    if status not in ("firing", "resolved"):
        raise PayloadError(f"generic alert 'status' must be 'firing' or 'resolved', got {status!r}")
    labels = _labels(body.get("labels"), "labels")
    title = title or text.splitlines()[0][:200]
    key = _first(body.get("dedupe_key")) or f"generic:{_hash_key(service, title)}"
    return [Incident(
        source="generic", title=title[:200], text=_clip(f"{title}\n{text}".strip() if text != title else title),
        priority=priority_from(body.get("priority")) or DEFAULT_PRIORITY, service=service,
        dedupe_key=key, scenario=_first(body.get("scenario"), labels.get("scenario")) or None,
        resolved=status == "resolved", labels=labels, url=_first(body.get("url")) or None)]


PARSERS: dict[str, Callable[[dict], list[Incident]]] = {
    "alertmanager": parse_alertmanager,
    "gcp": parse_gcp,
    "servicenow": parse_servicenow,
    "generic": parse_generic,
}


MAX_DEPTH = 32  # no alert format nests deeper; deeper bodies are refused before any recursion


def _depth_ok(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """False when brackets nest deeper than ``limit`` (strings skipped; no recursion)."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def decode(raw: bytes) -> dict:
    """The JSON object of a request body, or PayloadError."""
    if not _depth_ok(raw):
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels; send a flat alert object")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise PayloadError("body nests too deeply; send a flat alert object") from None
    return _need_dict(body, "the body")


def parse(source: str, body: dict) -> list[Incident]:
    """Incidents of one webhook body; PayloadError names what is wrong."""
    if source not in PARSERS:
        raise PayloadError(f"unknown source {source!r}; valid sources: {', '.join(PARSERS)}")
    return PARSERS[source](_need_dict(body, "the body"))
