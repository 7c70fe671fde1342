"""The model compatibility gate: does this model work with the OpenHands SDK and our runner?

- ``profiles``: LLM profiles in the SDK's format (no secrets on disk with them), secrets apart (0600)
- ``stages``:   the stages as plain SDK code (A connectivity, B conversation, C tool calls, D opt-in)
- ``classify``: credential/config vs provider/transient vs likely SDK incompatibility, with evidence
- ``gate``:     :func:`run_gate` runs the stages, captures logs, writes the run's artifacts
- ``runs``:     ``artifacts/llm-checks/<run_id>/`` (result, metadata, log, error capsule, repro.py), history
- ``autofix``:  the auto-fix lane: an agent patches a worktree of the SDK until the repro passes

Library functions a dashboard or TUI can call: ``list_profiles``, ``save_profile``, ``edit_profile``,
``remove_profile``, ``resolve_profile``, ``run_gate``, ``history``, ``find_run``, ``autofix``.
Nothing here imports the SDK at import time.
"""

from .profiles import (GateTarget, ProfilePaths, edit_profile, list_profiles, profile_paths, read_profile,
                       remove_profile, resolve_profile, save_profile, target_from_config)
from .runs import GateReport, StageResult, find_run, history

__all__ = ["GateReport", "GateTarget", "ProfilePaths", "StageResult", "edit_profile", "find_run", "history",
           "list_profiles", "profile_paths", "read_profile", "remove_profile", "resolve_profile", "run_gate",
           "save_profile", "target_from_config"]


def run_gate(*args, **kwargs):
    from .gate import run_gate as _run_gate

    return _run_gate(*args, **kwargs)
