"""One folder per gate run under ``artifacts/llm-checks/<run_id>/``, and the history of those folders.

Files of a run (every one passes through ``trace.redact`` with the run's secrets first):

- ``profile.json``  the profile as checked (secret fields redacted)
- ``metadata.json`` run id, times, host, Python, SDK/tools/litellm versions, this tool's commit, cost
- ``result.json``   the report: per-stage pass/fail/n-a, duration, category, kind, evidence
- ``log.txt``       raw logs of the run (SDK and litellm logging) and every stack trace
- ``capsule.json`` / ``capsule.md``  the error capsule of the first failure (what, where, minimal context)
- ``repro.py``      a standalone reproduction (the first failing stage, or the whole suite when all pass)
"""

from __future__ import annotations

import json
import os
import platform
import pprint
import re
import secrets as _random
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import ARTIFACTS_DIR, REPO_ROOT
from openhands_driver.trace import redact

RUNS_DIR = ARTIFACTS_DIR / "llm-checks"
STAGES_SOURCE = Path(__file__).with_name("stages.py")


@dataclass
class StageResult:
    stage: str
    name: str
    status: str  # "pass" | "fail" | "n/a" | "skipped"
    duration_s: float = 0.0
    detail: str = ""
    category: str | None = None
    kind: str | None = None
    error: str | None = None
    evidence: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:  # the pre-profile report's tri-state, kept for readers
        return {"pass": True, "fail": False}.get(self.status)

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


@dataclass
class GateReport:
    run_id: str
    model: str
    base_url: str | None
    profile_name: str | None
    created_at: str
    stages: list[StageResult] = field(default_factory=list)
    finished_at: str | None = None
    usage: dict = field(default_factory=dict)
    run_dir: str | None = None

    @property
    def passed(self) -> bool:
        return not any(s.status in ("fail", "skipped") for s in self.stages)

    @property
    def first_failure(self) -> StageResult | None:
        return next((s for s in self.stages if s.status == "fail"), None)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "model": self.model, "base_url": self.base_url,
                "profile": self.profile_name, "created_at": self.created_at, "finished_at": self.finished_at,
                "passed": self.passed, "usage": self.usage, "run_dir": self.run_dir,
                "stages": [s.to_dict() for s in self.stages]}


def new_run_id(model: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-")[:40] or "model"
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{slug}-{_random.token_hex(2)}"


def versions() -> dict:
    out = {}
    for dist in ("openhands-sdk", "openhands-tools", "litellm"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    out["openhands-gepa-sre"] = commit or None
    return out


def metadata(report: GateReport, stages: list[str]) -> dict:
    return {"run_id": report.run_id, "created_at": report.created_at, "finished_at": report.finished_at,
            "host": socket.gethostname(), "platform": platform.platform(), "python": sys.version.split()[0],
            "versions": versions(), "model": report.model, "base_url": report.base_url,
            "profile": report.profile_name, "stages_requested": stages, "usage": report.usage,
            "cost_usd": report.usage.get("cost_usd"), "argv": [redact_arg(a) for a in sys.argv[1:]]}


def redact_arg(arg: str) -> str:
    return "<redacted>" if re.search(r"(sk-|key|token)", arg, re.I) and "=" in arg else arg


def capsule(report: GateReport, log_text: str) -> dict | None:
    failed = report.first_failure
    if failed is None:
        return None
    lines = [line for line in log_text.splitlines() if line.strip()]
    return {"run_id": report.run_id, "model": report.model, "profile": report.profile_name,
            "stage": failed.stage, "stage_name": failed.name, "kind": failed.kind, "category": failed.category,
            "error": failed.error, "evidence": failed.evidence, "where": failed.where,
            "versions": versions(), "repro": "LLM_API_KEY=... python repro.py",
            "log_excerpt": lines[-25:]}


def capsule_markdown(c: dict) -> str:
    ev = "\n".join(f"- {e}" for e in c["evidence"])
    where = "\n".join(f"    {w}" for w in c["where"]) or "    (no frame)"
    log = "\n".join(c["log_excerpt"][-15:])
    return (f"# Error capsule: {c['model']} failed stage {c['stage']} ({c['stage_name']})\n\n"
            f"- run: `{c['run_id']}`  profile: `{c['profile']}`\n- class: **{c['kind']}** ({c['category']})\n"
            f"- error: `{c['error']}`\n- versions: {json.dumps(c['versions'])}\n\n## Evidence\n{ev}\n\n"
            f"## Where (innermost frames)\n{where}\n\n## Reproduce\n\n    {c['repro']}\n\n"
            f"## Log excerpt\n```\n{log}\n```\n")


def repro_script(profile: dict, stages: list[str], note: str) -> str:
    """stages.py's own source plus a main: runs with only the SDK installed, key from $LLM_API_KEY."""
    body = STAGES_SOURCE.read_text()
    return (f"#!/usr/bin/env python3\n# Standalone reproduction ({note}); generated by scripts/check_llm.py.\n"
            f"# Run: LLM_API_KEY=<key> python repro.py   (needs openhands-sdk and openhands-tools)\n"
            f"{body}\n\nPROFILE = {pprint.pformat(profile, indent=4)}\nREPRO_STAGES = {json.dumps(stages)}\n\n"
            "if __name__ == \"__main__\":\n    sys.exit(run_standalone(PROFILE, REPRO_STAGES))\n")


def write_run(run_dir: Path, report: GateReport, profile: dict, stages: list[str], log_text: str,
              secrets: list[str]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    failed = report.first_failure
    repro_stages = [failed.stage] if failed else [s.stage for s in report.stages if s.status == "pass"]
    files = {
        "profile.json": json.dumps(profile, indent=2),
        "metadata.json": json.dumps(metadata(report, stages), indent=2),
        "result.json": json.dumps(report.to_dict(), indent=2),
        "log.txt": log_text,
        "repro.py": repro_script(profile, repro_stages or stages,
                                 f"first failing stage {failed.stage}" if failed else "the whole suite"),
    }
    cap = capsule(report, log_text)
    if cap:
        files["capsule.json"] = json.dumps(cap, indent=2)
        files["capsule.md"] = capsule_markdown(cap)
    for name, text in files.items():
        (run_dir / name).write_text(redact(text, secrets))
    os.chmod(run_dir / "repro.py", 0o755)
    return run_dir


def runs_dir(base: Path | None = None) -> Path:
    return Path(base) if base else RUNS_DIR


def history(base: Path | None = None, limit: int | None = None) -> list[dict]:
    """Past runs, newest first: each run's result.json plus its cost (unreadable folders skipped)."""
    root = runs_dir(base)
    rows = []
    for result in root.glob("*/result.json") if root.is_dir() else []:
        try:
            row = json.loads(result.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        row["run_dir"] = str(result.parent)
        rows.append(row)
    rows.sort(key=lambda r: r.get("created_at") or "", reverse=True)
    return rows[:limit] if limit else rows


def find_run(run_id: str, base: Path | None = None) -> Path:
    path = runs_dir(base) / run_id
    if not (path / "result.json").exists():
        known = ", ".join(r["run_id"] for r in history(base, 5)) or "none"
        raise UserError(f"no gate run {run_id!r} in {runs_dir(base)} (latest: {known}); "
                        "see `check_llm.py history`")
    return path
