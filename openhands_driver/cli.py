"""``run_demo.py``'s command line: flags -> RunConfig -> run_incident -> output + exit code.

Importing this module must stay cheap (no SDK): ``--help``, ``--simulate`` and bad input return
in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from openhands_driver import verifier
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError, error_lines
from openhands_driver.optimizer.result import DEFAULT_OPTIMIZER_RESULT
from openhands_driver.paths import DEFAULT_TRACE_LOG
from openhands_driver.run_view import (  # noqa: F401  (re-exported: demo.py, lookup.py, tests)
    EXIT_BAD_INPUT, EXIT_FIXED, EXIT_INTERRUPTED, EXIT_NOT_FIXED, EXIT_PAUSED, emit, exit_code_for, print_human,
    render_human)
from openhands_driver.strategy import MODES, STRATEGY_SOURCES

DEFAULT_SCENARIO = "stale_lockfile"


class _Parser(argparse.ArgumentParser):
    """argparse, but with ``--json`` a bad flag still prints exactly one JSON object on stdout."""

    def error(self, message: str):
        if "--json" in sys.argv[1:] or "--json" in (getattr(self, "_argv", None) or ()):
            print(json.dumps(error_object(f"{self.prog}: {message}", EXIT_BAD_INPUT)))
        return super().error(message)


def error_object(message: str, code: int) -> dict:
    """What ``--json`` prints when the run never started (bad input, internal error)."""
    return {"status": "error", "error": message, "exit_code": code}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(allow_abbrev=False,
        prog="run_demo.py",
        description="Run one SRE incident: start a broken target, let an OpenHands agent fix it, "
                    "verify with independent HTTP probes, append a trace row.")
    p.add_argument("--scenario", default=None,
                   help=f"scenario id (default: {DEFAULT_SCENARIO}; with --target-root: the one the "
                        "service's etc/service.json names)")
    p.add_argument("--training-data", type=Path, default=None,
                   help="scenario file like training_data/scenarios.json (default: that file)")
    p.add_argument("--mode", choices=MODES, default="optimized",
                   help="optimized: follow the routed skill; baseline: generic triage (default: %(default)s)")
    p.add_argument("--strategy-source", choices=STRATEGY_SOURCES, default=None,
                   help="where the optimized strategy comes from (default: skills; optimizer with "
                        "--optimizer gepa|iterative, manual with --optimizer manual)")
    p.add_argument("--optimizer-result", type=Path, default=DEFAULT_OPTIMIZER_RESULT, metavar="PATH",
                   help="with --strategy-source optimizer: the optimize.py result file whose best "
                        "candidate to run (default: %(default)s)")
    p.add_argument("--skill-id", default=None, help="force a skill instead of routing")
    p.add_argument("--optimizer", choices=("gepa", "iterative", "manual"), default=None,
                   help="the optimizer lane: gepa/iterative run that optimizer's saved result "
                        "(optimize.py --optimizer X writes it; sets --strategy-source optimizer unless "
                        "given), manual the hand-written triage runbook")
    p.add_argument("--skill-file", type=Path, default=None, metavar="PATH",
                   help="run with this (e.g. distilled) SKILL.md: it replaces the skill of its name in "
                        "the run's copy and is followed; fallback order skill -> optimizer hint -> baseline")
    p.add_argument("--save-trajectory", action="store_true",
                   help="also write the run's actions, one JSON line each, to <trace dir>/<run_id>.jsonl")
    blind = p.add_argument_group("blind incidents (symptoms only; see README, Blind incidents)")
    blind.add_argument("--blind", action="store_true",
                       help="page the agent with a symptom-level alert only: no scenario id, fault "
                            "class or runbook in anything it can read; routing from what it sees")
    blind.add_argument("--variant-seed", type=int, default=None, metavar="N",
                       help="draw the incident's variant (paths, names, values, decoys, service "
                            "name) from seed N; same seed, same incident (blind default: random)")
    blind.add_argument("--soak-s", type=float, default=3.0, metavar="S",
                       help="durability: after the verifier passes the runner restarts the target "
                            "and probes it for S seconds (default 3)")
    p.add_argument("--backend", choices=("local", "docker", "ssh"), default="local",
                   help="where the target runs: local = a process group, docker = a container, ssh = "
                        "on another host over SSH (--target-host, --identity-file) (default: %(default)s)")
    ssh = p.add_argument_group("ssh backend (the system OpenSSH client; host-key checking always on)")
    ssh.add_argument("--target-host", default=None, metavar="USER@HOST[:PORT]",
                     help="ssh: the host the target service is provisioned and run on (needs python3 >= "
                          "3.9 with Flask and tar there); the verifier probes this host's address")
    ssh.add_argument("--identity-file", type=Path, default=None, metavar="FILE",
                     help="ssh: the private key to log in with (mode 0600, no passphrase); used only by "
                          "this machine's ssh, never copied, logged or written to a trace row")
    ssh.add_argument("--known-hosts", type=Path, default=None, metavar="FILE",
                     help="ssh: the known_hosts file that must hold the host's key (default: your "
                          "~/.ssh/known_hosts); an unknown or changed key stops the run (exit 2)")
    p.add_argument("--runtime-image", default=None,
                   help="docker: target image (default: openhands-gepa-sre-target:latest, built "
                        "from target_service/ when missing)")
    p.add_argument("--target-container", default=None, metavar="NAME",
                   help="docker: attach to this running container instead of creating one "
                        "(never removed by the run)")
    p.add_argument("--target-root", type=Path, default=None, metavar="DIR",
                   help="local: attach to the running service whose service root is DIR (needs "
                        "--target-url; nothing is injected, started, stopped or removed)")
    p.add_argument("--target-url", default=None, metavar="URL",
                   help="with --target-container: health URL of that container's service "
                        "(default: derived from the container); with --target-root: the health URL "
                        "of that service (required)")
    p.add_argument("--keep-target", action="store_true",
                   help="leave the target running and print how to reach and stop it")
    p.add_argument("--list", action="store_true",
                   help="list the scenarios, fault classes and skills (one line each) and exit")
    p.add_argument("--show", default=None, metavar="RUN_ID",
                   help="tell a past run's story from its trace row (--trace-log) and exit")
    p.add_argument("--simulate", action="store_true",
                   help="dry run: route and print the plan; start nothing; service_up is null")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout (human output goes to stderr)")
    p.add_argument("--trace-log", type=Path, default=DEFAULT_TRACE_LOG, help="JSONL trace file")
    p.add_argument("--disable-trace-log", action="store_true", help="do not append a trace row")
    p.add_argument("--run-id", default=None, help="run id (default: generated)")
    handoff = p.add_argument_group("operator handoff (see README, Pause and resume)")
    handoff.add_argument("--pause-after-diagnosis", action="store_true",
                         help="stop before the first change the agent proposes: exit 3, target kept broken, "
                              "conversation persisted under artifacts/runs/state/RUN_ID")
    handoff.add_argument("--resume-from", default=None, metavar="RUN_ID|DIR",
                         help="continue a paused run's conversation (its proposed actions approved)")
    handoff.add_argument("--note", default=None, help="operator note shown to the resumed agent")
    handoff.add_argument("--state-root", type=Path, default=None, metavar="DIR",
                         help="where paused runs keep their state (default: artifacts/runs/state)")
    p.add_argument("--audit-key", type=Path, default=None, metavar="FILE",
                   help="sign trace rows with this ed25519 key (0600 PEM; default: $SRE_AUDIT_KEY; "
                        "none: chained, unsigned; see scripts/verify_audit.py)")
    p.add_argument("--verify-consecutive-successes", type=int, default=verifier.DEFAULT_CONSECUTIVE,
                   metavar="N", help="healthy probes in a row the verifier needs (default: %(default)s)")
    p.add_argument("--verify-max-attempts", type=int, default=verifier.DEFAULT_MAX_ATTEMPTS, metavar="N",
                   help="probes the verifier may make in all (default: %(default)s)")
    p.add_argument("--verify-interval-s", type=float, default=verifier.DEFAULT_INTERVAL_S, metavar="S",
                   help="seconds between verifier probes, > 0 (default: %(default)s)")
    p.add_argument("--max-iterations", type=int, default=40, metavar="N",
                   help="agent step budget, >= 1 (default: %(default)s)")
    p.add_argument("--verbose", action="store_true", help="show the SDK's own logs")
    brain = p.add_argument_group("brain (default: the offline runbook policy, no key needed)")
    brain.add_argument("--model", default=None,
                       help="any litellm model id (default: $LLM_MODEL); key from LLM_API_KEY or the "
                            "provider's variable, e.g. OPENAI_API_KEY")
    brain.add_argument("--llm-base-url", default=None,
                       help="an OpenAI-compatible endpoint, e.g. a local vLLM or Ollama server")
    brain.add_argument("--env-file", type=Path, default=None, help=".env file to read (default: ./.env)")
    brain.add_argument("--allow-fallback", action="store_true",
                       help="if the model run fails, let the runbook brain finish (recorded)")
    brain.add_argument("--run-timeout-s", type=float, default=None, help="stop the agent after S seconds")
    brain.add_argument("--step-timeout-s", type=float, default=None, metavar="S",
                       help="stop any one terminal command after S seconds (its process tree is killed, the "
                            "agent is told, the action is recorded timed_out; the run goes on)")
    brain.add_argument("--retries", type=int, default=0, metavar="N",
                       help="retry transient model errors and a failed target start N times (recorded)")
    brain.add_argument("--retry-backoff-s", type=float, default=2.0, metavar="S",
                       help="first wait between retries, doubled each time (default: %(default)s)")
    brain.add_argument("--condense-context", action="store_true",
                       help="summarize old events for long incidents (LLM condenser)")
    gates = p.add_argument_group("safety gates (act before a command runs)")
    from openhands_driver.security import RISK_ORDER

    gates.add_argument("--max-security-risk", type=str.upper, choices=RISK_ORDER, default="MEDIUM",
                       help="reject any action above this risk before it runs (default: %(default)s)")
    gates.add_argument("--require-confirmation-for-risk", type=str.upper, choices=RISK_ORDER,
                       default=None, help="pause for approval of actions at or above this risk")
    gates.add_argument("--auto-confirm", action="store_true", help="approve paused actions")
    gates.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                       help="where the agent's commands run: auto/bwrap = inside bubblewrap (no network, "
                            "own PID namespace, writable only the workspace and the service root; "
                            "needs `apt-get install bubblewrap`), none = unconfined, with a warning "
                            "(default: %(default)s)")
    p.add_argument("--remote-working-dir", default=None, metavar="DIR",
                   help="with --remote-host: the incident's working directory on the agent server "
                        "(default: a fresh one; the run removes only what it put there)")
    p.add_argument("--toolset", choices=("shell", "api"), default="shell",
                   help="what the agent works with: shell = terminal + file editor (targetctl); api = "
                        "no terminal and no file editor, only HTTP tools against the target's /ops/* "
                        "platform API (openhands_driver/api_tools.py) (default: %(default)s)")
    p.add_argument("--remote-host", default=None, metavar="URL",
                   help="run the conversation on this OpenHands agent server (RemoteWorkspace), e.g. "
                        "http://127.0.0.1:8010; start one with `uv run --extra remote python -m "
                        "openhands.agent_server` (see README, Remote agent servers)")
    return p


def config_from_args(args: argparse.Namespace) -> RunConfig:
    target_root = args.target_root
    if target_root is not None and args.backend != "local":
        raise UserError("--target-root needs --backend local (for docker: --target-container NAME)")
    if args.target_url and not (args.target_container or target_root):
        raise UserError("--target-url goes with --target-container NAME (docker) or --target-root DIR "
                        "(local): attach mode")
    docker_only = [flag for flag, value in (("--runtime-image", args.runtime_image),
                                            ("--target-container", args.target_container)) if value]
    if docker_only and args.backend != "docker":
        raise UserError(f"{', '.join(docker_only)} {'needs' if len(docker_only) == 1 else 'need'} "
                        "--backend docker")
    target_options = _ssh_options(args)
    if target_root is not None and not args.target_url:
        raise UserError("--target-root DIR needs --target-url URL: the health URL of the service "
                        "running there, e.g. http://127.0.0.1:8080/")
    if args.step_timeout_s is not None and args.step_timeout_s <= 0:
        raise UserError(f"--step-timeout-s must be > 0 seconds, got {args.step_timeout_s}")
    if args.step_timeout_s is not None and args.remote_host:
        raise UserError("--step-timeout-s bounds the local terminal; an agent server's terminal is its own "
                        "(drop --step-timeout-s or --remote-host)")
    if args.retries < 0 or args.retry_backoff_s < 0:
        raise UserError(f"--retries and --retry-backoff-s must be >= 0, got {args.retries} and "
                        f"{args.retry_backoff_s}")
    if args.audit_key is not None:
        from openhands_driver.audit import keys

        keys.configure(args.audit_key)  # UserError (exit 2) when missing, readable by others or not ed25519
    if args.run_id is not None:
        from openhands_driver.runrecord import validate_run_id

        validate_run_id(args.run_id)
        if not args.disable_trace_log and not args.simulate:
            from openhands_driver.crash_safety import check_run_id_unused

            check_run_id_unused(args.trace_log, args.run_id)
    check_numbers(args)
    if args.blind and (target_root is not None or args.target_container):
        raise UserError("--blind provisions a fresh incident: it cannot attach to a running service "
                        "(--target-root / --target-container)")
    if args.note is not None and not args.resume_from:
        raise UserError("--note is for the resumed agent: it goes with --resume-from RUN_ID")
    if args.resume_from and args.pause_after_diagnosis:
        raise UserError("--resume-from continues a paused run to its end: drop --pause-after-diagnosis")
    strategy_source, optimizer_result, skill_id, overrides = _strategy_flags(args)
    if args.remote_working_dir and not args.remote_host:
        raise UserError("--remote-working-dir is the working directory on an agent server: it goes with "
                        "--remote-host URL")
    if args.remote_working_dir and not args.remote_working_dir.startswith("/"):
        raise UserError(f"--remote-working-dir must be an absolute path, got {args.remote_working_dir!r}")
    return RunConfig(
        pause_after_diagnosis=args.pause_after_diagnosis, resume_from=args.resume_from, note=args.note,
        state_root=args.state_root,
        remote_working_dir=args.remote_working_dir, save_trajectory=args.save_trajectory,
        skill_overrides=overrides,
        blind=args.blind, variant_seed=args.variant_seed, soak_s=args.soak_s,
        scenario=args.scenario or (None if target_root or args.resume_from else DEFAULT_SCENARIO),
        training_data=args.training_data, mode=args.mode,
        strategy_source=strategy_source, skill_id=skill_id, backend=args.backend,
        optimizer_result=optimizer_result,
        simulate=args.simulate, keep_target=args.keep_target, trace_log=args.trace_log,
        disable_trace_log=args.disable_trace_log, run_id=args.run_id,
        verify_consecutive_successes=args.verify_consecutive_successes,
        verify_max_attempts=args.verify_max_attempts, verify_interval_s=args.verify_interval_s,
        max_iterations=args.max_iterations, verbose=args.verbose,
        model=args.model, llm_base_url=args.llm_base_url, env_file=args.env_file,
        allow_fallback=args.allow_fallback, run_timeout_s=args.run_timeout_s,
        step_timeout_s=args.step_timeout_s, retries=args.retries, retry_backoff_s=args.retry_backoff_s,
        condense_context=args.condense_context, max_security_risk=args.max_security_risk,
        require_confirmation_for_risk=args.require_confirmation_for_risk, auto_confirm=args.auto_confirm,
        target_port=getattr(args, "port", None), runtime_image=args.runtime_image,
        target_container=args.target_container, target_root=target_root, target_url=args.target_url,
        remote_host=_remote_host(args.remote_host, check=not args.simulate), sandbox=args.sandbox,
        toolset=getattr(args, "toolset", "shell"), target_options=target_options)


def _ssh_options(args: argparse.Namespace) -> dict | None:
    """--backend ssh: the target's SSH options, checked before anything starts (exit 2 with the fix)."""
    host, identity, known = (getattr(args, name, None) for name in ("target_host", "identity_file", "known_hosts"))
    given = [flag for flag, value in (("--target-host", host), ("--identity-file", identity),
                                      ("--known-hosts", known)) if value is not None]
    if args.backend != "ssh":
        if given:
            raise UserError(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --backend ssh")
        return None
    if not host or identity is None:
        raise UserError("--backend ssh needs --target-host USER@HOST[:PORT] and --identity-file FILE "
                        "(and --known-hosts FILE unless the host is in your ~/.ssh/known_hosts)")
    if getattr(args, "toolset", "shell") != "shell":
        raise UserError("--toolset api is not supported with --backend ssh yet (the /ops/* API's token lives "
                        "on the remote host); use --toolset shell")
    if args.keep_target or args.pause_after_diagnosis or args.target_root or args.target_url:
        raise UserError("--backend ssh provisions a fresh target that lives as long as the run's SSH "
                        "connection: --keep-target, --pause-after-diagnosis, --target-root and --target-url "
                        "are not supported with it")
    from openhands_driver.target.ssh_link import check_identity_file, check_known_hosts, parse_destination

    parse_destination(host)
    if not args.simulate:
        check_identity_file(identity)
        check_known_hosts(known)
    return {"host": host, "identity_file": str(identity), "known_hosts": None if known is None else str(known)}


def _strategy_flags(args: argparse.Namespace):
    """--optimizer, --strategy-source, --optimizer-result and --skill-file -> (strategy source,
    optimizer result file, forced skill, skill overrides)."""
    from openhands_driver.optimizer.result import create_command, default_output

    source, result, skill_id, overrides = args.strategy_source, args.optimizer_result, args.skill_id, None
    if args.optimizer == "manual":
        source = source or "manual"
    elif args.optimizer:
        if result == DEFAULT_OPTIMIZER_RESULT:  # not given: that optimizer's own saved result
            result = default_output(args.optimizer)
        source = source or "optimizer"
        if not Path(result).is_file():
            raise UserError(f"--optimizer {args.optimizer}: no saved result at {result}; create it with: "
                            f"{create_command(result, args.optimizer)}")
    if args.skill_file is not None:
        name, text = _skill_file(args.skill_file)
        overrides, skill_id = {name: text}, skill_id or name
        source = source or "skills"
    return source or "skills", result, skill_id, overrides


def _skill_file(path: Path) -> tuple[str, str]:
    """(skill name, text) of a SKILL.md given with --skill-file; its name must be a project skill."""
    import yaml

    from openhands_driver.skills import load_skills

    hint = "pass a SKILL.md whose frontmatter names a project skill (run_demo.py --list)"
    try:
        text = path.read_text(encoding="utf-8")
        _, front, _ = text.split("---", 2) if text.startswith("---") else ("", "", "")
        name = str((yaml.safe_load(front) or {}).get("name", "")) if front else ""
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"--skill-file {path}: cannot be read ({exc}); {hint}") from None
    known = load_skills()
    if name not in known:
        raise UserError(f"--skill-file {path}: frontmatter name {name!r} is not a project skill; {hint}")
    return name, text


