"""The fan-out scripts' command line: flags -> FanoutConfig -> engine (or dry run) -> JSON + exit code.

One parser serves every script (``scripts/fanout_itbench.py``, ``fanout_isolated.py``,
``fanout_orchestrated_remote.py`` (+ its own flags, ``openhands_driver/orchestrator/cli.py``),
``benchmark_itbench_real.py``, ``benchmark_itbench_sample.py``); each script fixes what it is about
(sequential, dry run, remote). Importing this module does not import the SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from openhands_driver import verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError, error_lines
from openhands_driver.fanout.records import FanoutConfig
from openhands_driver.paths import DEFAULT_TRACE_LOG, REPO_ROOT
from openhands_driver.sandbox import MODES as SANDBOX_MODES
from openhands_driver.strategy import MODES, STRATEGY_SOURCES

ITBENCH_DATA = REPO_ROOT / "training_data" / "atlas_sre_scenarios.json"
EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130
VARIANTS = ("fanout", "isolated", "sequential", "sample", "orchestrated")


def build_parser(variant: str = "fanout", prog: str | None = None, description: str | None = None,
                 training_data: Path = ITBENCH_DATA):
    p = argparse.ArgumentParser(allow_abbrev=False, prog=prog, description=description)
    p.add_argument("--training-data", type=Path, default=training_data,
                   help="scenario file (default: %(default)s)")
    p.add_argument("--sample-size", type=int, default=None,
                   help="run a seeded random sample of N incidents (default: all of them)")
    p.add_argument("--seed", type=int, default=0, help="sample / arrival seed (default: %(default)s)")
    p.add_argument("--scenarios", default=None, metavar="ID,ID,...",
                   help="run exactly these scenario ids, in order (repeats allowed) instead of a sample")
    p.add_argument("--incidents", type=int, default=None, metavar="N",
                   help="run N incidents: a seeded order of the runnable ones, repeated when N exceeds "
                        "them (blind: each repeat is another variant)")
    if variant not in ("sequential", "sample", "orchestrated"):
        p.add_argument("--concurrency", type=int, default=3,
                       help="incidents running at once, in this one process (default: %(default)s)")
    if variant != "sample":
        p.add_argument("--run-timeout-s", type=float, default=None,
                       help="stop an incident's agent after S seconds (status timeout); its target is "
                            "cleaned up, the others go on")
        p.add_argument("--subprocess-timeout-s", type=float, default=None, metavar="S",
                       help="bound one incident as a whole, start-up and clean-up included: its agent "
                            "gets what is left after start-up minus the proof's time, and an incident "
                            "that still ends past S is a timeout row")
    if variant in ("fanout", "orchestrated"):
        p.add_argument("--simulate", action="store_true",
                       help="dry-run proxy: routing and plans only; starts nothing, claims nothing")
    if variant not in ("sample", "orchestrated"):
        p.add_argument("--backend", choices=("local", "docker"), default="local",
                       help="where each incident's target runs (default: %(default)s)")
    if variant in ("fanout", "isolated"):
        q = p.add_argument_group("continuous intake (a simulated incident queue)")
        q.add_argument("--continuous", action="store_true",
                       help="incidents arrive over time (Poisson) instead of all at once")
        q.add_argument("--duration-s", type=float, default=60.0, help="how long incidents arrive (default: %(default)s)")
        q.add_argument("--arrival-rate", type=float, default=6.0,
                       help="mean arrivals per MINUTE (default: %(default)s)")
        r = p.add_argument_group("OpenHands agent servers")
        r.add_argument("--remote-host", action="append", default=[], metavar="URL",
                       help="run conversations on this agent server (repeatable or comma-separated; "
                            "incidents go round-robin)" + (" — required unless --local-servers" if
                                                            variant == "isolated" else ""))
        if variant == "isolated":
            r.add_argument("--local-servers", type=int, default=0, metavar="N",
                           help="start N agent servers on 127.0.0.1 for this run (stopped at the end)")
    b = p.add_argument_group("blind incidents (see README, Blind incidents)")
    b.add_argument("--blind", action="store_true",
                   help="symptom-level alerts only; each incident's variant drawn from a seed")
    b.add_argument("--variant-seeds", default=None, metavar="A-B|N,...",
                   help="with --blind: run every incident once per seed (default: one seed each, "
                        "derived from --seed)")
    b.add_argument("--soak-s", type=float, default=3.0,
                   help="durability soak after the runner's restart (default: %(default)s)")
    a = p.add_argument_group("agent")
    a.add_argument("--mode", choices=MODES, default="optimized",
                   help="optimized: follow the routed skill; baseline: generic triage (default: %(default)s)")
    a.add_argument("--strategy-source", choices=STRATEGY_SOURCES, default=None,
                   help="where the optimized strategy comes from (default: skills; optimizer with "
                        "--optimizer gepa|iterative)")
    a.add_argument("--optimizer", choices=("gepa", "iterative", "manual"), default=None,
                   help="the optimizer lane: gepa/iterative run that optimizer's saved result "
                        "(optimize.py --optimizer X writes it), manual the hand-written triage runbook")
    if variant != "sample":
        a.add_argument("--model", default=None, help="a litellm model id (default: the offline runbook brain)")
        a.add_argument("--llm-base-url", default=None, help="an OpenAI-compatible endpoint for --model")
        a.add_argument("--max-iterations", type=int, default=40, help="agent step budget per incident (default: %(default)s)")
        a.add_argument("--verify-interval-s", type=float, default=verifier.DEFAULT_INTERVAL_S,
                       help="seconds between verifier probes (default: %(default)s)")
        a.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG, help="JSONL trace file (default: %(default)s)")
        a.add_argument("--disable-trace-log", action="store_true", help="append no trace rows")
        a.add_argument("--log-dir", type=Path, default=None,
                       help="per-incident console logs (default: artifacts/fanout/<fanout id>/)")
        a.add_argument("--no-progress", action="store_true", help="no live view on stderr")
        a.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto",
                       help="where each agent's commands run: bubblewrap (auto: where it works, else "
                            "stop with the package to install) or none (unconfined, warned and "
                            "recorded) (default: %(default)s)")
    p.add_argument("--output", type=Path, default=None, help="write the JSON report here")
    p.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    return p


def optimizer_lane(optimizer: str | None, strategy_source: str | None, simulate: bool):
    """(strategy source, optimizer result file) for ``--optimizer``; a missing saved result is a user
    error naming the command that creates it, or, in a dry run, a note and the skills instead."""
    from openhands_driver.optimizer.result import DEFAULT_OPTIMIZER_RESULT, create_command, default_output

    if optimizer is None:
        return strategy_source or "skills", DEFAULT_OPTIMIZER_RESULT
    if optimizer == "manual":
        return strategy_source or "manual", DEFAULT_OPTIMIZER_RESULT
    path = default_output(optimizer)
    if path.is_file():
        return strategy_source or "optimizer", path
    fix = create_command(path, optimizer)
    if simulate:
        print(f"note: --optimizer {optimizer}: no saved result at {path} yet (create it with: {fix}); "
              "this dry run plans the skills instead", file=sys.stderr)
        return strategy_source or "skills", DEFAULT_OPTIMIZER_RESULT
    raise UserError(f"--optimizer {optimizer}: no saved result at {path}; create it with: {fix}")


def config_from_args(args: argparse.Namespace, variant: str = "fanout") -> FanoutConfig:
    from openhands_driver.remote import parse_hosts

    simulate = variant == "sample" or getattr(args, "simulate", False)
    strategy_source, optimizer_result = optimizer_lane(args.optimizer, args.strategy_source, simulate)
    run = RunConfig(
        optimizer_result=optimizer_result,
        training_data=args.training_data, simulate=simulate,
        backend=getattr(args, "backend", "local"), mode=getattr(args, "mode", "optimized"),
        strategy_source=strategy_source,
        model=getattr(args, "model", None), llm_base_url=getattr(args, "llm_base_url", None),
        max_iterations=getattr(args, "max_iterations", 40),
        verify_interval_s=getattr(args, "verify_interval_s", verifier.DEFAULT_INTERVAL_S),
        run_timeout_s=getattr(args, "run_timeout_s", None),
        incident_timeout_s=getattr(args, "subprocess_timeout_s", None),
        trace_log=getattr(args, "trace_log", DEFAULT_TRACE_LOG),
        disable_trace_log=getattr(args, "disable_trace_log", False) or simulate,
        blind=args.blind, soak_s=args.soak_s, sandbox=getattr(args, "sandbox", "auto"))
    problems = [f"--soak-s must be >= 0, got {args.soak_s}"] if args.soak_s < 0 else []
    if run.max_iterations < 1:
        problems.append(f"--max-iterations must be >= 1, got {run.max_iterations}")
    if not run.verify_interval_s > 0:
        problems.append(f"--verify-interval-s must be > 0, got {run.verify_interval_s}")
    if args.sample_size is not None and args.sample_size < 1:
        problems.append(f"--sample-size must be >= 1, got {args.sample_size}")
    if problems:
        raise UserError("\n".join(problems))
    if args.variant_seeds and not args.blind:
        raise UserError("--variant-seeds goes with --blind")
    if args.variant_seeds and not args.scenarios:
        raise UserError("--variant-seeds runs each of --scenarios once per seed: give --scenarios too")
    from openhands_driver.fanout.blind import parse_seeds

    variant_seeds = parse_seeds(args.variant_seeds) if args.variant_seeds else None
    concurrency = 1 if variant == "sequential" else (getattr(args, "concurrency", 1) or 1)
    if concurrency < 1:
        raise UserError(f"--concurrency must be >= 1 (got {concurrency})")
    if run.run_timeout_s is not None and run.run_timeout_s <= 0:
        raise UserError(f"--run-timeout-s must be > 0 (got {run.run_timeout_s})")
    hosts = parse_hosts(getattr(args, "remote_host", []))
    if variant == "isolated" and not hosts and not getattr(args, "local_servers", 0):
        raise UserError("fanout_isolated.py needs --remote-host URL (repeatable) or --local-servers N")
    scenario_ids = [s.strip() for s in args.scenarios.split(",") if s.strip()] if args.scenarios else None
    if args.incidents is not None and (args.sample_size is not None or args.scenarios):
        raise UserError("--incidents N picks the incidents itself: not with --sample-size or --scenarios")
    if args.incidents is not None and args.incidents < 1:
        raise UserError(f"--incidents must be >= 1, got {args.incidents}")
    if run.incident_timeout_s is not None and not run.incident_timeout_s > 0:
        raise UserError(f"--subprocess-timeout-s must be > 0, got {run.incident_timeout_s}")
    return FanoutConfig(run=run, scenario_ids=scenario_ids, sample_size=args.sample_size, seed=args.seed,
                        incidents=args.incidents,
                        variant_seeds=variant_seeds,
                        concurrency=concurrency, remote_hosts=hosts,
                        continuous=getattr(args, "continuous", False),
                        duration_s=getattr(args, "duration_s", 60.0),
                        arrival_rate=getattr(args, "arrival_rate", 6.0), log_dir=getattr(args, "log_dir", None))


def execute(config: FanoutConfig, *, progress: bool = True, local_servers: int = 0) -> dict:
    """Dry run or real fan-out (optionally on N agent servers started here for the run)."""
    if config.simulate:
        from openhands_driver.fanout.simulate import simulate
        from openhands_driver.progress import summary_table

        report = simulate(config)
        if progress:
            print(summary_table(report), file=sys.stderr)
        return report
    from openhands_driver.fanout.engine import run_fanout

    with contextlib.ExitStack() as stack:
        if local_servers:
            from openhands_driver.remote import LocalAgentServer

            print(f"[fanout] starting {local_servers} agent server(s) on 127.0.0.1 ...", file=sys.stderr,
                  flush=True)
            servers = [LocalAgentServer() for _ in range(local_servers)]
            for server in servers:
                stack.callback(server.stop)
                server.launch()
            for server in servers:  # they boot in parallel
                server.wait_ready()
            config.remote_hosts = [*config.remote_hosts, *(s.url for s in servers)]
        return run_fanout(config, progress=progress)


def main(argv: list[str] | None = None, *, variant: str = "fanout", prog: str | None = None,
         description: str | None = None, training_data: Path = ITBENCH_DATA) -> int:
    args = build_parser(variant, prog, description, training_data).parse_args(argv)
    try:
        config = config_from_args(args, variant)
        report = execute(config, progress=not getattr(args, "no_progress", False),
                         local_servers=getattr(args, "local_servers", 0))
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    text = json.dumps(report, indent=2, default=str)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"report: {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, default=str))
    return EXIT_INTERRUPTED if report.get("interrupted") else EXIT_OK
