#!/usr/bin/env python3
"""Does this model work with the OpenHands SDK and our runner? The model compatibility gate.

  check_llm.py --model M [--llm-base-url U] [--stages D]     stages A-C (+ opt-in D) on a model
  check_llm.py --profile NAME [--stages D1,D2]                the same on a saved profile
  check_llm.py profiles list | add NAME | edit NAME | rm NAME  profiles (SDK format, secrets apart)
  check_llm.py history [--limit N]                            past runs (artifacts/llm-checks/)
  check_llm.py autofix RUN_ID --sdk-repo PATH                 an agent patches a worktree of the SDK
  check_llm.py tui                                            the same in a terminal UI (textual)
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.errors import UserError, error_lines  # noqa: E402
from openhands_driver.llm_gate import profiles as prof  # noqa: E402
from openhands_driver.llm_gate import runs  # noqa: E402
from openhands_driver.model import resolve_model  # noqa: E402

SUBCOMMANDS = ("profiles", "history", "autofix", "tui")


def _dirs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profiles-dir", type=Path, default=None,
                   help=f"profile directory (default: ${prof.PROFILES_ENV} or ~/.openhands/llm-profiles)")
    p.add_argument("--secrets-dir", type=Path, default=None,
                   help=f"secrets directory, 0700 (default: ${prof.SECRETS_ENV} or ~/.openhands/llm-secrets)")


def _runs_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", type=Path, default=runs.RUNS_DIR,
                   help="where run folders live (default: %(default)s)")


def check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="check_llm.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="litellm model id (default: $LLM_MODEL)")
    p.add_argument("--llm-base-url", default=None, help="OpenAI-compatible endpoint")
    p.add_argument("--profile", default=None, help="check a saved profile (see `profiles list`)")
    p.add_argument("--stages", default="", help="opt-in stage-D gates, comma-separated: D (all), D1 "
                   "streaming, D2 persistence/resume, D3 responses vs chat, D4 image input")
    p.add_argument("--env-file", type=Path, default=None, help=".env file to read keys from (default: ./.env)")
    p.add_argument("--timeout-s", type=int, default=60, help="per-call time limit in seconds (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    _dirs(p)
    _runs_dir(p)
    return p


def profiles_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="check_llm.py profiles", description="LLM profiles in the SDK's format; "
                                "keys are stored apart (0600) or read from the environment")
    sub = p.add_subparsers(dest="action", required=True)
    _dirs(sub.add_parser("list", help="list profiles (no key values)"))
    for action in ("add", "edit"):
        a = sub.add_parser(action, help=f"{action} a profile")
        a.add_argument("name", help="profile name (letters, digits, . _ -)")
        a.add_argument("--model", required=action == "add", default=None, help="litellm model id")
        a.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint")
        a.add_argument("--api-mode", choices=("auto", "chat", "responses"), default=None, help="SDK api_mode")
        a.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="any SDK LLM field (VALUE parsed as JSON when it can be), repeatable")
        key = a.add_mutually_exclusive_group()
        key.add_argument("--api-key-stdin", action="store_true",
                         help="read the key from standard input (stored 0600 apart from the profile)")
        key.add_argument("--api-key-env", default=None, metavar="VAR",
                         help="take the key from this environment variable at run time")
        _dirs(a)
    r = sub.add_parser("rm", help="remove a profile and its stored secret")
    r.add_argument("name")
    _dirs(r)
    s = sub.add_parser("show", help="print a profile (secrets redacted)")
    s.add_argument("name")
    _dirs(s)
    return p


def _fields(args) -> dict:
    out = {}
    for item in args.set:
        field, sep, raw = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r}: expected FIELD=VALUE")
        if field in prof.SECRET_FIELDS:
            raise UserError(f"--set {field}=...: secrets never go into a profile or onto the command line; "
                            "use --api-key-stdin or --api-key-env VAR")
        try:
            out[field] = json.loads(raw)
        except json.JSONDecodeError:
            out[field] = raw
    for field, value in (("model", args.model), ("base_url", args.base_url), ("api_mode", args.api_mode)):
        if value is not None:
            out[field] = value
    if args.base_url and "api_mode" not in out and args.action == "add":
        out["api_mode"] = "chat"  # OpenAI-compatible servers speak chat completions
    return out


def run_profiles(argv: list[str]) -> int:
    args = profiles_parser().parse_args(argv)
    paths = prof.profile_paths(args.profiles_dir, args.secrets_dir)
    if args.action == "list":
        rows = prof.list_profiles(paths)
        for r in rows:
            print(f"{r.name:24} {r.model or '-':32} {r.base_url or '-':32} key: {r.key}")
        if not rows:
            print(f"no profiles in {paths.profiles}; add one with `check_llm.py profiles add NAME --model M`")
        return 0
    if args.action == "rm":
        for path in prof.remove_profile(paths, args.name):
            print(f"removed {path}")
        return 0
    if args.action == "show":
        print(json.dumps(prof.read_profile(paths, args.name), indent=2))
        return 0
    key = None
    if args.api_key_stdin:
        key = (getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if args.api_key_stdin and not key:
        raise UserError("--api-key-stdin: standard input was empty")
    with contextlib.redirect_stdout(sys.stderr):
        if args.action == "add":
            path = prof.save_profile(paths, args.name, _fields(args), api_key=key, api_key_env=args.api_key_env,
                                     replace=False)
        else:
            path = prof.edit_profile(paths, args.name, _fields(args), api_key=key, api_key_env=args.api_key_env)
    print(f"saved {path} (no secret in it; key: {_origin(paths, args.name)})")
    return 0


def _origin(paths, name: str) -> str:
    return next((r.key for r in prof.list_profiles(paths) if r.name == name), "environment")


def run_history(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="check_llm.py history", description="past gate runs, newest first")
    p.add_argument("--limit", type=int, default=20, help="at most this many runs (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _runs_dir(p)
    args = p.parse_args(argv)
    rows = runs.history(args.output_dir, args.limit)
    for row in rows:
        if args.json:
            print(json.dumps(row))
            continue
        stages = " ".join(f"{s['stage']}:{s['status']}" for s in row.get("stages", []))
        failed = next((s for s in row.get("stages", []) if s.get("status") == "fail"), None)
        why = f"  [{failed['kind']}] {failed['error']}" if failed else ""
        cost = (row.get("usage") or {}).get("cost_usd")
        print(f"{row['run_id']}  {'PASS' if row.get('passed') else 'FAIL'}  {row.get('profile') or row['model']}"
              f"  {stages}  cost ${cost if cost is not None else '?'}{why}")
    if not rows and not args.json:
        print(f"no runs in {args.output_dir}")
    return 0


def run_autofix(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="check_llm.py autofix", description="let an agent patch a worktree "
                                "of the SDK until the run's reproduction passes; commit on a branch")
    p.add_argument("run_id", help="a failed run (see `check_llm.py history`)")
    p.add_argument("--sdk-repo", type=Path, required=True, help="a git checkout of the SDK (left untouched)")
    p.add_argument("--test-cmd", default=None, help="the SDK's targeted tests, as one argv string "
                   "(split like a shell, never run by one)")
    p.add_argument("--max-iterations", type=int, default=30, help="agent step limit (default: %(default)s)")
    p.add_argument("--no-pr", action="store_true", help="never open a PR, only leave the branch")
    p.add_argument("--force", action="store_true", help="run even when the failure is not classified "
                   "as an SDK incompatibility")
    p.add_argument("--env-file", type=Path, default=None, help=".env file for the agent's model")
    p.add_argument("--model", default=None, help="the model that drives the fixing agent (default: $LLM_MODEL)")
    p.add_argument("--llm-base-url", default=None, help="its OpenAI-compatible endpoint")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="the agent terminal's sandbox (default: %(default)s; none runs it unconfined)")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    _runs_dir(p)
    args = p.parse_args(argv)
    from openhands_driver.llm_gate.autofix import AutofixRequest, autofix

    agent_model = resolve_model(args.model, args.llm_base_url, env_file=args.env_file)
    if not agent_model.model:
        raise UserError("autofix needs a model to drive the agent: pass --model or set LLM_MODEL")
    request = AutofixRequest(run_dir=runs.find_run(args.run_id, args.output_dir), sdk_repo=args.sdk_repo,
                             agent_model=agent_model, test_cmd=args.test_cmd, max_iterations=args.max_iterations,
                             open_pr=not args.no_pr, force=args.force, sandbox=args.sandbox)
    with contextlib.redirect_stdout(sys.stderr):
        outcome = autofix(request)
    if args.json:
        print(json.dumps(outcome.to_dict()))
    else:
        print(outcome.summary())
    return 0 if outcome.fixed else 1


def run_tui(argv: list[str]) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="check_llm.py tui", description="profiles, runs with live stage status, "
                                "history, logs and auto-fix in a terminal UI")
    p.add_argument("--timeout-s", type=int, default=60, help="per-call time limit in seconds (default: %(default)s)")
    _dirs(p)
    _runs_dir(p)
    args = p.parse_args(argv)
    from openhands_driver.llm_gate.tui import GateApp

    GateApp(prof.profile_paths(args.profiles_dir, args.secrets_dir), args.output_dir, timeout_s=args.timeout_s).run()
    return 0


def run_check(argv: list[str]) -> int:
    args = check_parser().parse_args(argv)
    stages_opt = [s for s in args.stages.replace(" ", "").split(",") if s]
    from openhands_driver.llm_gate.gate import stage_list

    stages = stage_list(stages_opt)
    if args.profile:
        if args.model or args.llm_base_url:
            raise UserError("--profile and --model/--llm-base-url are exclusive: the profile names the model")
        target = prof.resolve_profile(prof.profile_paths(args.profiles_dir, args.secrets_dir), args.profile,
                                      env_file=args.env_file, timeout_s=args.timeout_s)
    else:
        config = resolve_model(args.model, args.llm_base_url, env_file=args.env_file, timeout_s=args.timeout_s)
        if not config.model:
            raise UserError("no model to check: pass --model or --profile NAME, or set LLM_MODEL")
        target = prof.target_from_config(config)
    from openhands_driver.llm_gate.gate import run_gate

    def live(result) -> None:
        print(f"{result.stage:3} {result.status.upper():7} {result.duration_s:6.2f}s  {result.name}", file=sys.stderr)

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the report
        report = run_gate(target, stages, base_dir=args.output_dir, on_stage=live)
    if args.json:
        print(json.dumps({**report.to_dict(), "saved_to": report.run_dir}))
    else:
        for s in report.stages:
            extra = f" [{s.kind}] {s.error}" if s.error else (f" {s.detail}" if s.detail else "")
            print(f"{s.stage:3} {s.status.upper():7} {s.duration_s:6.2f}s  {s.name}{extra}")
        cost = report.usage.get("cost_usd")
        print(f"tokens in/out {report.usage.get('input_tokens')}/{report.usage.get('output_tokens')}, "
              f"cost ${cost}; run saved to {report.run_dir}")
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return {"profiles": run_profiles, "history": run_history, "autofix": run_autofix,
                    "tui": run_tui}[argv[0]](argv[1:])
        return run_check(argv)
    except UserError as exc:
        print(error_lines(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