def check_numbers(args: argparse.Namespace) -> None:
    """Every numeric flag, before anything starts: one line per problem, exit 2."""
    problems = []
    if args.verify_consecutive_successes < 1 or args.verify_max_attempts < args.verify_consecutive_successes:
        problems.append("--verify-max-attempts must be >= --verify-consecutive-successes >= 1 (got "
                        f"{args.verify_max_attempts} and {args.verify_consecutive_successes})")
    for flag, value, low, strict in (("--verify-interval-s", args.verify_interval_s, 0, True),
                                     ("--max-iterations", args.max_iterations, 1, False),
                                     ("--soak-s", args.soak_s, 0, False),
                                     ("--run-timeout-s", args.run_timeout_s, 0, True),
                                     ("--variant-seed", args.variant_seed, 0, False)):
        if value is None:  # unset
            continue
        if value != value or (value <= low if strict else value < low):  # value != value: NaN
            problems.append(f"{flag} must be {'>' if strict else '>='} {low}, got {value}")
    if problems:
        raise UserError("\n".join(problems))


def _remote_host(value: str | None, check: bool = True) -> str | None:
    if not value:
        return None
    from openhands_driver.remote import check_hosts, parse_hosts

    hosts = parse_hosts(value)
    if len(hosts) != 1:
        raise UserError("run_demo.py runs one incident: give one --remote-host (the fan-out scripts "
                        "take several)")
    if check:
        check_hosts(hosts)
    return hosts[0]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser._argv = argv
    args = parser.parse_args(argv)

    def failed(message: str, code: int, printed: str | None = None) -> int:
        print(printed or message, file=sys.stderr)
        if args.json:  # the promise: exactly one JSON object on stdout, whatever happened
            print(json.dumps(error_object(message, code)))
        return code

    try:
        if args.list or args.show:
            from openhands_driver import lookup

            if args.show:
                row = lookup.find_run(args.trace_log, args.show)
                emit(json.dumps(row, default=str) if args.json else lookup.story(row))
            else:
                emit(lookup.listing(args.training_data))
            return EXIT_FIXED
        config = config_from_args(args)
        from openhands_driver.runner import run_incident

        result = run_incident(config)
    except UserError as exc:
        return failed(str(exc), exc.exit_code, error_lines(exc))
    except KeyboardInterrupt:
        return failed("interrupted before the run started", EXIT_INTERRUPTED)
    except Exception as exc:  # an internal failure: the traceback goes to a log file, not the screen
        from openhands_driver.crash_safety import internal_error_log

        return failed(f"internal error: {type(exc).__name__}: {exc}; traceback in "
                      f"{internal_error_log('run_demo')}", EXIT_NOT_FIXED)
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
    else:
        print_human(render_human(result))
    return exit_code_for(result)


def exit_process(code: int) -> None:
    """End the process once ``main`` has returned.

    By then the run has cleaned up its target, closed the agent's terminal, written its trace row
    and printed its result. Tearing down the interpreter afterwards only frees the SDK's module
    graph (1.5-2 s here), so it is skipped, unless tracing is configured: exporters flush at exit.
    """
    import os

    from openhands_driver.session import OBSERVABILITY_VARS

    sys.stdout.flush()
    sys.stderr.flush()
    if any(os.environ.get(name) for name in OBSERVABILITY_VARS) or "openhands.sdk" not in sys.modules:
        sys.exit(code)
    os._exit(code)
