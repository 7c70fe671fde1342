"""A run's end: duration, redaction of what the caller sees, the markdown report, the trajectory
file and the one final trace row (through crash_safety.append_final)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from openhands_driver import crash_safety
from openhands_driver.config import RunConfig
from openhands_driver.records import RunResult
from openhands_driver.trace import redact, trace_row, utc_now


def finish(config: RunConfig, result: RunResult, started: float, secrets: list[str] = ()) -> RunResult:
    result.finished_at = utc_now()
    result.duration_s = round(time.monotonic() - started, 3)
    if secrets:  # nothing the caller prints or stores may hold a secret value
        redacted = redact(result.to_dict(with_excerpts=True), secrets)
        result.agent_message, result.error = redacted["agent_message"], redacted["error"]
        for action, clean in zip(result.actions, redacted["actions"]):
            action.command, action.output_excerpt = clean["command"], clean["output_excerpt"]
    if not config.disable_trace_log:
        row = trace_row(result, secrets)
        if not config.simulate:  # the run's story in markdown, next to the trace (what the row holds)
            from openhands_driver.reports import run_report

            try:
                result.report = str(run_report.write(row, config.trace_log))
                row["report"] = result.report
                if config.save_trajectory:
                    row["trajectory"] = str(write_trajectory(row, config.trace_log))
            except OSError as exc:  # conveniences; the trace row is the record
                print(f"[runner] report/trajectory not written: {exc}", file=sys.stderr)
        crash_safety.append_final(config.trace_log, row)
    return result


def write_trajectory(row: dict, trace_log: Path) -> Path:
    """<trace dir>/<run_id>.jsonl: the run's actions (redacted, as in its trace row), one per line."""
    import json

    path = Path(trace_log).parent / f"{row['run_id']}.jsonl"
    lines = [json.dumps({"run_id": row["run_id"], "step": n, **action}, sort_keys=True, default=str)
             for n, action in enumerate(row.get("actions") or [], 1)]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
