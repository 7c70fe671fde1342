#!/usr/bin/env python3
"""Why runs failed: group failed, stuck, timed-out and collateral runs by cause, with evidence, and
propose skill edits as reviewable diffs (never applied).

    uv run python scripts/failure_analysis.py                                  # artifacts/runs/trace_log.jsonl
    uv run python scripts/failure_analysis.py --trace-log a.jsonl --trace-log b.jsonl --json
    uv run python scripts/failure_analysis.py --output artifacts/failures      # failures.md/.json, skills.diff

Reads every trace schema version. Exit 0 (also when runs failed: the report is the product), 2 on
bad input.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.paths import DEFAULT_TRACE_LOG  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="failure_analysis.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--trace-log", type=Path, action="append", default=None,
                   help=f"trace log to read (repeatable; default: {DEFAULT_TRACE_LOG})")
    p.add_argument("--skills-dir", type=Path, default=None, help="skills to propose edits for (default: .agents/skills)")
    p.add_argument("--output", type=Path, default=None, metavar="DIR",
                   help="write failures.md, failures.json, skills.diff and proposed/<skill>/SKILL.md there")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of markdown")
    args = p.parse_args(argv)
    logs = args.trace_log or [DEFAULT_TRACE_LOG]
    missing = [str(path) for path in logs if not path.is_file()]
    if missing:
        print(f"error: no trace log at {', '.join(missing)}; pass --trace-log FILE (run_demo.py writes "
              f"{DEFAULT_TRACE_LOG})", file=sys.stderr)
        return 2
    from openhands_driver.reports.failures import analyse, write

    report = analyse(logs, args.skills_dir)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.markdown())
    if args.output:
        written = write(report, args.output)
        print(f"wrote {', '.join(written.values())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
