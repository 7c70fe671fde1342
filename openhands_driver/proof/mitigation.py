"""Mitigation: the fault class's oracle, run on the target's real state where the target runs
(the service root locally, inside the container for Docker), through ``faults.py oracle``."""

from __future__ import annotations

import json
from typing import Any

from openhands_driver.target.base import Target


def run_service_tool(target: Target, args: list[str], timeout_s: float = 60.0) -> Any:
    """Run ``faults.py ARGS --root ROOT`` in the target's context; its JSON answer."""
    argv = target.service_tool_argv() + args + ["--root", str(target.root)]
    for attempt in (1, 2):  # once more when the answer is not JSON (seen once under heavy load)
        result = target.exec(argv, timeout_s=timeout_s)
        if not result.ok:
            raise RuntimeError(f"{' '.join(args[:1])} on the target failed (exit {result.exit_code}): "
                               f"{(result.stderr or result.stdout).strip()[-400:]}")
        try:
            return json.loads(result.stdout)
        except ValueError:
            if attempt == 2:
                raise RuntimeError(f"{' '.join(args[:1])} on the target answered no JSON (stdout "
                                   f"{result.stdout.strip()[:200]!r}, stderr {result.stderr.strip()[-200:]!r})") from None


def check_mitigation(target: Target, fault: str | None, params: dict) -> dict:
    """{passed, checks: [{check, passed, detail}]}: is the root cause gone, decoys intact?"""
    try:
        found = run_service_tool(target, ["oracle", "--fault", fault or "healthy",
                                          "--params", json.dumps(params, sort_keys=True)])
    except (RuntimeError, ValueError) as exc:
        return {"passed": False, "checks": [], "error": str(exc)}
    return {"passed": bool(found.get("passed")), "checks": found.get("checks", [])}


def check_mitigation_all(target: Target, injections: list[dict]) -> dict:
    """Several injections: every class's oracle must pass. {passed, checks (named by class),
    by_fault: [{fault_class, passed, checks}]}."""
    try:
        found = run_service_tool(target, ["oracle", "--faults", json.dumps(injections, sort_keys=True)])
    except (RuntimeError, ValueError) as exc:
        return {"passed": False, "checks": [], "error": str(exc)}
    return {"passed": bool(found.get("passed")), "checks": found.get("checks", []),
            "by_fault": [{"fault_class": f.get("fault_class"), "passed": bool(f.get("passed")),
                          "checks": f.get("checks", [])} for f in found.get("by_fault", [])]}
