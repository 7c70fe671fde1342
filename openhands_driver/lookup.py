"""What a user can look up without running anything: ``run_demo.py --list`` (scenarios, fault
classes, skills, one line each) and ``run_demo.py --show RUN_ID`` (a past run's story from its
trace row). Cheap: no SDK import."""

from __future__ import annotations

import sys
from pathlib import Path

from openhands_driver.errors import UserError


def _first_line(text: str, width: int = 100) -> str:
    line = " ".join((text or "").strip().split())
    return line if len(line) <= width else line[: width - 1] + "…"


def listing(training_data: Path | None = None) -> str:
    """Scenarios of the catalog, fault classes of the target's registry, skills, one line each."""
    from openhands_driver.scenarios import load_catalog
    from openhands_driver.skills import load_skills
    from target_service import faults

    catalog = load_catalog(training_data)
    lines = [f"Scenarios ({catalog.path}; run one with --scenario ID):"]
    width = max((len(s.scenario_id) for s in catalog.scenarios), default=0)
    for scenario in catalog.scenarios:
        note = (f"unsupported: {scenario.unsupported_reason}" if scenario.unsupported_reason
                else scenario.title or scenario.error_report)
        lines.append(f"  {scenario.scenario_id:<{width}}  {_first_line(note)}")
    lines.append("Fault classes (blind incidents: --scenario CLASS --blind [--variant-seed N]):")
    classes = sorted(faults.FAULT_CLASSES)
    width = max(map(len, classes), default=0)
    for name in classes:
        module = sys.modules.get(type(faults.FAULT_CLASSES[name]).__module__)
        paragraph = (getattr(module, "__doc__", "") or "").strip().split("\n\n")[0]
        summary = paragraph.split(":", 1)[-1]  # "Fault class NAME: what it is."
        lines.append(f"  {name:<{width}}  {_first_line(summary)}")
    skills = load_skills()
    lines.append("Skills (.agents/skills; force one with --skill-id NAME):")
    width = max(map(len, skills), default=0)
    for name, info in sorted(skills.items()):
        lines.append(f"  {name:<{width}}  {_first_line(info.description.split('Signals:')[0])}")
    return "\n".join(lines)


def find_run(trace_log: Path, run_id: str) -> dict:
    """The final trace row of ``run_id`` (the latest one when several runs shared the id)."""
    from openhands_driver.trace import read_rows

    if not Path(trace_log).is_file():
        raise UserError(f"no trace log at {trace_log}; pass the one the run wrote with --trace-log FILE")
    rows = read_rows(trace_log)
    matches = [r for r in rows if r.get("run_id") == run_id]
    if not matches:
        recent = ", ".join(r.get("run_id", "?") for r in rows[-5:]) or "none"
        raise UserError(f"no run {run_id!r} in {trace_log}; most recent: {recent}")
    return matches[-1]


def story(row: dict) -> str:
    """A past run told as run_demo.py told it at the end, plus every action it took."""
    from openhands_driver.cli import render_human
    from openhands_driver.records import RunResult

    result = RunResult.from_row(row)
    lines = [render_human(result)]
    if result.alert:
        lines.append(f"  alert: {_first_line(result.alert, 300)}")
    if result.actions:
        lines.append(f"  actions ({len(result.actions)}):")
        for n, action in enumerate(result.actions, 1):
            gate = "" if action.gate == "allowed" else f", {action.gate}"
            ended = "" if action.tool == "finish" else f" -> exit {action.exit_code}"
            lines.append(f"    {n:>2}. [{action.risk}{gate}] {action.tool}: {_first_line(action.command, 120)}{ended}")
    return "\n".join(lines)
