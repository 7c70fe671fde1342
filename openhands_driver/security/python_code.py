"""Inline python (`python3 -c`, here-docs, exec strings), read with the ast module (imported only
when there is python to read)."""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from .common import _Ctx
from .risk import HIGH, MEDIUM
from .shell import _Word
from .tables import _URL_RE

if TYPE_CHECKING:
    from .checker import _Checker


_PY_NET_MODULES = {"urllib", "http", "requests", "httpx", "aiohttp", "socket", "ftplib", "smtplib",
                   "telnetlib", "paramiko", "urllib3", "websocket", "websockets", "xmlrpc", "ssl",
                   "asyncssh", "pycurl", "grpc", "poplib", "imaplib", "nntplib"}
_PY_EXEC_UNAMBIGUOUS = {"system", "popen", "Popen", "check_output", "check_call", "getoutput",
                        "getstatusoutput", "spawn", "spawnl", "spawnlp", "spawnv", "spawnvp", "spawnve",
                        "spawnvpe", "execl", "execlp", "execle", "execv", "execvp", "execve", "execvpe",
                        "posix_spawn", "posix_spawnp", "create_subprocess_shell", "create_subprocess_exec"}
_PY_REFLECTION = {"__builtins__", "__dict__", "__subclasses__", "__globals__", "__code__", "__getattribute__",
                  "__class__", "__bases__", "__mro__", "__loader__"}
_PY_EXEC_BY_MODULE = {
    "subprocess": {"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"},
    "os": _PY_EXEC_UNAMBIGUOUS - {"Popen", "check_output", "check_call", "getoutput", "getstatusoutput",
                                  "create_subprocess_shell", "create_subprocess_exec"},
    "posix": {"system", "execv", "execve", "posix_spawn", "posix_spawnp"},
    "asyncio": {"create_subprocess_shell", "create_subprocess_exec"},
    "pty": {"spawn"}, "commands": {"getoutput", "getstatusoutput"},
}


