"""Shells and interpreters: `sh -c`, `python3 -c/-m`, perl/ruby/node/php/awk code, scripts and
programs read from stdin (here-docs, pipes, downloads piped into a shell)."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from .common import _Ctx, _flag, _options, _short, _written_text
from .paths import _normpath, _under
from .python_code import _PythonCheck
from .risk import HIGH, MEDIUM
from .shell import ShellSyntaxError, _Command, _parse, _Word
from .tables import _DECODERS, _DOWNLOADERS, _PKG_READ, _URL_RE


_CODE_ENV_RE = re.compile(r"\benviron\b|\bgetenv\b|\bENVIRON\b|%ENV\b|\$ENV\b|\bprocess\.env\b|\bENV\s*\["
                          r"|\bENV\.fetch")
_CODE_ENV_NAME_RE = re.compile(r"""\s*(?:\[\s*|\.get\(\s*|\(\s*|\{\s*|\.fetch\(\s*|\.)['"]?([A-Za-z_]\w*)""")
_CODE_EXEC_RE = re.compile(r"\b(?:system|exec|execSync|spawn|spawnSync|popen|qx|IO\.popen|shell_exec|passthru"
                           r"|proc_open)\b")
_CODE_LITERAL_CMD_RE = re.compile(
    r"""\b(?:system|exec|execSync|popen|qx|shell_exec|passthru)\s*\(?\s*(['"])(.+?)(?<!\\)\1""")
_CODE_FS_RE = re.compile(r"\b(?:unlink|rmtree|rmdir|remove_tree|rm_rf|rm_r|rmSync|unlinkSync|writeFile\w*|"
                         r"appendFile\w*|File\.write|FileUtils\.\w+|file_put_contents|rename|chmod|chown|"
                         r"mkdir|truncate|symlink)\b|open\s*\(?[^)]*['\"]\s*(?:>|\+<|>>)")
_CODE_SOCKET_RE = re.compile(r"\b(?:socket|Socket|IO::Socket|TCPSocket|UDPSocket|fsockopen|net\.connect|"
                             r"createConnection|LWP|HTTP::Tiny|Net::HTTP|http\.get|https\.get|fetch)\b")
_SKILL_SCRIPT_RE = re.compile(r"^\.agents/skills/[A-Za-z0-9_-]+/(diagnose|remediate)\.py$")
_REPO_AGENTS = str(Path(__file__).resolve().parents[2] / ".agents")  # <repo>/.agents


class _InterpreterChecks:
    """Checker part: shells, interpreters and the code they are given."""

    def stdin_code(self, name: str, ctx: _Ctx, cmd: _Command | None, lang: str) -> None:
        """A shell or interpreter that reads its program from stdin."""
        run_text = {"python": self.python_code, "shell": self.script}.get(
            lang, lambda text, c: self.code_generic(lang, text, c))
        if cmd is not None and cmd.stdin is not None:
            run_text(cmd.stdin, ctx.child())
            return
        upstream = cmd.upstream if cmd is not None else None
        chain = []
        while upstream is not None:
            chain.append(upstream)
            upstream = upstream.upstream
        names = {posixpath.basename(w.text) for up in chain for w in up.words[:1]}
        if any(posixpath.basename(w.text) in _DOWNLOADERS for up in chain for w in up.words):
            self.add(HIGH, "net.pipe-shell", f"pipes downloaded content into {name}")
        elif names & _DECODERS:
            self.add(HIGH, "code.dynamic", f"pipes decoded or transformed text into {name}; the policy "
                                           "cannot see the commands")
        elif chain and _written_text(chain[0].words, chain[0]) is not None:  # echo/printf, cat/tee <<EOF
            run_text(_written_text(chain[0].words, chain[0]), ctx.child())
        elif chain:
            self.add(MEDIUM, "shell.stdin", f"pipes generated text into {name}; the policy cannot see "
                                            "the commands")
        else:
            self.add(MEDIUM, "shell.stdin", f"starts an interactive {name}; the policy cannot see "
                                            "what it will run")

    def h_shell(self, name, args, ctx, cmd):
        c_mode, stdin_flag, i = False, False, 0
        while i < len(args):
            t = args[i].text
            if t in ("-o", "+o", "--rcfile", "--init-file"):
                i += 2
                continue
            if t == "--":
                i += 1
                break
            if t.startswith(("-", "+")) and len(t) > 1:
                if not t.startswith("--"):
                    c_mode = c_mode or "c" in t[1:]
                    stdin_flag = stdin_flag or "s" in t[1:]
                i += 1
                continue
            break
        pos = args[i:]
        if c_mode:
            if pos:
                self.code_word_downloads(name, pos[0])
                self.script(pos[0].text, ctx.child())
        elif pos and pos[0].text != "-" and not stdin_flag:
            self.script_file(name, pos[0], ctx, cmd)
        else:
            self.stdin_code(name, ctx, cmd, "shell")

    def code_word_downloads(self, name: str, word: _Word) -> None:
        if word.dynamic and re.search(r"\$\(|`", word.text) and any(
                re.search(rf"\b{re.escape(tool)}\b", word.text) for tool in _DOWNLOADERS):
            self.add(HIGH, "net.pipe-shell", f"{name} runs code downloaded at run time")

    def script_file(self, name: str, word: _Word, ctx: _Ctx | None = None, cmd=None,
                    lang: str = "shell") -> None:
        if word.text in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0") and ctx is not None:
            self.stdin_code(name, ctx, cmd, lang)
        elif word.text.startswith("<(") and word.text.endswith(")") and ctx is not None:
            try:
                body = _parse(word.text[2:-1]).commands
            except ShellSyntaxError:
                body = []
            if body:  # as if piped: `sh <(curl ...)` == `curl ... | sh`
                self.stdin_code(name, ctx, _Command([], [], None, body[-1]), lang)
            else:
                self.add(MEDIUM, "shell.stdin", f"{name} runs the output of {_short(word.text, 50)}")
        else:
            self.add(MEDIUM, "script.run",
                     f"{name} runs {_short(word.text, 60)} (its contents are not analysed)")

    def h_python(self, name, args, ctx, cmd):
        i = 0
        while i < len(args):
            t = args[i].text
            if t in ("-W", "-X", "--check-hash-based-pycs"):
                i += 2
                continue
            if t == "-":
                break
            if t.startswith("-") and not t.startswith("--"):
                for j, ch in enumerate(t[1:], 1):
                    if ch in "cm":
                        attached = t[j + 1:]
                        following = args[i + 1] if i + 1 < len(args) else _Word("")
                        value = _Word(attached) if attached else following
                        rest = args[i + (1 if t[j + 1:] else 2):]
                        if ch == "c":
                            self.code_word_downloads(name, value)
                            self.python_code(value.text, ctx.child())
                        else:
                            self.python_module(name, value.text, rest, ctx, cmd)
                        return
                i += 1
                continue
            if t.startswith("--"):
                i += 1
                continue
            self.python_script(name, args[i], ctx, cmd)
            return
        self.stdin_code(name, ctx, cmd, "python")

    def python_script(self, name: str, word: _Word, ctx: _Ctx, cmd=None) -> None:
        if word.text in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0") or word.text.startswith("<("):
            self.script_file(name, word, ctx, cmd, "python")
            return
        ws = self.scope.workspace
        for text in self.expand_all(word, ctx) or [word.text]:
            path = _normpath(posixpath.join(ctx.cwd or "/nonexistent", text))
            rel = ""
            if ws and _under(path, ws) and ctx.where == "host":
                rel = path[len(ws):].lstrip("/")
            elif _under(path, _REPO_AGENTS) and ctx.where == "host":
                rel = ".agents/" + path[len(_REPO_AGENTS):].lstrip("/")
            skill = _SKILL_SCRIPT_RE.match(rel)
            if skill and skill.group(1) == "diagnose":
                continue
            if skill:
                self.add(MEDIUM, "skill.remediate", f"runs the {rel.split('/')[2]} skill's remediate.py "
                                                    "(changes the target)")
            else:
                self.add(MEDIUM, "script.run",
                         f"{name} runs {_short(text, 60)} (its contents are not analysed)")

    def python_module(self, name, module, rest, ctx, cmd):
        top = module.split(".")[0]
        sub = next((w.text for w in rest if not w.text.startswith("-")), "")
        if module in ("json.tool", "tabnanny", "platform", "sysconfig", "this", "calendar", "tokenize"):
            return
        if module in ("http.server", "SimpleHTTPServer", "smtpd", "xmlrpc.server", "pydoc", "CGIHTTPServer"):
            self.add(HIGH, "net.listen", f"{name} -m {module} serves files or programs to the network")
        elif top in ("pip", "ensurepip", "pipx", "uv"):
            if top == "ensurepip" or sub not in _PKG_READ:
                self.add(HIGH, "pkg.install",
                         f"{name} -m {module} {sub} downloads or changes installed software")
        elif module == "openhands_driver.targetctl":
            self.h_targetctl("targetctl", rest, ctx, cmd)
        else:
            self.add(MEDIUM, "script.run", f"{name} -m {module} runs a module (not analysed)")

    def h_code(self, name, args, ctx, cmd):
        """perl / ruby / node / php / lua with inline code."""
        code_flags = {"perl": "eE", "node": "ep", "nodejs": "ep", "php": "r"}.get(name, "e")
        inplace, code, i = False, None, 0
        while i < len(args):
            t = args[i].text
            if t in ("--eval", "--print"):
                code, i = (args[i + 1] if i + 1 < len(args) else _Word("")), i + 2
                break
            if t.startswith("-") and not t.startswith("--") and len(t) > 1:
                if name in ("perl", "ruby") and t[1] not in "MmIx" and "i" in t[1:]:
                    inplace = True
                if t[-1] in code_flags:
                    code, i = (args[i + 1] if i + 1 < len(args) else _Word("")), i + 2
                    break
                i += 1
                continue
            break
        if code is None:
            if i < len(args):
                self.script_file(name, args[i], ctx, cmd, name)
            else:
                self.stdin_code(name, ctx, cmd, name)
            return
        self.code_word_downloads(name, code)
        self.code_generic(name, code.text, ctx)
        if inplace:
            for word in args[i:]:
                if not word.text.startswith("-"):
                    self.write(word, ctx, f"{name} -i edits")

    def h_awk(self, name, args, ctx, cmd):
        flags, pos = _options(args, "fvFi", ("--file", "--assign", "--field-separator", "--include"))
        inplace = any(f in ("-i", "--include") and isinstance(v, _Word) and v.text == "inplace"
                      for f, v in flags)
        if _flag(flags, "-f", "--file"):
            self.add(MEDIUM, "script.run", f"{name} -f runs an awk program file (not analysed)")
            files = pos
        else:
            program = pos[0].text if pos else ""
            files = pos[1:]
            self.code_generic(name, program, ctx)
            for match in re.finditer(r'>>?\s*"([^"]+)"', program):
                self.write(_Word(match.group(1)), ctx, f"{name} writes")
            for match in re.finditer(r'"([^"]+)"\s*\|\s*getline|\|\s*"([^"]+)"', program):
                self.script(match.group(1) or match.group(2), ctx.child())
        if inplace:
            for word in files:
                self.write(word, ctx, f"{name} -i inplace edits")

    def code_common(self, lang: str, code: str, ctx: _Ctx) -> None:
        for match in _CODE_ENV_RE.finditer(code):
            tail = _CODE_ENV_NAME_RE.match(code, match.end())
            var = tail.group(1) if tail else None
            if var is None or var.startswith("_") or var in (
                    "items", "keys", "values", "copy", "get", "fetch", "to_h", "each", "entries", "update",
                    "setdefault", "pop", "clear"):
                self.add(HIGH, "env.dump", f"inline {lang} code reads the whole environment")
            elif self.is_secret_name(var):
                self.add(HIGH, "secret.var", f"inline {lang} code reads {var}, which holds a secret")
        if "docker.sock" in code:
            self.add(HIGH, "container.engine", f"inline {lang} code talks to the Docker engine socket")

    def code_generic(self, lang: str, code: str, ctx: _Ctx) -> None:
        """Regex checks for perl/ruby/node/php/awk code (no parser for those)."""
        self.code_common(lang, code, ctx)
        for match in re.finditer(r"""(['"])((?:(?!\1).)*)\1""", code):
            self.read(_Word(match.group(2)), ctx, f"inline {lang} code")
        urls = _URL_RE.findall(code)
        for url in urls:
            self.destination(f"inline {lang} code", _Word(url), ctx)
        if _CODE_SOCKET_RE.search(code) and not urls:
            self.add(HIGH, "net.unchecked", f"inline {lang} code opens network connections")
        literal = False
        for match in _CODE_LITERAL_CMD_RE.finditer(code):
            literal = True
            self.script(match.group(2), ctx.child())
        if lang in ("perl", "ruby", "php"):
            for match in re.finditer(r"`([^`]+)`", code):
                literal = True
                self.script(match.group(1), ctx.child())
        if _CODE_EXEC_RE.search(code) and not literal:
            self.add(HIGH, "code.dynamic", f"inline {lang} code runs commands built at run time")
        if lang not in ("awk", "gawk", "mawk", "nawk") and _CODE_FS_RE.search(code):
            self.add(HIGH, "fs.unknown-path",
                     f"inline {lang} code changes files; the policy cannot tell where")

    def python_code(self, code: str, ctx: _Ctx) -> None:
        _PythonCheck(self, ctx).check(code)
