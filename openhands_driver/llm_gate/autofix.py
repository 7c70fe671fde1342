"""The auto-fix lane: an OpenHands agent patches a git worktree of the SDK until a failed run's
reproduction passes, and the patch is committed on a branch named after the model.

1. the run's error capsule must say ``sdk_incompatibility`` (``force`` overrides);
2. ``git worktree add -b autofix/<model>`` of the given SDK checkout (the checkout itself is never
   touched: its HEAD, index and files stay as they were);
3. the repro runs against the worktree's source (``PYTHONPATH``) and must fail first;
4. an agent (the project's tools: terminal in the bubblewrap sandbox, file editor held to the
   worktree) gets the capsule and the repro under ``.llm-gate/`` and patches the source; it has no
   network and no key;
5. the lane runs the repro again and the targeted tests (``--test-cmd``, else ``tests/**/test_<module>.py``
   of every changed module) on the host, and commits when both pass;
6. ``gh`` available and authorised: push and open a PR; otherwise the exact commands are printed.
   The PR body (repro, log excerpt, the agent's rationale, diff stat) is redacted like every artifact.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.model import ModelConfig, secret_values
from openhands_driver.trace import redact

GATE_DIR = ".llm-gate"  # capsule and repro inside the worktree; never committed
OUTPUT_CHARS = 4000
# what the lane never commits: its own folder, the sandbox shell's history (HOME is the
# worktree there), bytecode
NOT_COMMITTED = (f"{GATE_DIR}/**", ".bash_history", "**/__pycache__/**", "**/*.pyc")


@dataclass
class AutofixRequest:
    run_dir: Path
    sdk_repo: Path
    agent_model: ModelConfig
    test_cmd: str | None = None
    max_iterations: int = 30
    open_pr: bool = True
    force: bool = False
    sandbox: str = "auto"
    timeout_s: int = 300


@dataclass
class AutofixOutcome:
    status: str  # fixed | not_reproduced | no_change | still_failing | tests_failed | refused
    branch: str | None = None
    commit: str | None = None
    repro_before: int | None = None
    repro_after: int | None = None
    tests: str = ""
    changed_files: list[str] = field(default_factory=list)
    pr_url: str | None = None
    next_commands: list[str] = field(default_factory=list)
    report_dir: str | None = None
    reason: str = ""

    @property
    def fixed(self) -> bool:
        return self.status == "fixed"

    def to_dict(self) -> dict:
        return {**asdict(self), "fixed": self.fixed}

    def summary(self) -> str:
        lines = [f"autofix: {self.status} - {self.reason}"]
        if self.branch:
            lines.append(f"branch: {self.branch}" + (f" (commit {self.commit})" if self.commit else ""))
        if self.pr_url:
            lines.append(f"PR: {self.pr_url}")
        if self.next_commands:
            lines.append("to open the PR yourself:")
            lines += [f"  {c}" for c in self.next_commands]
        if self.report_dir:
            lines.append(f"report: {self.report_dir}")
        return "\n".join(lines)


def _git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()[:400]}")
    return proc.stdout.strip()


def branch_name(model: str, repo: Path) -> str:
    base = "autofix/" + (re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.") or "model")
    name, n = base, 1
    while _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}", check=False):
        n += 1
        name = f"{base}-{n}"
    return name


def python_path(worktree: Path) -> list[str]:
    """Where the worktree's packages are: the SDK monorepo's ``openhands-*`` dirs, else its root."""
    parts = sorted(str(p) for p in worktree.glob("openhands-*") if p.is_dir())
    return parts or [str(worktree)]


def _host_env(worktree: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "PYTHONPATH": os.pathsep.join(python_path(worktree)), "LANG": "C.UTF-8",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "OPENHANDS_SUPPRESS_BANNER": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    if os.environ.get("LLM_API_KEY"):  # the checked model's key, for the repro only (never the agent)
        env["LLM_API_KEY"] = os.environ["LLM_API_KEY"]
    return env


def _run(argv: list[str], cwd: Path, env: dict, timeout: int) -> tuple[int, str]:
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return proc.returncode, (proc.stdout + proc.stderr)[-OUTPUT_CHARS:]
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout}s: {' '.join(argv)}"


def run_repro(worktree: Path, timeout: int) -> tuple[int, str]:
    return _run([sys.executable, str(worktree / GATE_DIR / "repro.py")], worktree, _host_env(worktree), timeout)


def targeted_tests(worktree: Path, changed: list[str], test_cmd: str | None, timeout: int) -> tuple[int, str]:
    if test_cmd:
        return _run(shlex.split(test_cmd), worktree, _host_env(worktree), timeout)
    stems = {Path(p).stem for p in changed if p.endswith(".py") and not Path(p).name.startswith("test_")}
    tests = sorted({str(t.relative_to(worktree)) for s in stems for t in worktree.rglob(f"test_{s}.py")
                    if GATE_DIR not in t.parts})
    if not tests:
        return 0, "no targeted tests found for " + ", ".join(sorted(stems) or ["(no module)"])
    import importlib.util

    runner = ["-m", "pytest", "-q"] if importlib.util.find_spec("pytest") else ["-m", "unittest"]
    return _run([sys.executable, *runner, *tests], worktree, _host_env(worktree), timeout)


def agent_message(capsule_md: str, worktree: Path, model: str) -> str:
    return (f"You are fixing an incompatibility between the OpenHands SDK and the model `{model}`.\n"
            f"The SDK's source is the git worktree {worktree} (your working directory). "
            f"{GATE_DIR}/repro.py reproduces the failure and {GATE_DIR}/capsule.md describes it "
            "(below). You have no network: read the capsule, the traceback and the source, then make "
            "the smallest change to the SDK source that removes the incompatibility without breaking "
            f"other models. Do not edit anything under {GATE_DIR}/. Run the relevant unit tests if "
            "there are any. When done, finish with a short rationale of the change.\n\n" + capsule_md)


def run_agent(request: AutofixRequest, worktree: Path, message: str) -> str:
    """One OpenHands conversation in the worktree, sandboxed; returns the agent's final message."""
    from openhands_driver.conversation import _tools, prepare_sdk_env
    from openhands_driver.sandbox import open_sandbox, resolve_kind

    prepare_sdk_env()
    kind = resolve_kind(types.SimpleNamespace(sandbox=request.sandbox, remote_host=None))
    # the sandbox's writable roots: the worktree (workspace) and its gate folder (the "service root")
    stand_in = types.SimpleNamespace(backend="local", root=worktree / GATE_DIR, control_env=lambda: {})
    sandbox = open_sandbox(kind, stand_in, worktree)
    from openhands.sdk import Agent, Conversation
    from openhands.sdk.event import ActionEvent, MessageEvent

    from openhands_driver.llm import model_llm

    final: list[str] = []

    def collect(event) -> None:
        if isinstance(event, ActionEvent) and event.tool_name == "finish":
            final.append(str(getattr(event.action, "message", "")))
        elif isinstance(event, MessageEvent) and event.source == "agent":
            final.append(" ".join(getattr(c, "text", "") for c in event.llm_message.content))

    try:
        agent = Agent(llm=model_llm(request.agent_model, usage_id="autofix"), tools=_tools({}, sandbox))
        conv = Conversation(agent=agent, workspace=str(worktree), callbacks=[collect],
                            max_iteration_per_run=request.max_iterations, visualizer=None)
        # no ``secrets=``: the SDK would inject them into commands naming them; the sandbox has no key
        try:
            conv.send_message(message)
            conv.run()
        finally:
            conv.close()
    finally:
        sandbox.close()
    return final[-1] if final else ""


