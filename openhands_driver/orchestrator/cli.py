"""``scripts/fanout_orchestrated_remote.py``: the fan-out flags plus the workers' -> OrchestratorConfig
-> ``run_orchestrated`` (or its dry run) -> JSON report + exit code. No SDK import here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from openhands_driver.errors import UserError, error_lines
from openhands_driver.fanout.cli import EXIT_INTERRUPTED, build_parser, config_from_args
from openhands_driver.orchestrator.engine import OrchestratorConfig

VARIANT = "orchestrated"


def parser(prog: str | None = None, description: str | None = None):
    p = build_parser(VARIANT, prog, description)
    w = p.add_argument_group("workers (OpenHands agent servers; see README, Orchestrator and workers)")
    w.add_argument("--workers", type=int, default=None, metavar="N",
                   help="start N worker containers on a bridge network of their own (default: 2)")
    w.add_argument("--worker", action="append", default=[], metavar="URL[,URL...]",
                   help="use agent servers that already run instead (repeatable or comma-separated; "
                        "their key: SESSION_API_KEY or SRE_AGENT_SERVER_API_KEY)")
    w.add_argument("--concurrency", type=int, default=None, metavar="N",
                   help="incidents at once: without --workers/--worker, N workers with one slot each "
                        "(the reference design's flag; default: 2 workers)")
    w.add_argument("--slots-per-worker", type=int, default=1, metavar="K",
                   help="incidents one worker runs at once (default: %(default)s)")
    w.add_argument("--agent-image", default=None, metavar="IMAGE",
                   help="worker image (default: build deploy/worker/Dockerfile offline, tag sre-worker:src-<hash>)")
    w.add_argument("--worker-memory", default="1g", metavar="SIZE",
                   help="memory limit of each started worker (default: %(default)s; 'none' = no limit)")
    w.add_argument("--brain-host", default=None, metavar="ADDR",
                   help="address the offline brain listens on, reachable from the workers (default: the "
                        "bridge gateway for started workers, 127.0.0.1 for --worker)")
    w.add_argument("--keep-artifacts", action="store_true",
                   help="keep the worker containers and their network after the run (removed otherwise, "
                        "and by scripts/janitor.py after a crash)")
    return p


def config_from(args) -> OrchestratorConfig:
    urls = [u.strip() for value in args.worker for u in value.split(",") if u.strip()]
    if urls and args.workers is not None:
        raise UserError("give --workers N (start workers here) or --worker URL (use running ones), not both")
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError(f"--concurrency must be >= 1 (got {args.concurrency})")
    workers = args.workers if args.workers is not None else (args.concurrency or 2)
    fanout = config_from_args(args, VARIANT)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise UserError(f"--worker {url!r}: use http(s)://HOST:PORT of an agent server")
    if not urls and workers < 1:
        raise UserError(f"--workers must be >= 1 (got {workers})")
    if args.slots_per_worker < 1:
        raise UserError(f"--slots-per-worker must be >= 1 (got {args.slots_per_worker})")
    memory = None if str(args.worker_memory).lower() == "none" else args.worker_memory
    return OrchestratorConfig(fanout=fanout, workers=workers, worker_urls=urls,
                              slots_per_worker=args.slots_per_worker, agent_image=args.agent_image,
                              keep_artifacts=args.keep_artifacts, brain_host=args.brain_host,
                              worker_memory=memory, api_key=os.environ.get("SESSION_API_KEY") if urls else None)


def main(argv: list[str] | None = None, *, prog: str | None = None, description: str | None = None) -> int:
    from openhands_driver.orchestrator.engine import run_orchestrated

    args = parser(prog, description).parse_args(argv)
    try:
        config = config_from(args)
        report = run_orchestrated(config, progress=not args.no_progress)
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted (workers removed)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.get("dry_run_proxy") or getattr(args, "simulate", False):
        print("DRY RUN: the plan only; no image, container, network, target or agent was started",
              file=sys.stderr)
        for row in report.get("rows", []):
            print(f"  #{row['index']:>3} {row['scenario_id']:<44} {row.get('severity') or '-':<3} -> "
                  f"{row.get('worker') or '-':<9} skill {row.get('skill_id') or '-'}", file=sys.stderr)
    text = json.dumps(report, indent=2, default=str)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"report: {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, default=str))
    return EXIT_INTERRUPTED if report.get("interrupted") else 0
