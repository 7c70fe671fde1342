"""Where things live in the repository (one place for these facts)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SKILLS_DIR = REPO_ROOT / ".agents" / "skills"
TARGET_SERVICE_DIR = REPO_ROOT / "target_service"
ARTIFACTS_DIR = REPO_ROOT / "artifacts"
DEFAULT_TRACE_LOG = ARTIFACTS_DIR / "runs" / "trace_log.jsonl"