def pr_body(capsule: dict, repro_before: str, repro_after: str, rationale: str, diffstat: str,
            tests: str) -> str:
    excerpt = "\n".join(capsule.get("log_excerpt", [])[-12:])
    return (f"## Fix: `{capsule['model']}` fails stage {capsule['stage']} ({capsule['stage_name']})\n\n"
            f"Found by the model compatibility gate (run `{capsule['run_id']}`), classified "
            f"**{capsule['kind']}**: `{capsule['error']}`\n\n### Reproduce\n\n"
            "```\nLLM_API_KEY=... python repro.py   # generated standalone script, attached to the run\n```\n\n"
            f"Before this change:\n```\n{repro_before[-1500:]}\n```\nAfter:\n```\n{repro_after[-800:]}\n```\n\n"
            f"### Log excerpt\n```\n{excerpt}\n```\n\n### Rationale\n{rationale or '(the agent gave none)'}\n\n"
            f"### Changes\n```\n{diffstat}\n```\n\n### Tests\n```\n{tests[-1200:]}\n```\n")


def _publish(repo: Path, branch: str, title: str, body_file: Path, allow: bool) -> tuple[str | None, list[str]]:
    remote = _git(repo, "remote", check=False).splitlines()
    remote_name = "origin" if "origin" in remote else (remote[0] if remote else "origin")
    commands = [f"git -C {shlex.quote(str(repo))} push {remote_name} {branch}",
                f"cd {shlex.quote(str(repo))} && gh pr create --head {branch} --title {shlex.quote(title)} "
                f"--body-file {shlex.quote(str(body_file))}"]
    gh = shutil.which("gh")
    if not (allow and gh and remote):
        return None, commands
    if subprocess.run([gh, "auth", "status"], capture_output=True, timeout=30).returncode != 0:
        return None, commands
    push = subprocess.run(["git", "-C", str(repo), "push", remote_name, branch], capture_output=True, text=True,
                          timeout=120)
    if push.returncode != 0:
        return None, commands
    pr = subprocess.run([gh, "pr", "create", "--head", branch, "--title", title, "--body-file", str(body_file)],
                        cwd=repo, capture_output=True, text=True, timeout=120)
    return (pr.stdout.strip() or None) if pr.returncode == 0 else None, ([] if pr.returncode == 0 else commands[1:])


