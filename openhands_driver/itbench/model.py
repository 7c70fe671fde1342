"""The ITBench import's records: incidents as read, the import's result and its configuration."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
DEFAULT_SUBDIR = "scenarios/sre"


class ItbenchImportError(Exception):
    """A user-fixable problem with the ITBench source; the message says what failed and what to do."""


@dataclass(frozen=True)
class Alert:
    name: str
    labels: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Injection:
    fault_id: str
    args: dict[str, Any]
    disruption: int  # index of the disruption holding this injection


@dataclass(frozen=True)
class Entity:
    kind: str
    name: str
    namespace: str | None
    api_version: str | None


@dataclass
class ItbenchIncident:
    """One ITBench scenario as read from its index JSON plus groundtruth v2."""
    source_id: int
    category: str  # "sre" or "finops" upstream
    name: str  # derived: the index has no name field
    slug: str
    description: str
    complexity: str | None
    tags: list[str]
    applications: list[str]
    alerts: list[Alert]
    injections: list[Injection]
    entities: list[Entity]  # from groundtruth v2; empty when it is missing
    solutions: list[Any]
    has_groundtruth: bool
    has_groundtruth_v1: bool
    quirks: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    location: str  # checkout path or git URL, as imported
    is_url: bool
    subdir: str
    commit: str | None
    commit_origin: str | None  # "git", "README.md note" or None
    incidents: list[ItbenchIncident]  # SRE only, sorted by source id
    finops_excluded: list[int]
    other_excluded: list[int]


@dataclass(frozen=True)
class ImportConfig:
    source: str  # checkout path or git URL (https://, ssh, file://)
    subdir: str = DEFAULT_SUBDIR
    output: Path | None = None  # where to write the catalog; None = do not write
