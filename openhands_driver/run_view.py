"""How a finished run reads: the verdict and its story on a terminal (colour with rich, plain when
piped or with NO_COLOR), stdout that survives a closed pipe, and the exit code of a RunResult."""

from __future__ import annotations

import sys

from openhands_driver.records import RunResult

EXIT_FIXED, EXIT_NOT_FIXED, EXIT_BAD_INPUT, EXIT_PAUSED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) ends the output quietly."""
    import os

    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit


def print_human(text: str, stream=None) -> None:
    """The result on a terminal in colour (rich); plain text when piped or with NO_COLOR."""
    import os

    stream = stream or sys.stdout
    if not (getattr(stream, "isatty", lambda: False)() and not os.environ.get("NO_COLOR")):
        print(text, file=stream)
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for i, line in enumerate(text.splitlines()):
        body = line.strip()
        style = ""
        if i == 0:
            style = ("bold green" if line.startswith(("RESOLVED", "NO FAULT", "FIXED", "DRY RUN"))
                     else "bold yellow" if line.startswith("INTERRUPTED") else "bold red")
        elif body.startswith("+") and not body.startswith("+++"):
            style = "green"
        elif body.startswith("-") and not body.startswith("---"):
            style = "red"
        elif body.startswith("@@"):
            style = "cyan"
        elif "FAILED" in body or "WRONG" in body:
            style = "red"
        console.print(Text(line, style=style))


def exit_code_for(result: RunResult) -> int:
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    if result.status == "paused":  # waiting for the operator (handoff.py)
        return EXIT_PAUSED
    if result.simulate:
        return EXIT_FIXED
    if result.resolved is not None:  # proven: verifier, mitigation, durability, collateral
        return EXIT_FIXED if result.resolved else EXIT_NOT_FIXED
    return EXIT_FIXED if result.service_up else EXIT_NOT_FIXED


def render_human(result: RunResult) -> str:
    if result.simulate:
        plan = result.plan or {}
        lines = [f"DRY RUN (nothing started, service_up: null) — {result.scenario}",
                 f"  routing : {result.routing['reason']}",
                 f"  strategy: {plan.get('strategy')} ({plan.get('runbook')})"]
        for phase, commands in (plan.get("steps") or {}).items():
            for command in commands:
                lines.append(f"  {phase:9}: {command}")
        return "\n".join(lines)
    if result.status == "paused":
        pause = result.pause or {}
        lines = [f"PAUSED after diagnosis — run {result.run_id} ({result.scenario}); the target is kept running "
                 f"and broken at {result.target.get('url')}",
                 f"  {result.step_count} steps; brain {result.brain}; conversation {result.conversation_id}"]
        lines += [f"  evidence: {e['command']} (exit {e['exit_code']})" for e in pause.get("evidence", [])]
        lines += [f"  proposed next action: {p['command']} (risk {p['risk']})" for p in pause.get("proposed", [])]
        lines.append(f"  resume with: {pause.get('resume_with')}")
        lines.append(f"  or stop the target: {result.target.get('stop_with')}")
        return "\n".join(lines)
    verdict = {True: "FIXED (verified)", False: "NOT FIXED", None: "not verified"}[result.service_up]
    if result.resolved is not None:
        verdict = "RESOLVED (proven)" if result.resolved else (
            "NOT RESOLVED (service answers, proof failed)" if result.service_up else "NOT RESOLVED")
    if (result.ground_truth or {}).get("fault_class") == "healthy" and result.resolved is not None:
        verdict = ("NO FAULT (confirmed healthy; nothing needed fixing, nothing was broken)" if result.resolved
                   else "NOT RESOLVED (the service was healthy; see the proof below)")
    if result.status == "interrupted":
        verdict = "INTERRUPTED (stopped by a signal; the target was cleaned up)"
    subject = "blind incident" if result.blind else f"scenario {result.scenario}"
    lines = [f"{verdict} — {subject}, run {result.run_id}",
             f"  status {result.status}; {result.step_count} steps; brain {result.brain}; "
             f"skill {result.skill_id or ', '.join(result.skills_used or []) or '-'}; {result.duration_s}s"]
    if result.verification:
        oks = sum(a["ok"] for a in result.verification["attempts"])
        lines.append(f"  verifier: {oks}/{len(result.verification['attempts'])} probes healthy "
                     f"(need {result.verification['consecutive_required']} in a row)")
        identity = result.verification.get("identity")
        if identity:
            lines.append(f"  identity: {'ok' if identity.get('ok') else 'FAILED'} — "
                         f"{identity.get('reason')}")
    lines += _proof_lines(result)
    lines += _change_lines(result)
    if result.mttd_s is not None or result.mttr_s is not None:
        lines.append(f"  time: diagnosed after {result.mttd_s if result.mttd_s is not None else '-'}s, "
                     f"resolved after {result.mttr_s if result.mttr_s is not None else '-'}s")
    if result.agent_message:  # its diagnosis block is shown above, scored
        said = result.agent_message.split("```")[0].strip() or result.agent_message.strip()
        lines.append(f"  agent said: {said}")
    if result.error:
        lines.append(f"  error: {result.error}")
    if result.target.get("kept"):
        lines.append(f"  target kept at {result.target.get('url')}; stop it with: "
                     f"{result.target.get('stop_with')}")
    if result.trace_log:
        lines.append(f"  trace: {result.trace_log}")
    if result.report:
        lines.append(f"  report: {result.report}")
    return "\n".join(lines)


def _change_lines(result: RunResult) -> list[str]:
    """What the agent changed on the service: each file, as a diff where its text is known."""
    record = result.collateral or {}
    changed = record.get("changed") or []
    if not changed:
        return ["  changed: nothing on the service's files"] if result.collateral is not None else []
    shown = {d["path"]: d for d in record.get("diffs") or []}
    lines = [f"  changed: {len(changed)} file(s)"]
    for item in changed[:10]:
        lines.append(f"    {item['change']}: {item['path']}")
        diff = shown.get(item["path"], {}).get("diff")
        if diff:
            lines += ["      " + line for line in diff.splitlines()[2:]]  # the ---/+++ header is the path
    return lines


def _proof_lines(result: RunResult) -> list[str]:
    lines = []
    truth = result.ground_truth
    if truth:
        seed = truth.get("variant_seed")
        lines.append(f"  ground truth: {truth.get('fault_class')} on {truth.get('entity') or '-'}"
                     + (f" (variant seed {seed})" if seed is not None else ""))
    diagnosis = result.diagnosis
    if diagnosis is not None:
        reported = diagnosis.get("reported") or {}
        said = (f"{reported.get('fault_class')} on {reported.get('entity') or '-'}" if reported
                else "no structured diagnosis")
        lines.append(f"  diagnosis: {'correct' if diagnosis.get('correct') else 'WRONG'} — {said}")
        for evidence in (reported.get("evidence") or [])[:4]:
            lines.append(f"    evidence: {str(evidence)[:160]}")
    for name in ("mitigation", "durability", "collateral"):
        record = getattr(result, name)
        if record is None:
            continue
        detail = ""
        if name == "mitigation":
            failed = [c["check"] for c in record.get("checks", []) if not c.get("passed")]
            detail = "; failed: " + "; ".join(failed) if failed else ""
        elif name == "durability":
            detail = f" ({record.get('note') or record.get('error') or str(len(record.get('probes', []))) + ' probes after restart'})"
        elif record.get("outside_fix"):
            detail = "; changed: " + ", ".join(c["path"] for c in record["outside_fix"][:5])
        lines.append(f"  {name}: {'passed' if record.get('passed') else 'FAILED'}{detail}")
    return lines
