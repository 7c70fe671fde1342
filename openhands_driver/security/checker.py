"""The checker: assess() runs one tool call through it. `_Checker` holds the findings and the
shell structure (commands, assignments, redirections, dispatch to a handler); the handlers for each
kind of command live in the mixins it is built from (paths, network, inline_code, commands, files,
containers, processes)."""

from __future__ import annotations

import os
import posixpath
import re

from .commands import _CommandChecks
from .common import _Ctx, _short, _written_text
from .containers import _ContainerChecks
from .files import _FileChecks
from .inline_code import _InterpreterChecks
from .network import _endpoint, _NetworkChecks
from .paths import _normpath, _PathChecks
from .processes import _ProcessChecks
from .risk import HIGH, LOW, MEDIUM, risk_rank
from .scope import IncidentScope, RiskAssessment
from .shell import _WRITE_OPS, ShellSyntaxError, _Command, _parse, _Script, _Word
from .tables import (_ASSIGN_RE, _CRED_RE, _DANGER_RE, _HANDLERS, _MAX_DEPTH, _NO_READ_CHECK, _READ_ONLY,
                     _RISKY_VARS, _SECRET_NAME_RE, _VAR_REF_RE)


_TERMINAL_TOOLS = ("terminal", "execute_bash", "bash")
_EDITOR_TOOLS = ("file_editor", "str_replace_editor")
_SAFE_TOOLS = ("invoke_skill", "finish", "think", "task_tracker")
# --toolset api (api_tools.py): reads are LOW, changes to the service MEDIUM
_API_READS = ("query_logs", "query_metrics", "write_incident_report", "acknowledge_alert",
              "escalate_pagerduty")
_API_CHANGES = ("scale_service",)


def assess(tool: str, arguments: dict, scope: IncidentScope, *, cwd: str | None = None) -> RiskAssessment:
    """Risk of one tool call, from the call itself (the model's own label plays no part).

    `cwd`: the agent terminal's current directory when known (the shell persists between actions;
    the SDK reports it in the terminal observation's metadata). Default: the workspace.
    """
    checker = _Checker(scope, cwd)
    arguments = arguments if isinstance(arguments, dict) else {"value": arguments}
    try:
        checker.secret_values(arguments)
        if tool in _TERMINAL_TOOLS:
            checker.terminal(arguments)
        elif tool in _EDITOR_TOOLS:
            checker.file_editor(arguments)
        elif tool == "call_ops_endpoint":
            if str(arguments.get("method") or "GET").upper() != "GET":
                checker.add(MEDIUM, "api.change", f"POST {arguments.get('path')}: changes the service")
        elif tool in _API_CHANGES:
            checker.add(MEDIUM, "api.change", f"{tool}: changes the service")
        elif tool not in _SAFE_TOOLS and tool not in _API_READS:
            checker.add(MEDIUM, "tool.unknown", f"unknown tool {tool!r}: the policy has no rules for it")
    except RecursionError:
        checker.add(HIGH, "shell.nested", "the action is nested too deeply to analyse")
    except Exception as exc:  # a policy bug must not let the action through: fail closed
        checker.add(HIGH, "policy.error", f"the policy could not analyse this action "
                                          f"({type(exc).__name__}: {_short(str(exc), 60)})")
    return checker.result()


