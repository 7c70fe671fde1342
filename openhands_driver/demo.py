"""``scripts/start_demo.py``: the Docker demo in one command.

build the target image (unless --skip-build) -> run the incident on the docker backend (the runner
starts the container, the agent fixes it, the verifier checks health and container identity)
-> remove the run's containers (unless --keep-container).

``start_demo(DemoConfig(...))`` is the library call; ``main()`` is the thin command line.
Importing this module stays cheap (no SDK, no docker SDK until a real run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from typing import TextIO

from openhands_driver import cli
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError, error_lines



@dataclass
class DemoConfig:
    run: RunConfig                # backend is always "docker"
    skip_build: bool = False      # use the existing image as is
    keep_container: bool = False  # leave the container running after the run
    base_image: str | None = None  # BASE_IMAGE build argument (default: see docker.default_base_image)
    interactive: bool = False     # a person approves, rejects or edits paused actions
    demo_security_gates: bool = False  # show blocked / approved / rejected on real targets


def start_demo(options: DemoConfig, *, console: TextIO = sys.stderr, approver=None):
    """Build -> run target + incident -> clean up. Raises UserError for fixable problems.

    With ``demo_security_gates`` it returns the list of the three gate demonstrations instead of
    one RunResult."""
    from openhands_driver.runner import plan_incident, run_incident

    plan = plan_incident(options.run)  # bad scenario / flags fail before anything is built
    config = dataclasses.replace(options.run, backend="docker", run_id=plan.run_id,
                                 keep_target=options.keep_container)
    if config.simulate:
        result = run_incident(config, console=console)
        result.plan = {**(result.plan or {}), "docker": _docker_plan(options)}
        return result

    from openhands_driver.target import docker as docker_target

    client = docker_target.connect()
    tag = config.runtime_image or docker_target.IMAGE_TAG
    if options.skip_build:
        if not _image_exists(client, tag):
            raise UserError(f"--skip-build: image {tag} does not exist in the engine at "
                            f"{docker_target.docker_host()}; run without --skip-build to build it")
        built = docker_target.build_image(client, tag, force=False)  # the existing image's id
    else:
        try:
            built = docker_target.build_image(client, tag, base_image=options.base_image, force=True)
        except docker_target.TargetError as exc:  # e.g. the base image cannot be pulled
            raise UserError(str(exc)) from None
        print(f"[start_demo] image {tag} built from {built['base_image']} in "
              f"{built['duration_s']}s", file=console, flush=True)
    if options.demo_security_gates:
        from openhands_driver.security_demo import run_security_demo

        base = dataclasses.replace(config, run_id=None, keep_target=False)
        return run_security_demo(base, console=console)
    try:
        result = run_incident(config, console=console, approver=approver)
    finally:
        if not options.keep_container:  # whatever the run left behind (failed or interrupted)
            _sweep(docker_target, config.run_id, client, console)
    result.extra["image"] = {"tag": tag, "id": built["id"], "built": built["built"]}
    return result


def _sweep(docker_target, run_id: str, client, console: TextIO) -> None:
    from docker.errors import DockerException

    try:
        docker_target.remove_run_containers(run_id, client)
    except DockerException as exc:
        print(f"[start_demo] warning: could not check for leftover containers of {run_id} ({exc}); "
              f"list them with: docker ps -a --filter label={docker_target.LABEL_RUN_ID}={run_id}",
              file=console, flush=True)


def _image_exists(client, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def _docker_plan(options: DemoConfig) -> dict:
    import os

    return {"image": options.run.runtime_image or "openhands-gepa-sre-target:latest",
            "build": not options.skip_build,
            "base_image": options.base_image or os.environ.get("TARGET_BASE_IMAGE")
            or "(local sre-target-base:bookworm if present, else the Dockerfile default)",
            "network": os.environ.get("SRE_DOCKER_NETWORK") or "(bridge if the engine has it, else host)",
            "port": options.run.target_port, "keep_container": options.keep_container}


# --- command line --------------------------------------------------------------------------

_NOT_HERE = ("backend", "keep_target", "target_container", "target_root", "target_url")


def build_parser() -> argparse.ArgumentParser:
    """run_demo.py's flags (all passed through) plus the demo's own; the backend is docker."""
    p = cli.build_parser()
    p.prog = "start_demo.py"
    p.description = ("Docker demo: build the target image, run one incident against a container, "
                     "verify it (health + container identity), remove the container. Every "
                     "run_demo.py flag is passed through.")
    p.set_defaults(backend="docker")
    for action in p._actions:  # run_demo flags that mean nothing here stay out of --help
        if action.dest in _NOT_HERE:  # (--keep-target is --keep-container's old name; --backend is docker)
            action.help = argparse.SUPPRESS
    own = p.add_argument_group("start_demo")
    own.add_argument("--base-image", default=None,
                     help="BASE_IMAGE build argument (default: $TARGET_BASE_IMAGE, else the local "
                          "sre-target-base:bookworm if present, else python:3.12-slim)")
    own.add_argument("--skip-build", action="store_true", help="use the existing image as is")
    own.add_argument("--keep-container", action="store_true",
                     help="leave the container running and print how to remove it")
    own.add_argument("--port", type=int, default=None,
                     help="host port the service is probed on (default: a free one)")
    own.add_argument("--interactive", action="store_true",
                     help="pause before actions at or above --require-confirmation-for-risk (default "
                          "MEDIUM) and let you approve, reject or edit each one in this terminal")
    own.add_argument("--allow-local-workspace", action="store_true",
                     help="let the agent work in a local workspace while the target runs in Docker: "
                          "what start_demo does here in any case (the agent's terminal runs locally, in "
                          "its sandbox, and reaches the container only through targetctl); accepted "
                          "for the reference design's commands")
    own.add_argument("--vnc", action="store_true",
                     help="the design's VNC observer of the agent server's desktop; this machine has no "
                          "VNC server, so none is started (the run says so) and the run goes on")
    own.add_argument("--demo-security-gates", action="store_true",
                     help="show the three gate behaviours (blocked, approved, rejected) on real "
                          "targets with the runbook brain; no model needed")
    return p


def options_from_args(args: argparse.Namespace) -> DemoConfig:
    if args.interactive and args.demo_security_gates:
        raise UserError("--interactive and --demo-security-gates are separate demos: pick one")
    if args.interactive and args.json:
        raise UserError("--interactive talks to you on the terminal; it cannot be combined with --json")
    if args.interactive and args.require_confirmation_for_risk is None:
        args.require_confirmation_for_risk = "MEDIUM"
    if args.backend != "docker":
        raise UserError("start_demo.py always uses the docker backend; for the local one run: "
                        f"run_demo.py --backend {args.backend}")
    if args.target_container:
        raise UserError("start_demo.py starts its own container; to attach to an existing one run: "
                        "run_demo.py --backend docker --target-container NAME [--target-url URL]")
    if args.port is not None and not 0 < args.port < 65536:
        raise UserError(f"--port must be 1-65535, got {args.port}")
    return DemoConfig(run=cli.config_from_args(args), skip_build=args.skip_build,
                      keep_container=args.keep_container or args.keep_target,
                      base_image=args.base_image, interactive=args.interactive,
                      demo_security_gates=args.demo_security_gates)


def design_notes(args: argparse.Namespace) -> list[str]:
    """What the reference design's flags that mean nothing more here did."""
    notes = []
    if args.allow_local_workspace:
        notes.append("--allow-local-workspace: the agent works in a local workspace (sandboxed) and "
                     "reaches the container through targetctl, as it always does here")
    if args.vnc:
        notes.append("--vnc: no VNC observer started (no VNC server on this machine); watch the run "
                     "in this terminal, or in the dashboard (scripts/dashboard.py)")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list or args.show:  # lookups start nothing: the same answer as run_demo.py
        return cli.main(list(sys.argv[1:] if argv is None else argv))
    for note in design_notes(args):
        print(f"[start_demo] {note}", file=sys.stderr, flush=True)
    try:
        options = options_from_args(args)
        approver = None
        if options.interactive:
            from openhands_driver.gates import interactive_approver

            approver = interactive_approver(ask=input, say=lambda text: print(text, file=sys.stderr))
        result = start_demo(options, approver=approver)
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted before the run started", file=sys.stderr)
        return cli.EXIT_INTERRUPTED
    if isinstance(result, list):  # --demo-security-gates
        if args.json:
            print(json.dumps({"security_gate_demo": result}, default=str))
        else:
            for row in result:
                gated = "; ".join(f"{a['gate']} by {a.get('gate_by') or '?'} ({a['risk']}): {a['command']}"
                                  for a in row["gated_actions"])
                print(f"{row['behaviour']:26} service_up={row['service_up']!s:5} {gated}")
        expected = [True, True, False]  # blocked-but-fixed, approved, rejected
        return 0 if [row["service_up"] for row in result] == expected else 1
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
    else:
        print(cli.render_human(result))
    return cli.exit_code_for(result)
