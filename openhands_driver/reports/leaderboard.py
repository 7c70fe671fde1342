"""The skill leaderboard: per skill and scenario, how runs went (from a trace log).

Failures are split by cause (reports/stats.py ``failure_cause``): only the ``skill`` ones count
against the skill in "skill's rate"; gate rejections, dead model endpoints, budgets and harness
errors are shown, not blamed on the skill.

Runs without a skill (baseline, manual or optimizer strategies) are grouped under
``(no skill: <strategy>)`` so they sit next to the skills they compete with.
"""

from __future__ import annotations

from pathlib import Path

from openhands_driver.reports.stats import RunRecord, is_run, records, summarize
from openhands_driver.reports.table import markdown_table, text_table
from openhands_driver.trace import read_rows

HEADERS = ["skill", "scenario", "runs", "success", "skill's rate", "failures by cause", "mean steps", "p50 s",
           "p95 s", "mean cost $", "last failure"]


def skill_label(item: RunRecord) -> str:
    return item.skill_id or f"(no skill: {item.strategy_source or item.mode or 'unknown'})"


def leaderboard(rows: list[dict]) -> list[dict]:
    """One entry per (skill, scenario) with at least one run, sorted by skill then scenario."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for item in records(rows)[0]:
        groups.setdefault((skill_label(item), item.scenario), []).append(item)
    entries = []
    for (skill, scenario), items in sorted(groups.items()):
        stats = summarize(items)
        if stats.runs:
            entries.append({"skill": skill, "scenario": scenario, **stats.to_dict()})
    return entries


def build(trace_log: str | Path) -> dict:
    rows = read_rows(trace_log)
    rows.warn()
    items, bad = records(rows)
    return {"trace_log": str(trace_log), "rows_read": len(rows),
            "runs": sum(is_run(r) for r in items),
            "simulated_rows_excluded": sum(r.simulate for r in items),
            "skipped_lines": rows.skipped_lines, "bad_rows": bad, "open_runs": len(rows.open_runs),
            "entries": leaderboard(rows)}


def _cells(entry: dict) -> list:
    rate = entry["success_rate"]
    failure = entry["last_failure"]
    skill_rate = entry.get("skill_success_rate")
    causes = ", ".join(f"{cause} {n}" for cause, n in (entry.get("causes") or {}).items()) or "-"
    return [entry["skill"], entry["scenario"], entry["runs"],
            f"{entry['fixed']}/{entry['runs']} ({rate:.0%})" if rate is not None else "-",
            f"{skill_rate:.0%}" if skill_rate is not None else "-", causes,
            entry["mean_steps"], entry["p50_s"], entry["p95_s"], entry["mean_cost_usd"],
            (failure[:70] + "...") if failure and len(failure) > 73 else failure]


def render_text(board: dict) -> str:
    head = (f"Skill leaderboard — {board['trace_log']}: {board['runs']} runs "
            f"({board['simulated_rows_excluded']} simulated rows excluded)")
    if not board["entries"]:
        return head + "\n(no runs yet: run `uv run python run_demo.py --scenario <id>` first)"
    return head + "\n" + text_table(HEADERS, [_cells(e) for e in board["entries"]])


def render_markdown(board: dict) -> str:
    return markdown_table(HEADERS, [_cells(e) for e in board["entries"]])
