"""The optimizer result file (default ``artifacts/gepa/best_hint.json``): shape, writing, reading.

Every score in it comes from real runs: ``run_ids`` lists every evaluation, each with its row in the
evaluation trace log (``trace_log``). ``run_demo.py --strategy-source optimizer`` reads
``best_candidate`` through :func:`load_best_strategy`. Reading this module is cheap (no SDK, no gepa).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.optimizer.candidate import COMPONENT
from openhands_driver.paths import ARTIFACTS_DIR

RESULT_SCHEMA_VERSION = 2  # 2: blind incidents, resolved-based scores, held-out validation
DEFAULT_OPTIMIZER_RESULT = ARTIFACTS_DIR / "gepa" / "best_hint.json"
DEFAULT_ITERATIVE_RESULT = ARTIFACTS_DIR / "gepa" / "best_hint_iterative.json"
DEFAULT_EVAL_TRACE_LOG = ARTIFACTS_DIR / "gepa" / "evaluations.jsonl"
REQUIRED_KEYS = ("optimizer", "gepa_version", "seed_candidate", "seed_score", "best_candidate",
                 "best_score", "by_scenario", "candidates", "metric_calls", "created_at", "run_ids")


def default_output(optimizer: str) -> Path:
    return DEFAULT_ITERATIVE_RESULT if optimizer == "iterative" else DEFAULT_OPTIMIZER_RESULT


def create_command(path: Path | str, optimizer: str = "gepa") -> str:
    return f"uv run python optimize.py --optimizer {optimizer} --output {path}"


@dataclass
class SearchOutcome:
    """What a search returns: its best text and the pool it kept (ids of accepted candidates)."""

    engine: str                       # "gepa.optimize" | "iterative"
    proposer: str                     # "deterministic" | "reflection_lm:<model>"
    seed_text: str
    best_text: str
    accepted: list[str] = field(default_factory=list)          # candidate ids kept by the search
    parents: dict[str, list[str]] = field(default_factory=dict)  # candidate id -> parent ids
    origins: dict[str, str] = field(default_factory=dict)        # candidate id -> how it was made
    search_scores: dict[str, float] = field(default_factory=dict)  # the search's own aggregate
    stop_reason: str = ""
    reported_metric_calls: int | None = None
    seed_candidate: dict[str, str] = field(default_factory=dict)  # all components (default: the text)
    best_candidate: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seed_candidate = self.seed_candidate or {COMPONENT: self.seed_text}
        self.best_candidate = self.best_candidate or {COMPONENT: self.best_text}


def validate(data: dict) -> list[str]:
    """Problems with a result dict (empty list: valid)."""
    problems = [f"missing key {key!r}" for key in REQUIRED_KEYS if key not in data]
    if problems:
        return problems
    for key in ("seed_candidate", "best_candidate"):
        if not isinstance(data[key], dict) or not str(data[key].get(COMPONENT, "")).strip():
            problems.append(f"{key} must hold a non-empty {COMPONENT!r} text")
    if data.get("simulate"):
        problems.append("this is a --simulate plan, not a result")
    if len(data["run_ids"]) != data["metric_calls"]:
        problems.append(f"metric_calls {data['metric_calls']} != {len(data['run_ids'])} run ids")
    for candidate in data["candidates"]:
        if "score" not in candidate or "candidate_id" not in candidate:
            problems.append("every candidate needs candidate_id and score")
            break
    return problems


def save(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load(path: str | Path) -> dict:
    """Read and validate a result file; UserError (with the command to create it) when unusable."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no optimizer result at {path}. Create it with: {create_command(path)} "
                        "(or pass --optimizer-result PATH to an existing one)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"optimizer result {path} is not valid JSON ({exc}). "
                        f"Re-create it with: {create_command(path)}") from None
    problems = validate(data) if isinstance(data, dict) else ["not a JSON object"]
    if problems:
        raise UserError(f"optimizer result {path} is not usable: {'; '.join(problems)}. "
                        f"Re-create it with: {create_command(path)}")
    return data


def load_best_strategy(path: str | Path) -> str:
    """The best candidate's strategy text from a result file."""
    return str(load(path)["best_candidate"][COMPONENT]).strip()