class _PythonCheck:
    """Inline python (`python3 -c`, here-docs, exec strings), read with the ast module."""

    def __init__(self, checker: _Checker, ctx: _Ctx):
        self.c, self.ctx = checker, ctx
        self.aliases: dict[str, str] = {}   # local name -> module path ("sp" -> "subprocess")
        self.assigned: dict[str, object] = {}

    def check(self, code: str) -> None:
        import ast

        self.ast = ast
        c = self.c
        c.code_common("python", code, self.ctx)
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            c.add(MEDIUM, "script.run", "inline python that cannot be parsed (not analysed)")
            return
        strings, endpoints = [], []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname \
                        else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                    isinstance(node.targets[0], ast.Name):
                self.assigned[node.targets[0].id] = node.value
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.append(node.value)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2 and all(
                    isinstance(e, ast.Constant) for e in node.elts) and isinstance(node.elts[0].value, str) \
                    and isinstance(node.elts[1].value, int):
                endpoints.append(f"{node.elts[0].value}:{node.elts[1].value}")
        modules = {v.split(".")[0] for v in self.aliases.values()}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                modules |= self.call(node)
            elif (isinstance(node, ast.Attribute) and node.attr in _PY_REFLECTION) or (
                    isinstance(node, ast.Name) and node.id in _PY_REFLECTION):
                c.add(HIGH, "code.dynamic", "inline python uses reflection (dunder attributes) the policy "
                                            "cannot follow")
        if modules & {"ctypes", "cffi", "marshal", "pickle", "dill", "code", "runpy"}:
            c.add(HIGH, "code.dynamic", "inline python loads code or native calls the policy cannot follow")
        for text in strings:
            if "/" in text or text.startswith((".", "~")):
                c.read(_Word(text), self.ctx, "inline python")
        if modules & _PY_NET_MODULES:
            urls = [u for text in strings for u in _URL_RE.findall(text)] + endpoints
            if not urls:
                c.add(HIGH, "net.unchecked", "inline python opens network connections to an address the "
                                             "policy cannot check")
            for url in urls:
                c.destination("inline python", _Word(url), self.ctx,
                              scheme="tcp" if "://" not in url else "http")

    def dotted(self, node) -> str:
        ast, parts = self.ast, []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
            return ".".join(reversed(parts))
        if isinstance(node, ast.Call) and self.dotted(node.func) in ("__import__", "importlib.import_module"):
            module = self.text(node.args[0]) if node.args else None
            if module:  # __import__('os').system -> os.system
                parts.append(module)
                return ".".join(reversed(parts))
        return ""

    def text(self, node, depth: int = 0):
        """A string or path value known before running, else None."""
        ast = self.ast
        if node is None or depth > 6:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.assigned:
            return self.text(self.assigned[node.id], depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self.text(node.left, depth + 1), self.text(node.right, depth + 1)
            return posixpath.join(left, right) if left is not None and right is not None else None
        if isinstance(node, ast.Call) and self.dotted(node.func).split(".")[-1] in (
                "Path", "PurePath", "PosixPath", "join", "expanduser", "str", "fspath", "abspath"):
            parts = [self.text(a, depth + 1) for a in node.args]
            if any(p is None for p in parts):
                return None
            return posixpath.join(*parts) if parts else "."
        return None

    def path_arg(self, node, verb: str, recursive: bool = False) -> None:
        value = self.text(node)
        if value is None:
            self.c.add(HIGH, "fs.unknown-path", f"inline python {verb} a path the policy cannot resolve")
        else:
            self.c.write(_Word(value), self.ctx, f"inline python {verb}", recursive=recursive)

    def call(self, node) -> set:
        ast, c = self.ast, self.c
        full = self.dotted(node.func)
        last = full.rsplit(".", 1)[-1] if full else getattr(node.func, "attr", "")
        module = full.split(".")[0] if "." in full else ""
        args = list(node.args)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        arg = (lambda i: args[i] if len(args) > i else None)
        is_module_fn = module in ("os", "shutil", "subprocess", "asyncio", "pty", "commands", "posix",
                                  "pathlib")
        if full in ("getattr", "setattr", "delattr", "globals", "vars", "locals", "builtins.getattr"):
            attr = self.text(arg(1))
            if full != "getattr" or attr is None or attr in _PY_EXEC_UNAMBIGUOUS | _PY_REFLECTION or attr in (
                    "environ", "rmtree", "remove", "unlink", "kill", "chown", "chmod", "rename", "open",
                    "write_text", "write_bytes"):
                c.add(HIGH, "code.dynamic",
                      f"inline python uses {full}() to reach names the policy cannot follow")
        if last in _PY_EXEC_BY_MODULE.get(module, ()) or (
                last in _PY_EXEC_UNAMBIGUOUS and not is_module_fn and isinstance(node.func, ast.Attribute)):
            self.command(last, module, arg(1) if last.startswith(("exec", "spawn")) and arg(1) is not None
                         else (arg(0) if arg(0) is not None else kw.get("args")), kw)
        elif full in ("exec", "eval", "compile", "builtins.exec", "builtins.eval"):
            value = self.text(arg(0))
            if value is None:
                c.add(HIGH, "code.dynamic", f"inline python {last}() runs code built at run time")
            else:
                _PythonCheck(c, self.ctx.child()).check(value)
        elif full in ("__import__", "importlib.import_module"):
            value = self.text(arg(0))
            if value is None:
                c.add(HIGH, "code.dynamic", "inline python imports a module chosen at run time")
            else:
                return {value.split(".")[0]}
        elif full == "shutil.rmtree":
            self.path_arg(arg(0), "deletes", recursive=True)
        elif is_module_fn and last in ("remove", "unlink", "rmdir", "removedirs"):
            self.path_arg(arg(0), "deletes")
        elif is_module_fn and last in ("rename", "replace", "move", "renames"):
            self.path_arg(arg(0), "moves away")
            self.path_arg(arg(1), "moves into")
        elif is_module_fn and last in ("copy", "copy2", "copyfile", "copytree", "copymode", "copystat"):
            self.path_arg(arg(1), "copies into")
        elif is_module_fn and last in ("mkdir", "makedirs", "mkfifo", "mknod", "truncate", "utime"):
            self.path_arg(arg(0), "writes")
        elif is_module_fn and last in ("symlink", "link"):
            self.path_arg(arg(1), "creates a link at")
            self.link_target(arg(0))
        elif is_module_fn and last in ("chmod", "lchmod"):
            mode = arg(1)
            if isinstance(mode, ast.Constant) and isinstance(mode.value, int):
                c.mode_check("os.chmod", format(mode.value, "o"))
            self.path_arg(arg(0), "changes permissions of")
        elif last in ("chown", "lchown", "fchown", "setuid", "setgid", "seteuid", "setegid", "setreuid",
                      "setresuid", "setgroups", "chroot"):
            c.add(HIGH, "priv.owner", f"inline python {last}() changes ownership or privileges")
        elif is_module_fn and last in ("kill", "killpg"):
            pid = arg(0)
            value = str(pid.value) if isinstance(pid, ast.Constant) and isinstance(pid.value, int) else "$PID"
            c.h_kill("os.kill", [_Word(value, value == "$PID")], self.ctx, None)
        elif full in ("open", "io.open", "builtins.open", "os.open", "codecs.open"):
            mode = self.text(arg(1) if arg(1) is not None else kw.get("mode")) or ""
            flags = ast.dump(arg(1)) if full == "os.open" and arg(1) is not None else ""
            if set(mode) & set("wax+") or re.search(r"O_(?:WRONLY|RDWR|CREAT|TRUNC|APPEND)", flags):
                self.path_arg(arg(0) if arg(0) is not None else kw.get("file"), "writes")
        elif isinstance(node.func, ast.Attribute) and not is_module_fn and last in (
                "write_text", "write_bytes", "touch", "mkdir", "unlink", "rmdir", "rename", "replace",
                "chmod", "symlink_to", "hardlink_to", "open", "rmtree"):
            receiver = node.func.value
            if last == "open":
                mode = self.text(arg(0) if arg(0) is not None else kw.get("mode")) or ""
                if not set(mode) & set("wax+"):
                    return set()
            if last in ("rename", "replace"):
                self.path_arg(arg(0), "moves into")
            if last in ("symlink_to", "hardlink_to"):
                self.link_target(arg(0))
            verb = "deletes" if last in ("unlink", "rmdir", "rmtree") else "writes"
            self.path_arg(receiver, verb, recursive=last == "rmtree")
        return set()

    def link_target(self, node) -> None:
        target = self.text(node)
        if target is None or self.c.places(_Word(target), self.ctx)[0][0] in ("outside", "unknown", "skills"):
            self.c.add(HIGH, "fs.link-outside", "inline python links to a path outside the incident's target")

    def command(self, last: str, module: str, node, kw: dict) -> None:
        ast, c = self.ast, self.c
        shell = module == "os" and last in ("system", "popen") or last in (
            "getoutput", "getstatusoutput", "create_subprocess_shell") or (
            isinstance(kw.get("shell"), ast.Constant) and kw["shell"].value is True)
        value = self.text(node)
        if value is not None:
            if shell:
                c.script(value, self.ctx.child())
            else:
                c.run([_Word(value)], self.ctx.child(), None)
        elif isinstance(node, (ast.List, ast.Tuple)) and node.elts and all(
                self.text(e) is not None for e in node.elts):
            c.run([_Word(self.text(e)) for e in node.elts], self.ctx.child(), None)
        else:
            c.add(HIGH, "code.dynamic", f"inline python {last}() runs a command built at run time")
