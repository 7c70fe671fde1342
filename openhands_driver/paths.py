"""Where things live in the repository (one place for these facts)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SKILLS_DIR = REPO_ROOT / ".agents" / "skills"
TARGET_SERVICE_DIR = REPO_ROOT / "target_service"
# Results, traces, reports and logs; SRE_ARTIFACTS_DIR puts them elsewhere (tests, read-only checkouts)
ARTIFACTS_DIR = Path(os.environ.get("SRE_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
DEFAULT_TRACE_LOG = ARTIFACTS_DIR / "runs" / "trace_log.jsonl"
