"""Show the three safety-gate behaviours on a real target with the runbook brain (no model needed).

1. blocked: a runbook that tries to print the environment (HIGH) under ``--max-security-risk
   MEDIUM``: the command is rejected before it runs, the agent is told why and goes on to fix.
2. approved: ``--require-confirmation-for-risk MEDIUM`` with an approver that says yes: the
   remediation pauses, is approved, runs, and the service is fixed.
3. rejected: the same gate with an approver that says no: the remediation never runs and the
   verifier reports the service still down.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TextIO

from openhands_driver.config import RunConfig
from openhands_driver.gates import APPROVE, REJECT, Decision
from openhands_driver.records import RunResult

RISKY_RUNBOOK = """\
# Triage (demo: one step is too risky)
## Diagnose
```bash
targetctl status
printenv
targetctl exec ls -la var/lock/ var/run/
```
## Verify
```bash
targetctl status
```
"""


def _demo_configs(base: RunConfig) -> list[tuple[str, RunConfig, object]]:
    blocked = dataclasses.replace(base, strategy_source="optimizer", strategy_text=RISKY_RUNBOOK,
                                  max_security_risk="MEDIUM", require_confirmation_for_risk=None)
    gated = dataclasses.replace(base, max_security_risk="MEDIUM", require_confirmation_for_risk="MEDIUM",
                                auto_confirm=False)
    return [("blocked before execution", blocked, None),
            ("confirmation approved", gated, lambda p: Decision(APPROVE, "approved (demo)")),
            ("confirmation rejected", gated, lambda p: Decision(REJECT, "rejected (demo)"))]


def run_security_demo(base: RunConfig, console: TextIO = sys.stderr) -> list[dict]:
    from openhands_driver.runner import run_incident

    rows = []
    for name, config, approver in _demo_configs(base):
        print(f"\n=== gate demo: {name} ===", file=console, flush=True)
        result: RunResult = run_incident(config, console=console, approver=approver)
        gated = [a for a in result.actions if a.gate != "allowed"]
        rows.append({"behaviour": name, "run_id": result.run_id, "service_up": result.service_up,
                     "status": result.status,
                     "gated_actions": [{"command": a.command, "risk": a.risk, "gate": a.gate,
                                        "gate_by": a.gate_by, "reason": a.gate_reason} for a in gated],
                     "violations": result.security.get("violations", [])})
    return rows
