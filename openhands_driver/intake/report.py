"""The markdown incident report of one execution, written from its database record.

One file per execution (``<reports dir>/<execution_id>.md``), rewritten whenever the record reaches
a final state or an escalation changes state, so the file always matches the database.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from openhands_driver.intake.escalation import iso
from openhands_driver.intake.phases import PHASES, verifier_detail


def _cell(text: object, limit: int = 160) -> str:
    text = " ".join(str(text if text is not None else "-").split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.replace("|", "\\|")


def render(execution: dict) -> str:
    incident = execution["incident"]
    plan = execution.get("plan") or {}
    result = execution.get("result") or {}
    verdict = {True: "service up (verified)", False: "service NOT up", None: "not verified"}[
        execution.get("service_up")]
    tokens = execution.get("tokens_used")
    lines = [f"# Incident report {execution['id']}: {incident['title']}", "",
             f"- **Status:** {execution['status']} — {execution['reason']}",
             f"- **Verdict:** {verdict}",
             (f"- **Priority:** {execution['priority']}; **service:** {incident['service']}; "
              f"**source:** {execution['source']}; **dedupe key:** `{execution['dedupe_key']}`; "
              f"alerts merged: {execution['alert_count']}"),
             f"- **Target:** {plan.get('kind', '-')} — {plan.get('reason', '-')}",
             (f"- **Run:** {execution.get('run_id') or '-'}; attempts {execution['attempts']}; "
              f"tokens used {'-' if tokens is None else tokens}"),
             (f"- **Received:** {iso(execution['created_at'])}; "
              f"**started:** {iso(execution.get('started_at')) or '-'}; "
              f"**finished:** {iso(execution.get('finished_at')) or '-'}"), ""]
    if incident.get("url"):
        lines.insert(-1, f"- **Alert link:** {incident['url']}")
    lines += ["## Incident", "", "```text", incident["text"], "```", ""]
    phases = {e["name"]: e["detail"] for e in execution["timeline"] if e["kind"] == "phase"}
    if phases:
        lines += ["## Phases", ""]
        lines += [f"{n}. **{p}**: {phases[p]}" for n, p in enumerate(PHASES, 1) if p in phases]
        lines.append("")
    if execution["actions"]:
        lines += ["## Actions", "", "| # | phase | tool | command | risk | result | s |",
                  "|---|---|---|---|---|---|---|"]
        for a in execution["actions"]:
            lines.append(f"| {a['seq'] + 1} | {a['phase']} | {a['tool']} | `{_cell(a['command'], 120)}` | "
                         f"{a['risk']} | {_cell(a['result'])} | {a['duration_s'] if a['duration_s'] is not None else '-'} |")
        lines.append("")
    if execution.get("verification") or result:
        lines += ["## Verification", "", verifier_detail(execution.get("verification")), ""]
        if result.get("agent_message"):
            lines += [f"Agent's final message: {_cell(result['agent_message'], 600)}", ""]
        if result.get("error"):
            lines += [f"Run error: {_cell(result['error'], 600)}", ""]
    if execution["escalations"]:
        lines += ["## Escalations", "", "| id | reason | state | attempts | last error | sent |",
                  "|---|---|---|---|---|---|"]
        for e in execution["escalations"]:
            lines.append(f"| {e['id']} | {e['reason']} | {e['state']} | {e['attempts']} | "
                         f"{_cell(e['last_error'])} | {iso(e['sent_at']) or '-'} |")
        lines.append("")
    lines += ["## Timeline", "", "| at (UTC) | kind | event | detail |", "|---|---|---|---|"]
    for entry in execution["timeline"]:
        lines.append(f"| {iso(entry['at'])} | {entry['kind']} | {entry['name']} | {_cell(entry['detail'], 200)} |")
    return "\n".join(lines) + "\n"


def write(execution: dict, reports_dir: Path) -> Path:
    """Write the report atomically (temp file + rename); returns its path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"{execution['id']}.md"
    temp = path.with_suffix(f".md.{os.getpid()}-{threading.get_ident()}.tmp")
    temp.write_text(render(execution), encoding="utf-8")
    os.replace(temp, path)
    return path
