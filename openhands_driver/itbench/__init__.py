"""Import ITBench SRE scenarios (itbench-hub/ITBench, Apache-2.0) as local incidents.

Reads an upstream-layout checkout under ``<root>/<subdir>`` (default ``scenarios/sre``): the scenario index
``library/indexes/scenarios/<id>.json``, the fault catalog ``library/indexes/faults/*.json`` and ground truth
``project/roles/scenarios/files/scenario_<id>/groundtruth.yaml`` (v2). Index + v2 are authoritative. Every SRE
scenario becomes one record of the ``training_data/scenarios.json`` schema (extended); ``FAULT_MAP`` is the one
table from ITBench fault ids to local fault classes. Stdlib + PyYAML only: never import the OpenHands SDK here.

    model.py    the records: ItbenchIncident (+ Alert, Injection, Entity), ImportResult, ImportConfig
    mapping.py  FAULT_MAP, map_fault / map_incident, local_fault_params
    loader.py   reading a checkout (index, faults, ground truth), names and slugs, git sources
    catalog.py  the page the agent receives, catalog records, import_itbench
"""
from __future__ import annotations

from openhands_driver.itbench.catalog import build_catalog, build_record, import_itbench, render_error_report
from openhands_driver.itbench.loader import (
    affected_workloads, derive_name, is_git_url, load_checkout, load_fault_names, load_incident, materialize_source,
    resolve_commit,
)
from openhands_driver.itbench.mapping import (
    FAULT_MAP, LOCAL_FAULTS, FaultMapping, LocalMapping, local_fault_params, map_fault, map_incident,
)
from openhands_driver.itbench.model import (
    DEFAULT_SUBDIR, SCHEMA_VERSION, Alert, Entity, ImportConfig, ImportResult, Injection, ItbenchImportError,
    ItbenchIncident,
)

__all__ = [
    "DEFAULT_SUBDIR", "FAULT_MAP", "LOCAL_FAULTS", "SCHEMA_VERSION", "Alert", "Entity", "FaultMapping", "ImportConfig",
    "ImportResult", "Injection", "ItbenchImportError", "ItbenchIncident", "LocalMapping", "affected_workloads",
    "build_catalog", "build_record", "derive_name", "import_itbench", "is_git_url", "load_checkout",
    "load_fault_names", "load_incident", "local_fault_params", "map_fault", "map_incident", "materialize_source",
    "render_error_report", "resolve_commit",
]
