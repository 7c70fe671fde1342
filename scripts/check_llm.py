#!/usr/bin/env python3
"""Does this model work with our runner? Stages A (connectivity), B (conversation), C (tool calls)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.errors import UserError, error_lines  # noqa: E402
from openhands_driver.model import resolve_model  # noqa: E402
from openhands_driver.paths import ARTIFACTS_DIR  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__)
    p.add_argument("--model", default=None, help="litellm model id (default: $LLM_MODEL)")
    p.add_argument("--llm-base-url", default=None, help="OpenAI-compatible endpoint")
    p.add_argument("--env-file", type=Path, default=None, help=".env file to read keys from (default: ./.env)")
    p.add_argument("--timeout-s", type=int, default=60, help="per-stage time limit in seconds (default: %(default)s)")
    p.add_argument("--output-dir", type=Path, default=ARTIFACTS_DIR / "llm_checks",
                   help="where the check's JSON report is written (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = p.parse_args(argv)
    try:
        config = resolve_model(args.model, args.llm_base_url, env_file=args.env_file, timeout_s=args.timeout_s)
        if not config.model:
            raise UserError("no model to check: pass --model or set LLM_MODEL")
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return 2
    from openhands_driver.llm_check import check_model, save_report

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the report
        report = check_model(config)
    saved = save_report(report, args.output_dir)
    if args.json:
        print(json.dumps({**report.to_dict(), "saved_to": str(saved)}))
    else:
        for s in report.stages:
            verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[s.passed]
            extra = f" [{s.category}] {s.error}" if s.error else (f" {s.detail}" if s.detail else "")
            print(f"{s.stage} {verdict:4} {s.duration_s:6.2f}s  {s.name}{extra}")
        print(f"report saved to {saved}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
