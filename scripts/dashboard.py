#!/usr/bin/env python3
"""The read-only web dashboard over a trace log and benchmark/fan-out result files.

    export SRE_DASHBOARD_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    uv run python scripts/dashboard.py --trace-log artifacts/runs/trace_log.jsonl --port 8089
    # open http://127.0.0.1:8089/ and sign in with the token

The intake (scripts/serve.py) serves the same pages live, with approvals. Flags -> DashboardConfig ->
openhands_driver.dashboard.standalone.serve.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.errors import UserError  # noqa: E402
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="dashboard.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG, help="JSONL trace log (default: %(default)s)")
    p.add_argument("--results", type=Path, action="append", default=None, metavar="PATH",
                   help=f"benchmark/fan-out/scorecard JSON (file or directory); repeatable (default: {ARTIFACTS_DIR})")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    p.add_argument("--port", type=int, default=8089, help="listen port; 0 = a free one (default: %(default)s)")
    p.add_argument("--trace-url-template", default=None,
                   help="link to an external trace UI, with {run_id}, {incident_id}, {trace_id}")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="serve without a token (local demos only)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from openhands_driver.dashboard.standalone import DashboardConfig, serve, token_from_environment

    try:
        config = DashboardConfig(trace_log=args.trace_log, results=args.results or [ARTIFACTS_DIR],
                                 host=args.host, port=args.port, token=token_from_environment(),
                                 insecure_no_auth=args.insecure_no_auth,
                                 trace_url_template=args.trace_url_template)
        return serve(config)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
