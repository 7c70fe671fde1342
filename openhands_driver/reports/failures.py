"""Failure analysis: why runs failed, grouped by cause, with evidence and skill edit *proposals*.

Reads trace rows of any schema version (``trace.read_rows``), keeps the runs that did not resolve
their incident (failed, stuck, timed out, errored, crashed, interrupted) or damaged something
(collateral), gives each one primary cause and its secondary causes, and per cause the evidence of
every run (the diagnosis against the ground truth, the proof that failed, the failing commands, the
gate's reasons). From the groups it proposes concrete edits to ``.agents/skills/<name>/SKILL.md``: a
``## Failure notes`` section (never a Diagnose/Remediate/Verify heading, so the runbook brain's
procedure is unchanged) as a unified diff to review. Nothing is ever applied.

Causes, in the order the primary one is chosen:
``gate_rejection`` (an action rejected by a safety gate or a policy violation), ``budget`` (run
timeout, stuck, a command cut by the step timeout), ``collateral`` (decoys or files outside the fix
changed), ``wrong_diagnosis`` (the agent named another fault class or entity, or none),
``fix_not_durable`` (the service answered and the oracle passed, but not after a restart),
``fix_incomplete`` (the service answered, the class's oracle did not pass), ``command_errors``
(commands that failed, other than health probes), ``model_error`` (the model or SDK failed),
``crashed`` / ``interrupted`` (the run's process), ``unexplained``.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

CAUSES = ("gate_rejection", "budget", "collateral", "wrong_diagnosis", "fix_not_durable", "fix_incomplete",
          "command_errors", "model_error", "crashed", "interrupted", "unexplained")
CAUSE_TITLES = {
    "gate_rejection": "Gate rejection", "budget": "Budget (timeouts, stuck, step timeouts)",
    "collateral": "Collateral damage", "wrong_diagnosis": "Wrong or missing diagnosis",
    "fix_not_durable": "Fix not durable", "fix_incomplete": "Fix incomplete (oracle failed)",
    "command_errors": "Command errors", "model_error": "Model or SDK error", "crashed": "Crashed run",
    "interrupted": "Interrupted run", "unexplained": "Unexplained"}
NOTES_HEADING = "## Failure notes"
_NOTES = re.compile(r"^## Failure notes.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
_PROBE = re.compile(r"^\s*targetctl\s+status\b")
_MODEL_ERROR = re.compile(r"llm|litellm|model|rate.?limit|api|completion|openai|anthropic|sdk", re.IGNORECASE)
EXCERPT = 240


@dataclass
class RunFailure:
    run_id: str
    scenario: str
    status: str
    cause: str
    causes: list[str]
    skill: str | None                 # the skill the run followed (or was routed to)
    fault_class: str | None           # the ground truth, when the trace has it
    evidence: list[str] = field(default_factory=list)
    failing_commands: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    decoys_changed: list[str] = field(default_factory=list)
    reported: dict | None = None      # the diagnosis the agent reported
    schema_version: int | None = None


def _is_resolved(row: dict) -> bool:
    if row.get("resolved") is not None:
        return bool(row["resolved"])
    return bool(row.get("service_up")) and row.get("status") == "fixed"


def _passed(row: dict, name: str) -> bool | None:
    part = row.get(name)
    return part.get("passed") if isinstance(part, dict) else None


def _skill(row: dict) -> str | None:
    used = [s for s in row.get("skills_used") or [] if s]
    return used[-1] if used else row.get("skill_id") or (row.get("routing") or {}).get("skill_id")


def _truth_class(row: dict) -> str | None:
    truth = row.get("ground_truth") or {}
    return truth.get("fault_class") or row.get("local_fault")


def _tail(text: str | None) -> str:
    text = (text or "").strip()
    return text[-EXCERPT:] if len(text) > EXCERPT else text


def classify(row: dict) -> RunFailure | None:
    """The failure record of one final trace row, or None when the run resolved cleanly."""
    status = str(row.get("status") or "")
    if row.get("simulate") or status in ("simulated", "started", "paused"):
        return None
    collateral_failed = _passed(row, "collateral") is False
    if _is_resolved(row) and not collateral_failed:
        return None
    actions = [a for a in row.get("actions") or [] if isinstance(a, dict)]
    causes: list[str] = []
    evidence: list[str] = []
    rejected = [{"command": a.get("command"), "risk": a.get("risk"), "reason": a.get("gate_reason")}
                for a in actions if a.get("gate") == "rejected"]
    violations = (row.get("security") or {}).get("violations") or []
    if rejected or violations:
        causes.append("gate_rejection")
        evidence += [f"gate rejected `{r['command']}` (risk {r['risk']}): {r['reason']}" for r in rejected]
        evidence += [f"policy violation: {v}" for v in violations[:5] if not rejected]
    timed_out = [a for a in actions if a.get("timed_out")]
    if status in ("timeout", "stuck") or timed_out:
        causes.append("budget")
        if status in ("timeout", "stuck"):
            evidence.append(f"run status {status} after {row.get('step_count')} steps, "
                            f"{row.get('duration_s')} s" + (f": {row['error']}" if row.get("error") else ""))
        evidence += [f"`{a.get('command')}` cut by the step timeout after {a.get('duration_s')} s" for a in timed_out]
    decoys = list((row.get("collateral") or {}).get("decoys_changed") or [])
    if collateral_failed:
        causes.append("collateral")
        outside = [c.get("path") if isinstance(c, dict) else str(c)
                   for c in (row.get("collateral") or {}).get("outside_fix") or []]
        evidence.append(f"changed decoys {decoys or '-'}; changed outside the fix {outside[:5] or '-'}")
    diagnosis = row.get("diagnosis") or {}
    reported = diagnosis.get("reported") if isinstance(diagnosis, dict) else None
    truth = _truth_class(row)
    if isinstance(diagnosis, dict) and diagnosis.get("correct") is False:
        causes.append("wrong_diagnosis")
        named = (reported or {}).get("fault_class") or "nothing"
        evidence.append(f"diagnosed {named!r} (entity {(reported or {}).get('entity') or '-'!r}); the fault was "
                        f"{truth!r} at {(row.get('ground_truth') or {}).get('entity')!r}")
        routed = (row.get("routing") or {})
        if routed.get("skill_id"):
            evidence.append(f"routed to {routed.get('skill_id')} ({routed.get('method')}: {routed.get('reason')})")
    if row.get("service_up") and _passed(row, "mitigation") is not False and _passed(row, "durability") is False:
        causes.append("fix_not_durable")
        probes = (row.get("durability") or {}).get("probes") or []
        evidence.append(f"service answered, then after the runner's restart: "
                        f"{(probes[-1] or {}).get('reason') if probes else (row.get('durability') or {}).get('note')}")
    if row.get("service_up") and _passed(row, "mitigation") is False:
        causes.append("fix_incomplete")
        failed = [c for c in (row.get("mitigation") or {}).get("checks") or [] if not c.get("passed")]
        evidence += [f"oracle: {c.get('check')} -- {c.get('detail')}" for c in failed[:3]]
    failing = [{"command": a.get("command"), "exit_code": a.get("exit_code"),
                "output": _tail(a.get("output_excerpt"))}
               for a in actions if a.get("tool") == "terminal" and a.get("exit_code") not in (0, None)
               and not a.get("timed_out") and not _PROBE.match(str(a.get("command") or ""))]
    if failing:
        causes.append("command_errors")
        evidence += [f"`{f['command']}` exited {f['exit_code']}: {f['output'][-120:]!r}" for f in failing[:3]]
    if status == "error" or (row.get("error") and status not in ("timeout", "stuck", "crashed", "interrupted")):
        if _MODEL_ERROR.search(str(row.get("error") or "")) or row.get("fallback_reason"):
            causes.append("model_error")
            evidence.append(f"error: {row.get('error') or row.get('fallback_reason')}")
    if status in ("crashed", "interrupted"):
        causes.append(status)
        evidence.append(f"{status}: {row.get('error') or 'no final row from the run itself'}")
    if not causes:
        causes.append("unexplained")
        attempts = (row.get("verification") or {}).get("attempts") or []
        evidence.append(f"status {status}; last probe: {attempts[-1].get('reason') if attempts else '-'}; "
                        f"agent said: {str(row.get('agent_message') or '').split('```')[0].strip()[:160]!r}")
    ordered = sorted(set(causes), key=CAUSES.index)
    return RunFailure(run_id=str(row.get("run_id")), scenario=str(row.get("scenario")), status=status,
                      cause=ordered[0], causes=ordered, skill=_skill(row), fault_class=truth,
                      evidence=evidence, failing_commands=failing[:5], rejected=rejected,
                      decoys_changed=decoys, reported=reported, schema_version=row.get("schema_version"))


# --- proposals -----------------------------------------------------------------------------------


def skill_for_class(fault_class: str | None, skills: dict) -> str | None:
    if not fault_class:
        return None
    name = fault_class.replace("_", "-")
    return name if name in skills else None


def _note_lines(skill: str, failures: list[RunFailure], skills: dict) -> list[str]:
    """The notes one skill should carry, from the failures that concern it."""
    lines: list[str] = []
    mine = [f for f in failures if f.skill == skill]
    missed = [f for f in failures if "wrong_diagnosis" in f.causes and skill_for_class(f.fault_class, skills) == skill
              and f.skill != skill]
    wrong_here = [f for f in mine if "wrong_diagnosis" in f.causes and skill_for_class(f.fault_class, skills) != skill]
    if missed:
        ids = ", ".join(f.run_id for f in missed[:5])
        tried = Counter(f.skill or "no skill" for f in missed)
        lines.append(f"- Missed in {len(missed)} run(s) ({ids}): the agent followed "
                     f"{', '.join(f'{k} ({v})' for k, v in tried.most_common())} instead. Make the first "
                     "Diagnose check read `targetctl logs` for this fault's signal before ruling it out.")
    if wrong_here:
        truths = Counter(f.fault_class or "unknown" for f in wrong_here)
        lines.append(f"- Followed in {len(wrong_here)} run(s) where the fault was "
                     f"{', '.join(f'`{k}` ({v})' for k, v in truths.most_common())}: when Diagnose finds no "
                     "fault of this kind, say so and hand over to the next candidate skill instead of "
                     "remediating or ending.")
    durable = [f for f in mine if "fix_not_durable" in f.causes]
    if durable:
        lines.append(f"- The fix did not survive a restart in {len(durable)} run(s) "
                     f"({', '.join(f.run_id for f in durable[:5])}). Verify: `targetctl restart`, then "
                     "`targetctl status` must still answer HTTP 200 before declaring the fix.")
    incomplete = [f for f in mine if "fix_incomplete" in f.causes]
    if incomplete:
        detail = next((e for f in incomplete for e in f.evidence if e.startswith("oracle:")), "")
        lines.append(f"- The service answered but the cause was still present in {len(incomplete)} run(s)"
                     + (f" ({detail})" if detail else "") + ". Re-run Diagnose after Remediate; it must report "
                     "the fault gone, not only a healthy probe.")
    collateral = [f for f in mine if "collateral" in f.causes]
    if collateral:
        decoys = sorted({d for f in collateral for d in f.decoys_changed})
        lines.append(f"- Collateral in {len(collateral)} run(s): changed {', '.join(f'`{d}`' for d in decoys[:5]) or 'files outside the fix'}. "
                     "Change only the one entity Diagnose names; never a glob or a whole directory.")
    gated = [f for f in mine if "gate_rejection" in f.causes]
    if gated:
        commands = Counter(str(r["command"]) for f in gated for r in f.rejected)
        shown = ", ".join(f"`{c[:80]}`" for c, _ in commands.most_common(3)) or "(policy violations)"
        lines.append(f"- Rejected by the safety gate in {len(gated)} run(s): {shown}. Use the skill's own "
                     "remediate script or a narrower command on the named entity (MEDIUM risk at most).")
    budget = [f for f in mine if "budget" in f.causes]
    if budget:
        cut = Counter(str(c) for f in budget for e in f.evidence for c in re.findall(r"`([^`]+)` cut by", e))
        lines.append(f"- Ran out of budget in {len(budget)} run(s)"
                     + (f"; commands cut by the step timeout: {', '.join(f'`{c}`' for c in cut)}" if cut else "")
                     + ". Put the decisive check first and never run a command that waits without a bound "
                     "(use `timeout N` or a count).")
    errors = [f for f in mine if "command_errors" in f.causes]
    if errors:
        failing = Counter((str(c["command"]), c["exit_code"]) for f in errors for c in f.failing_commands)
        shown = "; ".join(f"`{c[:80]}` exited {code} ({n}x)" for (c, code), n in failing.most_common(3))
        lines.append(f"- Commands failed in {len(errors)} run(s): {shown}. Check the command against the "
                     "service's real layout (Diagnose's JSON names the paths) before running it.")
    return lines


def _proposed_text(current: str, notes: list[str], source: str) -> str:
    section = "\n".join([NOTES_HEADING, "", f"_Proposed by `scripts/failure_analysis.py` from {source}; "
                         "review before merging._", "", *notes]) + "\n"
    if _NOTES.search(current):
        return _NOTES.sub(lambda _: section + "\n", current).rstrip() + "\n"
    return current.rstrip() + "\n\n" + section


def propose(failures: list[RunFailure], skills: dict, source: str, repo_root: Path) -> dict[str, dict]:
    """skill -> {"notes", "diff", "proposed"} for every skill the failures say something about."""
    out: dict[str, dict] = {}
    for name, info in skills.items():
        notes = _note_lines(name, failures, skills)
        if not notes:
            continue
        current = info.path.read_text(encoding="utf-8")
        proposed = _proposed_text(current, notes, source)
        rel = info.path.relative_to(repo_root) if info.path.is_relative_to(repo_root) else info.path
        diff = "".join(difflib.unified_diff(current.splitlines(keepends=True), proposed.splitlines(keepends=True),
                                            fromfile=f"a/{rel}", tofile=f"b/{rel}"))
        out[name] = {"notes": notes, "diff": diff, "proposed": proposed, "path": str(rel)}
    return out


# --- the report ----------------------------------------------------------------------------------


@dataclass
class FailureReport:
    sources: list[str]
    rows: int
    skipped_lines: int
    failures: list[RunFailure]
    proposals: dict[str, dict]
    by_schema: dict[str, int]

    def groups(self) -> dict[str, list[RunFailure]]:
        groups: dict[str, list[RunFailure]] = {}
        for failure in self.failures:
            groups.setdefault(failure.cause, []).append(failure)
        return {c: groups[c] for c in CAUSES if c in groups}

    def to_dict(self) -> dict:
        return {"sources": self.sources, "rows": self.rows, "skipped_lines": self.skipped_lines,
                "by_schema_version": self.by_schema, "failed_runs": len(self.failures),
                "by_cause": {c: [f.run_id for f in runs] for c, runs in self.groups().items()},
                "failures": [asdict(f) for f in self.failures],
                "proposals": {k: {"path": v["path"], "notes": v["notes"], "diff": v["diff"]}
                              for k, v in self.proposals.items()},
                "applied": False}

    def markdown(self) -> str:
        lines = ["# Failure analysis", "",
                 f"{len(self.failures)} of {self.rows} runs failed or damaged something "
                 f"(sources: {', '.join(self.sources)}; schema versions {self.by_schema}; "
                 f"{self.skipped_lines} unreadable lines skipped).", ""]
        if not self.failures:
            lines.append("No failed, stuck, timed-out or collateral runs.")
        lines += ["| cause | runs | run ids |", "|---|---|---|"] if self.failures else []
        for cause, runs in self.groups().items():
            lines.append(f"| {CAUSE_TITLES[cause]} | {len(runs)} | {', '.join(f.run_id for f in runs[:8])}"
                         f"{' ...' if len(runs) > 8 else ''} |")
        for cause, runs in self.groups().items():
            lines += ["", f"## {CAUSE_TITLES[cause]} ({len(runs)})", ""]
            for f in runs:
                also = [c for c in f.causes if c != cause]
                lines.append(f"- **{f.run_id}** ({f.scenario}, status {f.status}, skill {f.skill or '-'}, "
                             f"fault {f.fault_class or '-'}){'; also ' + ', '.join(also) if also else ''}")
                lines += [f"  - {e}" for e in f.evidence[:6]]
        lines += ["", "## Proposed skill edits (not applied; review, then `git apply`)", ""]
        if not self.proposals:
            lines.append("None: no failure points at a skill.")
        for name, proposal in self.proposals.items():
            lines += [f"### {name}", "", "```diff", proposal["diff"].rstrip("\n"), "```", ""]
        return "\n".join(lines).rstrip() + "\n"


def analyse(trace_logs: list[str | Path], skills_dir: Path | None = None) -> FailureReport:
    from openhands_driver.paths import REPO_ROOT
    from openhands_driver.skills import load_skills
    from openhands_driver.trace import read_rows

    rows: list[dict] = []
    skipped = 0
    for path in trace_logs:
        read = read_rows(path)
        rows += read
        skipped += read.skipped_lines
    by_schema = dict(Counter(str(r.get("schema_version")) for r in rows))
    failures = [f for f in map(classify, rows) if f is not None]
    skills = load_skills(skills_dir) if skills_dir else load_skills()
    source = ", ".join(Path(p).name for p in trace_logs)
    return FailureReport(sources=[str(p) for p in trace_logs], rows=len(rows), skipped_lines=skipped,
                         failures=failures, proposals=propose(failures, skills, source, REPO_ROOT),
                         by_schema=by_schema)


def write(report: FailureReport, out_dir: str | Path) -> dict[str, str]:
    """failures.md, failures.json, skills.diff and proposed SKILL.md copies under ``out_dir``."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "failures.md", "json": out / "failures.json"}
    paths["markdown"].write_text(report.markdown(), encoding="utf-8")
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    if report.proposals:
        paths["diff"] = out / "skills.diff"
        paths["diff"].write_text("".join(p["diff"] for p in report.proposals.values()), encoding="utf-8")
        for name, proposal in report.proposals.items():
            target = out / "proposed" / name / "SKILL.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(proposal["proposed"], encoding="utf-8")
    return {k: str(v) for k, v in paths.items()}
