"""The scenario catalog: what broke, and the incident text the agent receives.

One source for this fact: a JSON file shaped like ``training_data/scenarios.json``
(``{"schema_version": N, "scenarios": [...]}``). Imported ITBench files (schema 2) extend the records
with provenance fields; this module keeps every extra field in :attr:`Scenario.extra`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openhands_driver.errors import UserError
from openhands_driver.paths import REPO_ROOT

DEFAULT_TRAINING_DATA = REPO_ROOT / "training_data" / "scenarios.json"
SUPPORTED_SCHEMA_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Scenario:
    """One incident the runner can reproduce."""

    scenario_id: str
    error_report: str
    local_fault: str | None = None
    title: str = ""
    skill_id: str | None = None
    active: bool = True
    unsupported_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def runnable(self) -> bool:
        """True when the target service can reproduce this incident (healthy counts)."""
        return not self.unsupported_reason


@dataclass(frozen=True)
class Catalog:
    path: Path
    schema_version: int
    scenarios: tuple[Scenario, ...]

    def ids(self) -> list[str]:
        return [s.scenario_id for s in self.scenarios]

    def active(self) -> list[Scenario]:
        return [s for s in self.scenarios if s.active]

    def get(self, scenario_id: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.scenario_id == scenario_id:
                return scenario
        raise UserError(
            f"unknown scenario {scenario_id!r} in {self.path}. "
            f"Valid scenarios: {', '.join(self.ids())}"
        )


_KNOWN_KEYS = {"scenario_id", "error_report", "local_fault", "title", "skill_id", "active",
               "unsupported_reason"}


def _record(raw: Any, index: int, path: Path) -> Scenario:
    if not isinstance(raw, dict):
        raise UserError(f"{path}: scenarios[{index}] is not an object")
    for key in ("scenario_id", "error_report"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise UserError(f"{path}: scenarios[{index}] needs a non-empty string {key!r}")
    # A record without the key names its own fault class (the core scenarios do).
    local_fault = raw["local_fault"] if "local_fault" in raw else raw["scenario_id"]
    if local_fault is not None and (not isinstance(local_fault, str) or not local_fault.strip()):
        raise UserError(f"{path}: scenarios[{index}] ({raw['scenario_id']}) has local_fault "
                        f"{local_fault!r}; it must be a fault class name (a string, see "
                        "target_service/faults.py) or null for an incident without a local analogue")
    return Scenario(
        scenario_id=raw["scenario_id"],
        error_report=raw["error_report"],
        local_fault=local_fault,
        title=raw.get("title") or "",
        skill_id=raw.get("skill_id"),
        active=raw.get("active", True) is True,
        unsupported_reason=raw.get("unsupported_reason") or None,
        extra={k: v for k, v in raw.items() if k not in _KNOWN_KEYS},
    )


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a scenario file; raise :class:`UserError` with the fix on problems."""
    path = Path(path) if path else DEFAULT_TRAINING_DATA
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"training data file not found: {path}. "
                        "Pass --training-data with a JSON file like training_data/scenarios.json") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"training data file {path} is not valid JSON: {exc}") from None
    except IsADirectoryError:
        raise UserError(f"training data {path} is a directory; pass --training-data with a JSON file "
                        "like training_data/scenarios.json") from None
    except UnicodeDecodeError:
        raise UserError(f"training data file {path} is not UTF-8 text; pass a JSON file like "
                        "training_data/scenarios.json") from None
    except OSError as exc:
        raise UserError(f"training data file {path} cannot be read ({exc.strerror or exc}); pass a "
                        "readable JSON file with --training-data") from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise UserError(f"{path}: expected an object with a 'scenarios' list")
    version = data.get("schema_version")
    if isinstance(version, bool) or version not in SUPPORTED_SCHEMA_VERSIONS:  # true == 1 in Python
        raise UserError(f"{path}: unsupported schema_version {version!r} "
                        f"(this runner reads {SUPPORTED_SCHEMA_VERSIONS})")
    scenarios = tuple(_record(raw, i, path) for i, raw in enumerate(data["scenarios"]))
    seen: set[str] = set()
    for s in scenarios:
        if s.scenario_id in seen:
            raise UserError(f"{path}: duplicate scenario_id {s.scenario_id!r}")
        seen.add(s.scenario_id)
    return Catalog(path=path, schema_version=version, scenarios=scenarios)
