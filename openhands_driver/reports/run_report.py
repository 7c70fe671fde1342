"""The markdown report of one run, written next to the trace log (``<trace dir>/reports/<run_id>.md``)
from the run's trace row, so it holds exactly what the row holds (secrets already redacted): the
alert, the verdict, what was wrong, the diagnosis and its evidence, what changed (as a diff), how it
was proven, and every action with its risk, gate and exit code."""

from __future__ import annotations

import os
from pathlib import Path


def _cell(text: object, limit: int = 140) -> str:
    text = " ".join(str("-" if text is None else text).split())
    return (text if len(text) <= limit else text[: limit - 1] + "…").replace("|", "\\|")


def _passed(record: dict | None) -> str:
    return "-" if record is None else ("passed" if record.get("passed") else "FAILED")


def render(row: dict) -> str:
    truth, diagnosis = row.get("ground_truth") or {}, row.get("diagnosis") or {}
    reported = diagnosis.get("reported") or {}
    verdict = ("resolved (proven)" if row.get("resolved") else "NOT resolved" if row.get("resolved") is False
               else {True: "service up (verified)", False: "service NOT up"}.get(row.get("service_up"),
                                                                                  str(row.get("status"))))
    subject = "blind incident" if row.get("blind") else f"scenario `{row.get('scenario')}`"
    lines = [f"# Run {row.get('run_id')}: {subject}", "",
             f"- **Verdict:** {verdict} (status `{row.get('status')}`)",
             f"- **Brain:** {row.get('brain')}{' ' + str(row.get('model')) if row.get('model') else ''}; "
             f"**strategy:** {row.get('strategy_source')}; **skill:** "
             f"{row.get('skill_id') or ', '.join(row.get('skills_used') or []) or '-'}",
             f"- **Backend:** {row.get('backend')}; **sandbox:** {(row.get('security') or {}).get('sandbox', '-')}",
             f"- **Time:** {row.get('duration_s')} s; MTTD {row.get('mttd_s', '-')} s; MTTR {row.get('mttr_s', '-')} s; "
             f"{row.get('step_count')} steps; started {row.get('started_at')}", ""]
    if row.get("alert"):
        lines += ["## Alert", "", "> " + " ".join(str(row["alert"]).split()), ""]
    lines += ["## What was wrong", ""]
    if truth:
        lines.append(f"- **Ground truth:** `{truth.get('fault_class')}` on `{truth.get('entity') or '-'}`"
                     + (f" (variant seed {truth['variant_seed']})" if truth.get("variant_seed") is not None else ""))
    if diagnosis:
        lines.append(f"- **Diagnosis:** {'correct' if diagnosis.get('correct') else 'WRONG'} — "
                     f"`{reported.get('fault_class', '-')}` on `{reported.get('entity') or '-'}`")
        lines += [f"  - evidence: {_cell(e, 300)}" for e in reported.get("evidence") or []]
    lines.append("")
    collateral = row.get("collateral") or {}
    lines += ["## What changed", ""]
    changed = collateral.get("changed") or []
    if not changed:
        lines.append("Nothing on the service's files." if row.get("collateral") is not None else "Not recorded.")
    diffs = {d["path"]: d["diff"] for d in collateral.get("diffs") or []}
    for item in changed:
        lines.append(f"- {item['change']}: `{item['path']}`")
        if item["path"] in diffs:
            lines += ["", "```diff", diffs[item["path"]], "```", ""]
    lines += ["", "## Proof", "", "| check | result |", "|---|---|"]
    verification = row.get("verification") or {}
    attempts = verification.get("attempts") or []
    lines.append(f"| verifier | {sum(bool(a.get('ok')) for a in attempts)}/{len(attempts)} probes healthy |")
    for name in ("mitigation", "durability", "collateral"):
        lines.append(f"| {name} | {_passed(row.get(name))} |")
    lines += ["", "## Actions", "", "| # | tool | command | risk | gate | exit |", "|---|---|---|---|---|---|"]
    for n, action in enumerate(row.get("actions") or [], 1):
        gate = action.get("gate", "allowed")
        by = f" by {action['gate_by']}" if action.get("gate_by") else ""
        lines.append(f"| {n} | {action.get('tool')} | `{_cell(action.get('command'))}` | {action.get('risk')} | "
                     f"{gate}{by} | {'-' if action.get('exit_code') is None else action.get('exit_code')} |")
    if row.get("agent_message"):
        lines += ["", "## The agent's report", "", str(row["agent_message"]).strip()]
    if row.get("error"):
        lines += ["", f"**Error:** {row['error']}"]
    return "\n".join(lines) + "\n"


def report_path(trace_log: str | Path, run_id: str) -> Path:
    return Path(trace_log).parent / "reports" / f"{run_id}.md"


def write(row: dict, trace_log: str | Path) -> Path:
    """Write the run's report next to its trace log (atomically) and return its path."""
    path = report_path(trace_log, str(row.get("run_id")))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".md.{os.getpid()}.tmp")
    tmp.write_text(render(row), encoding="utf-8")
    os.replace(tmp, path)
    return path
