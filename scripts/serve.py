#!/usr/bin/env python3
"""The alert intake service: webhooks in, deduplicated and prioritised incident runs out.

    export SRE_INTAKE_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    uv run python scripts/serve.py --demo-targets --port 8088
    curl -H "Authorization: Bearer $SRE_INTAKE_TOKEN" -H "Content-Type: application/json" -d '{"title": "checkout down",
         "service": "checkout-api", "scenario": "stale_lockfile", "priority": "P1"}' \
         http://127.0.0.1:8088/webhook/generic

Flags -> IntakeConfig -> openhands_driver.intake.service.serve (also usable from Python).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.errors import UserError, error_lines  # noqa: E402
from openhands_driver.intake import config as intake  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="serve.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="listen address (default: %(default)s)")
    p.add_argument("--port", type=int, default=8088, help="listen port; 0 = a free one (default: %(default)s)")
    p.add_argument("--db", type=Path, default=intake.DEFAULT_DB, help="SQLite database (default: %(default)s)")
    p.add_argument("--reports-dir", type=Path, default=None, help="markdown reports (default: next to --db)")
    p.add_argument("--services", type=Path, default=None,
                   help=f"service registry JSON (default: ${intake.ENV_REGISTRY})")
    p.add_argument("--demo-targets", action="store_true",
                   help="an alert's 'scenario' label/field starts a fresh local target with that fault")
    p.add_argument("--blind-demo-targets", action="store_true",
                   help="with --demo-targets: each demo target is a blind incident (a variant drawn "
                        "from a random seed; the agent sees only the alert as it arrived)")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help=f"serve without ${intake.ENV_TOKEN} (local demos only)")
    p.add_argument("--concurrency", type=int, default=2, help="runs at once (default: %(default)s)")
    p.add_argument("--ttl-s", type=float, default=3600.0, help="queued alerts expire after (default: %(default)s)")
    p.add_argument("--incident-token-budget", type=int, default=None, help="tokens per incident run")
    p.add_argument("--hourly-token-budget", type=int, default=None, help="tokens per rolling hour, all runs")
    p.add_argument("--token-estimate", type=int, default=None,
                   help="tokens a run is expected to use (default: mean of recent runs)")
    p.add_argument("--escalation-url", default=None,
                   help=f"PagerDuty Events API v2 URL or compatible (default: ${intake.ENV_ESCALATION_URL}); "
                        "routing key from $SRE_ESCALATION_ROUTING_KEY")
    p.add_argument("--shutdown-deadline-s", type=float, default=30.0,
                   help="on SIGTERM, in-flight runs may finish for this long, then are cancelled")
    p.add_argument("--training-data", type=Path, default=None, help="scenario catalog for demo targets")
    p.add_argument("--trace-log", type=Path, default=None, help="JSONL trace of the runs")
    p.add_argument("--max-iterations", type=int, default=40, help="agent step budget per run")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="where each agent's commands run: bubblewrap (auto: where it works, else refuse "
                        "to start, naming the package) or none (unconfined, warned and recorded) "
                        "(default: %(default)s)")
    p.add_argument("--require-confirmation-for-risk", choices=("LOW", "MEDIUM", "HIGH"), default=None,
                   help="actions at or above this risk wait for an operator's approval (dashboard buttons)")
    p.add_argument("--approval-timeout-s", type=float, default=600.0,
                   help="a command waiting for approval is rejected after this long (default: %(default)s)")
    p.add_argument("--trace-url-template", default=None,
                   help="dashboard link to an external trace UI, with {run_id}, {incident_id}, {trace_id}")
    p.add_argument("--results", type=Path, action="append", default=None, metavar="PATH",
                   help="benchmark/fan-out JSON reports (file or directory) for the dashboard; repeatable "
                        "(default: artifacts/)")
    p.add_argument("--http-threads", type=int, default=8,
                   help="worker threads of the HTTP server (waitress) (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
                   help="JSON log lines on stderr from this level; POST /ops/loglevel changes it later "
                        "(default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = intake.from_environment(
            host=args.host, port=args.port, db=args.db, reports_dir=args.reports_dir,
            services_file=args.services, demo_targets=args.demo_targets,
            blind_demo_targets=args.blind_demo_targets,
            insecure_no_auth=args.insecure_no_auth, concurrency=args.concurrency, ttl_s=args.ttl_s,
            incident_token_budget=args.incident_token_budget,
            hourly_token_budget=args.hourly_token_budget, token_estimate=args.token_estimate,
            escalation_url=args.escalation_url, shutdown_deadline_s=args.shutdown_deadline_s,
            training_data=args.training_data, trace_log=args.trace_log,
            max_iterations=args.max_iterations, sandbox=args.sandbox, confirm_risk=args.require_confirmation_for_risk,
            approval_timeout_s=args.approval_timeout_s, trace_url_template=args.trace_url_template,
            results=tuple(args.results) if args.results else None, http_threads=args.http_threads,
            log_level=args.log_level)
        from openhands_driver.intake.service import serve

        return serve(config)
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # internal: traceback to a log file whose path is printed
        from openhands_driver.crash_safety import internal_error_log

        print(f"internal error: {type(exc).__name__}: {exc}; traceback in {internal_error_log('serve')}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