def autofix(request: AutofixRequest, agent=run_agent) -> AutofixOutcome:
    run_dir = Path(request.run_dir)
    capsule_path = run_dir / "capsule.json"
    if not capsule_path.exists():
        raise UserError(f"run {run_dir.name} has no error capsule: every stage passed, nothing to fix")
    capsule = json.loads(capsule_path.read_text())
    if capsule.get("kind") != "sdk_incompatibility" and not request.force:
        return AutofixOutcome("refused", reason=f"the failure is classified {capsule.get('kind')} "
                              f"({capsule.get('category')}), not an SDK incompatibility; --force to try anyway")
    repo = Path(request.sdk_repo).resolve()
    if not (repo / ".git").exists():
        raise UserError(f"--sdk-repo {repo} is not a git checkout (no .git)")
    head_before = _git(repo, "rev-parse", "HEAD")
    secrets = [*secret_values(), *([request.agent_model.api_key] if request.agent_model.api_key else [])]
    report_dir = run_dir / "autofix"
    report_dir.mkdir(exist_ok=True)
    branch = branch_name(capsule.get("model") or "model", repo)
    work = Path(tempfile.mkdtemp(prefix="llm-gate-autofix-"))
    worktree = work / "sdk"
    _git(repo, "worktree", "add", "-q", "-b", branch, str(worktree), head_before)
    outcome = AutofixOutcome("still_failing", branch=branch, report_dir=str(report_dir))
    try:
        gate = worktree / GATE_DIR
        gate.mkdir()
        for name in ("repro.py", "capsule.md", "capsule.json"):
            shutil.copy2(run_dir / name, gate / name)
        before_code, before_out = run_repro(worktree, request.timeout_s)
        outcome.repro_before = before_code
        (report_dir / "repro_before.txt").write_text(redact(before_out, secrets))
        if before_code == 0:
            outcome.status, outcome.reason = "not_reproduced", "the repro passes on this SDK checkout already"
            return outcome
        rationale = agent(request, worktree, agent_message((gate / "capsule.md").read_text(), worktree,
                                                           capsule.get("model") or ""))
        (report_dir / "agent_final.txt").write_text(redact(rationale, secrets))
        _git(worktree, "add", "-A", "--", ".", *(f":(exclude,glob){p}" for p in NOT_COMMITTED))
        outcome.changed_files = _git(worktree, "diff", "--cached", "--name-only").splitlines()
        (report_dir / "patch.diff").write_text(redact(_git(worktree, "diff", "--cached"), secrets))
        after_code, after_out = run_repro(worktree, request.timeout_s)
        outcome.repro_after = after_code
        (report_dir / "repro_after.txt").write_text(redact(after_out, secrets))
        if not outcome.changed_files:
            outcome.status, outcome.reason = "no_change", "the agent changed no file"
            return outcome
        if after_code != 0:
            outcome.reason = "the repro still fails after the agent's patch (branch left uncommitted)"
            return outcome
        test_code, test_out = targeted_tests(worktree, outcome.changed_files, request.test_cmd, request.timeout_s)
        outcome.tests = redact(test_out, secrets)[-1500:]
        if test_code != 0:
            outcome.status, outcome.reason = "tests_failed", "the repro passes but the targeted tests fail"
            return outcome
        diffstat = _git(worktree, "diff", "--cached", "--stat")
        title = f"Fix {capsule.get('model')}: stage {capsule.get('stage')} {capsule.get('stage_name')}"
        body = redact(pr_body(capsule, before_out, after_out, rationale, diffstat, test_out), secrets)
        body_file = report_dir / "pr_body.md"
        body_file.write_text(body)
        _git(worktree, "-c", "user.name=llm-gate autofix", "-c", "user.email=llm-gate@localhost", "commit", "-q",
             "-m", title, "-m", f"Gate run {capsule.get('run_id')}; repro failed before, passes after.\n\n"
             + redact(rationale, secrets)[:2000])
        outcome.commit = _git(worktree, "rev-parse", "--short", "HEAD")
        outcome.status, outcome.reason = "fixed", "the repro fails before and passes after; tests pass"
        outcome.pr_url, outcome.next_commands = _publish(repo, branch, title, body_file, request.open_pr)
        return outcome
    finally:
        _git(repo, "worktree", "remove", "--force", str(worktree), check=False)
        shutil.rmtree(work, ignore_errors=True)
        if _git(repo, "rev-parse", "HEAD") != head_before:  # never expected; say so loudly
            outcome.reason += " | WARNING: the SDK checkout's HEAD moved"
        (report_dir / "outcome.json").write_text(redact(json.dumps(outcome.to_dict(), indent=2), secrets))
