"""Shell builtins and wrappers: commands that run other commands or touch the shell's own state
(targetctl, env, set/declare/alias, eval, source, cd, nohup/timeout/..., watch, xargs, trap, grep)."""

from __future__ import annotations

import posixpath
import re
import shlex

from .common import _flag, _options, _short
from .files import _find_parts, _found
from .risk import HIGH, MEDIUM
from .shell import _Word
from .tables import _ASSIGN_RE, _WRAPPERS


class _CommandChecks:
    """Checker part: builtins and wrappers; the commands they run are judged by `run`/`script`."""

    def h_targetctl(self, name, args, ctx, cmd):
        sub = args[0].text if args else ""
        if sub == "exec":
            rest = args[1:]
            rest = rest[1:] if rest and rest[0].text == "--" else rest
            if rest:
                self.run(rest, self.target_ctx(ctx), cmd)
        elif sub == "restart":
            self.add(MEDIUM, "target.restart", "targetctl restart restarts the incident's service")

    def h_env(self, name, args, ctx, cmd):
        i = 0
        while i < len(args):
            t = args[i].text
            if t in ("-u", "--unset"):
                i += 2
            elif t in ("-C", "--chdir") and i + 1 < len(args):
                place = self.places(args[i + 1], ctx)[0]
                ctx = ctx.child(cwd=place[1] if place[0] != "unknown" else None)
                i += 2
            elif t in ("-S", "--split-string") or (t.startswith("-S") and len(t) > 2):
                attached = len(t) > 2 and not t.startswith("--")
                text = t[2:] if attached else (args[i + 1].text if i + 1 < len(args) else "")
                following = args[i + (1 if attached else 2):]
                self.script(" ".join([text] + [shlex.quote(w.text) for w in following]), ctx.child())
                return
            elif t.startswith("-"):
                i += 1
            elif _ASSIGN_RE.match(t):
                self.assignment(args[i], ctx, keep=False)
                i += 1
            else:
                break
        if i >= len(args):
            self.add(HIGH, "env.dump", "env prints the environment")
        else:
            self.run(args[i:], ctx.child(), cmd)

    def h_printenv(self, name, args, ctx, cmd):
        self.add(HIGH, "env.dump", f"{name} prints the environment")

    def h_set(self, name, args, ctx, cmd):
        if not args:
            self.add(HIGH, "env.dump", "set prints every shell variable")

    def h_declare(self, name, args, ctx, cmd):
        flags = [w.text for w in args if w.text.startswith(("-", "+"))]
        others = [w for w in args if not w.text.startswith(("-", "+"))]
        if name != "local" and not others and not any(set(f) & set("fF") for f in flags):
            self.add(HIGH, "env.dump", f"{' '.join([name] + flags)} prints variables")
        for word in others:
            if "=" in word.text:
                self.assignment(word, ctx, keep=True)

    def h_alias(self, name, args, ctx, cmd):
        for word in args:
            if "=" in word.text:
                self.script(word.text.split("=", 1)[1], ctx.child())

    def h_eval(self, name, args, ctx, cmd):
        text = " ".join(w.text for w in args)
        if any(w.dynamic and re.search(r"\$\(|`", w.text) for w in args):
            self.add(HIGH, "code.dynamic", "eval runs text produced at run time")
        self.script(text, ctx.child())

    def h_source(self, name, args, ctx, cmd):
        if args:
            self.script_file(name, args[0], ctx, cmd)

    def h_cd(self, name, args, ctx, cmd):
        pos = [w for w in args if not w.text.startswith("-") or w.text == "-"]
        if name == "popd" or (pos and pos[0].text == "-"):
            ctx.cwd = None
        elif not pos:
            ctx.cwd = self.home
        else:
            kind, path = self.places(pos[0], ctx)[0]
            ctx.cwd = None if kind in ("unknown", "null") else path
        if ctx.where == "host" and ctx.depth == 0 and (ctx.cwd is None or self.classify(ctx.cwd, ctx) in (
                "outside", "skills")):
            self.add(MEDIUM, "shell.cwd", f"{name} moves the shell outside the workspace and the target; "
                                            "later relative paths are judged from the workspace")

    def h_wrapper(self, name, args, ctx, cmd):
        if name == "command" and args and args[0].text in ("-v", "-V"):
            return
        short, long_values, skip = _WRAPPERS[name]
        flags, rest = _options(args, short, long_values, stop_at_positional=True)
        if name == "flock" and len(rest) >= 3 and rest[1].text in ("-c", "--command"):
            self.script(rest[2].text, ctx.child())
            return
        rest = rest[skip:]
        if rest:
            self.run(rest, ctx.child(), cmd)

    def h_watch(self, name, args, ctx, cmd):
        flags, rest = _options(args, "nqd", ("--interval", "--differences"), stop_at_positional=True)
        if rest:
            self.script(" ".join(w.text for w in rest), ctx.child())

    def h_xargs(self, name, args, ctx, cmd):
        flags, rest = _options(args, "adEeIiLlnPs", ("--arg-file", "--delimiter", "--eof", "--replace",
                                                       "--max-lines", "--max-args", "--max-procs",
                                                       "--max-chars", "--process-slot-var"), True)
        repl = _flag(flags, "-I", "--replace", "-i")
        repl = "{}" if repl is True else (repl.text if isinstance(repl, _Word) else None)
        words = rest or [_Word("echo")]
        inputs = self.piped_paths(cmd) or [_Word("$XARGS_INPUT", dynamic=True)]
        for item in inputs:
            if repl:
                new = [_Word(w.text.replace(repl, item.text), w.dynamic or (repl in w.text and item.dynamic),
                             w.glob) for w in words]
            else:
                new = words + [item]
            self.run(new, ctx.child(), None)

    def piped_paths(self, cmd) -> list | None:
        """Paths an upstream `find` prints (what xargs will receive), or None."""
        up = cmd.upstream if cmd is not None else None
        if up is None or not up.words or posixpath.basename(up.words[0].text) != "find":
            return None
        starts, _, named = _find_parts(up.words[1:])
        return [_found(s, named) for s in starts]

    def h_trap(self, name, args, ctx, cmd):
        if len(args) >= 2 and not args[0].text.startswith("-"):
            self.script(args[0].text, ctx.child())  # runs later, on the signal

    def h_grep(self, name, args, ctx, cmd):
        """Searching files outside the target for secrets is credential hunting."""
        flags, pos = _options(args, "efmABCdD", ("--regexp", "--file", "--max-count", "--context"))
        patterns = [v.text for f, v in flags if f in ("-e", "--regexp") and isinstance(v, _Word)]
        paths = pos if patterns else pos[1:]
        patterns += [] if patterns else [w.text for w in pos[:1]]
        if not any(re.search(r"(?i)pass(?:word|wd)?|secret|token|api[_-]?key|private|credential|AKIA|"
                             r"bearer|authorization", p) for p in patterns):
            return
        recursive = any(f in ("-r", "-R", "--recursive", "--dereference-recursive") for f, _ in flags)
        if name in ("rg", "ag"):
            recursive = True
        paths = paths or ([_Word(".")] if recursive else [])
        for word in paths:
            if any(kind not in ("target", "target_root", "null") for kind, _ in self.places(word, ctx)):
                self.add(HIGH, "secret.file", f"{name} searches {_short(word.text, 40)} for credentials, "
                                              "outside the incident's target")