class _Checker(_PathChecks, _NetworkChecks, _InterpreterChecks, _CommandChecks, _FileChecks,
               _ContainerChecks, _ProcessChecks):
    """Collects (risk, rule id, reason) findings for one action."""

    def __init__(self, scope: IncidentScope, cwd: str | None = None):
        self.scope = scope
        self.cwd = _normpath(cwd) if cwd and cwd.startswith("/") else scope.workspace or None
        self.findings: list[tuple[str, str, str]] = []
        self.home = os.path.expanduser("~")
        self.target = _endpoint(scope.target_url) if scope.target_url else None

    # -- findings ---------------------------------------------------------------------------

    def add(self, risk: str, rule: str, reason: str) -> None:
        if (risk, rule, reason) not in self.findings:
            self.findings.append((risk, rule, reason))

    def result(self) -> RiskAssessment:
        if not self.findings:
            return RiskAssessment(LOW, ("read-only: no risky effect found",), ("read-only",))
        ordered = sorted(self.findings, key=lambda f: -risk_rank(f[0]))  # stable: discovery order
        reasons = []
        for _, _, reason in ordered:
            for value in self.scope.secret_values:
                reason = reason.replace(value, "***")
            if reason not in reasons:
                reasons.append(reason)
        rules = tuple(dict.fromkeys(rule for _, rule, _ in ordered))
        return RiskAssessment(ordered[0][0], tuple(reasons), rules)

    def secret_values(self, arguments) -> None:
        texts = []

        def collect(value) -> None:
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    collect(item)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    collect(item)

        collect(arguments)
        for value in self.scope.secret_values:
            if len(value) >= 4 and any(value in text for text in texts):
                self.add(HIGH, "secret.value", "contains the value of a secret (redacted)")

    # -- tools ------------------------------------------------------------------------------

    def host_ctx(self) -> _Ctx:
        return _Ctx("host", self.cwd, {})

    def target_ctx(self, ctx: _Ctx, cwd: str | None = None) -> _Ctx:
        return ctx.child(where="target", cwd=cwd or self.scope.target_root or None)

    def terminal(self, arguments: dict) -> None:
        command = arguments.get("command", "")
        if not isinstance(command, str):
            self.add(MEDIUM, "tool.unknown", "terminal command is not text")
            return
        if arguments.get("is_input"):
            if command.strip() in ("", "C-c", "C-d", "C-z", "C-\\", "q", "y", "n", "yes", "no"):
                return
            self.add(MEDIUM, "tool.input", "sends input to a running process; the policy cannot "
                                           "tell what that process does with it")
        self.secret_refs(command)
        self.script(command, self.host_ctx())

    def file_editor(self, arguments: dict) -> None:
        command, path = arguments.get("command", ""), arguments.get("path", "")
        word = _Word(str(path or ""))
        ctx = self.host_ctx()
        if not path:
            self.add(MEDIUM, "tool.unknown", "file_editor call without a path")
        elif command == "view":
            self.read(word, ctx, "file_editor views")
        elif command in ("create", "str_replace", "insert", "undo_edit"):
            self.read(word, ctx, "file_editor edits")
            self.write(word, ctx, f"file_editor {command} writes")
            text = arguments.get("file_text") or arguments.get("new_str")
            if isinstance(text, str):
                self.written_code(word, text, ctx)
        else:
            self.add(MEDIUM, "tool.unknown", f"file_editor command {command!r} is not one the policy knows")

    # -- shell structure --------------------------------------------------------------------

    def secret_refs(self, text: str) -> None:
        for match in _VAR_REF_RE.finditer(text):
            bang, name = match.groups()
            if bang:
                self.add(HIGH, "env.dump", f"indirect expansion ${{!{name}...}} can read any variable")
            elif self.is_secret_name(name):
                self.add(HIGH, "secret.var", f"expands ${name}, which holds a secret")

    def is_secret_name(self, name: str) -> bool:
        return name in self.scope.secret_names or bool(_SECRET_NAME_RE.search(name))

    def too_deep(self, ctx: _Ctx) -> bool:
        if ctx.depth > _MAX_DEPTH:
            self.add(HIGH, "shell.nested", "shell commands nested too deeply to analyse")
        return ctx.depth > _MAX_DEPTH

    def script(self, text: str, ctx: _Ctx) -> None:
        if self.too_deep(ctx):
            return
        try:
            parsed = _parse(text)
        except ShellSyntaxError as exc:
            self.add(MEDIUM, "shell.unparsed", f"cannot parse the command ({exc}); the policy "
                                                "cannot tell what it does")
            danger = _DANGER_RE.search(text)
            if danger:
                self.add(HIGH, "shell.unparsed-danger", f"unparseable command with a dangerous part "
                                                        f"({_short(danger.group(0).strip(), 30)!r})")
            for cred in _CRED_RE.finditer(text):
                self.add(HIGH, "secret.file", f"reads credentials ({cred.group(0).strip('/~')})")
            if exc.partial is not None:  # what the grammar recovered is judged too
                self.parsed(exc.partial, ctx)
            return
        self.parsed(parsed, ctx)

    def parsed(self, script: _Script, ctx: _Ctx) -> None:
        """The commands of a parsed script, then each nested command body one level deeper."""
        if self.too_deep(ctx):
            return
        for text in script.prompt_expansions:
            self.add(HIGH, "code.dynamic", f"{_short(text, 40)} expands a value as a prompt, which runs "
                                           "the command substitutions in it")
        for cmd in script.commands:
            self.command(cmd, ctx)
        for sub in script.subs:
            self.parsed(sub, ctx.child())

    def command(self, cmd: _Command, ctx: _Ctx) -> None:
        if cmd.loop is not None:  # for NAME in WORDS: NAME takes each value
            name, items = cmd.loop
            values = [self.expand_all(w, ctx) for w in items or ()]
            ctx.vars[name] = tuple(v for vs in values for v in vs) if items and all(values) else None
            return
        words = list(cmd.words)
        assignments = []
        while words and _ASSIGN_RE.match(words[0].text):
            assignments.append(words.pop(0))
        for word in assignments:
            self.assignment(word, ctx, keep=not words)
        for op, target in cmd.redirs:
            if op in _WRITE_OPS:
                self.write(target, ctx, "redirects output to")
                content = _written_text(words, cmd)
                if content is not None:
                    self.written_code(target, content, ctx)
            else:
                self.read(target, ctx, "reads")
        if words:
            self.run(words, ctx, cmd)

    def written_code(self, path: _Word, text: str, ctx: _Ctx) -> None:
        """A script written now may run later: judge its text like a command."""
        lang = {".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ksh": "shell", ".py": "python"}.get(
            posixpath.splitext(path.text)[1])
        if lang is None and text.startswith("#!"):
            lang = "python" if "python" in text.split("\n", 1)[0] else "shell"
        if lang == "python":
            self.python_code(text, ctx.child())
        elif lang == "shell":
            self.script(text, ctx.child())

    def assignment(self, word: _Word, ctx: _Ctx, keep: bool) -> None:
        """NAME=value: flag variables that redirect later commands; remember the value if `keep`."""
        name, _, value = word.text.partition("=")
        name = name.split("[")[0].rstrip("+")
        rule = _RISKY_VARS.get(name)
        if rule:
            self.add(HIGH, rule, f"sets {name}, which changes what later commands run or reach")
        if keep:
            values = self.expand_all(_Word(value, word.dynamic, word.glob), ctx)
            ctx.vars[name] = tuple(values) if values else None

    def run(self, words: list, ctx: _Ctx, cmd: _Command | None) -> None:
        """Judge one simple command given as words (after assignments and redirections)."""
        if ctx.depth > _MAX_DEPTH:
            self.add(HIGH, "shell.nested", "commands nested too deeply to analyse")
            return
        names = self.expand_all(words[0], ctx)
        if not names or len(set(names)) != 1:
            self.add(HIGH, "code.dynamic", f"the command name {_short(words[0].text, 40)} is only "
                                           "known at run time")
            return
        name = posixpath.basename(names[0])
        args = words[1:]
        if name not in _NO_READ_CHECK:  # (targetctl/docker: their commands are judged where they run)
            for word in args:
                self.read(word, ctx, name)
        handler = _HANDLERS.get(name)
        if handler is None and re.fullmatch(r"python(?:\d+(?:\.\d+)?)?|pypy3?", name):
            handler = "python"
        if handler is not None:
            getattr(self, "h_" + handler)(name, args, ctx, cmd)
        elif name in _READ_ONLY:
            pass
        elif name.startswith("mkfs"):
            self.add(HIGH, "priv.system", f"{name} formats a file system")
        else:
            self.add(MEDIUM, "cmd.unknown", f"{name} is not a command the policy knows to be read-only")
            self.unknown_args(args, ctx)

    def unknown_args(self, args: list, ctx: _Ctx) -> None:
        """An unknown program may be a renamed shell or client: check scripts and URLs it is given."""
        for i, word in enumerate(args):
            if word.text in ("-c", "-e", "--command", "--eval") and i + 1 < len(args):
                self.script(args[i + 1].text, ctx.child())
            elif "://" in word.text and re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", word.text):
                self.destination(posixpath.basename(word.text.split("://")[0]) + " URL", word, ctx)
            elif re.search(r"\s", word.text.strip()) and ctx.depth < _MAX_DEPTH - 2:
                self.script(word.text, ctx.child(depth=ctx.depth + 3))
