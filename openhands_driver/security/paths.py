"""Words and paths: what a word can expand to, and where a path falls (the incident's target, the
workspace, the project's skills, outside); the write and credential-read checks built on that."""

from __future__ import annotations

import fnmatch
import posixpath
import re

from .common import _Ctx, _short, _token_at
from .risk import HIGH, MEDIUM
from .shell import _Word
from .tables import _CRED_RE, _DOTENV_RE, _ENVIRON_RE


_NULL_PATHS = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/stdin"}


def _normpath(path: str) -> str:
    norm = posixpath.normpath(path)
    return "/" + norm.lstrip("/") if norm.startswith("//") else norm


def _under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


def _glob_match(pattern: str, path: str) -> bool:
    """Would the shell glob `pattern` match `path`? (* and ? stay within a component; no dotfiles)."""
    if not re.search(r"[*?\[]", pattern):
        return False
    pats, names = pattern.split("/"), path.split("/")
    if len(pats) != len(names):
        return False
    return all(fnmatch.fnmatchcase(n, p) and (p.startswith(".") or not n.startswith(".") or n == p)
               for p, n in zip(pats, names))


class _PathChecks:
    """Checker part: word expansion, path classification, writes and credential reads."""

    def known_vars(self, ctx: _Ctx) -> dict:
        s = self.scope
        known = {"TARGETCTL_ROOT": (s.target_root,) if s.target_root else None,
                 "HOME": (self.home,), "PWD": (ctx.cwd,) if ctx.cwd else None,
                 "TARGETCTL_URL": (s.target_url,) if s.target_url else None,
                 "TARGETCTL_CONTAINER": (s.container,) if s.container else None}
        if s.backend == "local" and self.target and self.target[1]:
            known["TARGETCTL_EXPECTED_PORT"] = (str(self.target[1]),)
        known.update(ctx.vars)
        return known

    def expand_all(self, word: _Word, ctx: _Ctx) -> list[str] | None:
        """Possible values of a word after parameter expansion; None if not knowable."""
        if not word.dynamic:
            return [word.text]
        known = self.known_vars(ctx)
        results = [""]
        pos = 0
        for match in re.finditer(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", word.text):
            values = known.get(match.group(1) or match.group(2))
            if not values:
                return None
            chunk = word.text[pos:match.start()]
            results = [r + chunk + v for r in results for v in values][:32]
            pos = match.end()
        results = [r + word.text[pos:] for r in results]
        if any("$" in r or "`" in r for r in results):
            return None
        return results

    def places(self, word: _Word, ctx: _Ctx, with_display: bool = False) -> list[tuple]:
        """[(kind, absolute path)] for each value of a path word; kinds: null, unknown, target_root,
        target, workspace_root, workspace, skills, outside. A glob is judged by its base directory."""
        texts = self.expand_all(word, ctx)
        out = []
        for text in texts if texts is not None else [None]:
            kind, path, shown = self.place_one(word, text, ctx)
            out.append((kind, path, shown) if with_display else (kind, path))
        return out

    def place_one(self, word: _Word, text: str | None, ctx: _Ctx) -> tuple[str, str, str]:
        if text is None:
            return "unknown", word.text, word.text
        if text in _NULL_PATHS or text.startswith(("/dev/fd/", "/proc/self/fd/")) or (
                word.dynamic and text.startswith(("<(", ">(")) and text.endswith(")")):
            return "null", text, text  # (a process substitution is a /dev/fd/N pipe; its body is judged apart)
        if text == "~" or text.startswith("~/"):
            text = self.home + text[1:]
        elif text.startswith("~"):
            return "unknown", text, text
        if not text.startswith("/"):
            if ctx.cwd is None:
                return "unknown", text, text
            text = posixpath.join(ctx.cwd, text)
        shown = _normpath(text)
        if word.glob or (word.dynamic and re.search(r"[*?\[]", text)):
            parts = text.split("/")
            cut = next((i for i, p in enumerate(parts) if re.search(r"[*?\[{]", p)), len(parts))
            text = "/".join(parts[:cut]) or "/"
        path = _normpath(text)
        return self.classify(path, ctx), path, shown

    def classify(self, path: str, ctx: _Ctx) -> str:
        s = self.scope
        if ctx.where == "target" and s.backend == "docker":
            root = s.target_root or "/"
            return "target_root" if path == root else ("target" if _under(path, root) else "outside")
        if s.backend == "local" and s.target_root and _under(path, s.target_root):
            return "target_root" if path == s.target_root else "target"
        if s.workspace and _under(path, s.workspace):
            if path == s.workspace:
                return "workspace_root"
            return "skills" if path[len(s.workspace):].lstrip("/").split("/")[0] == ".agents" else "workspace"
        return "outside"

    def write(self, word: _Word, ctx: _Ctx, verb: str, recursive: bool = False) -> None:
        for kind, path, shown in self.places(word, ctx, with_display=True):
            shown = _short(shown)
            how = " recursively" if recursive else ""
            if kind == "null":
                continue
            if kind == "unknown":
                self.add(HIGH, "fs.unknown-path", f"{verb} {_short(word.text)}, a path the policy "
                                                  "cannot resolve before it runs")
            elif kind == "skills":
                self.add(HIGH, "fs.write-skills", f"{verb} {shown}, the project's skills (the "
                                                  "workspace's .agents links to the repository)")
            elif kind == "outside":
                self.add(HIGH, "fs.delete-outside" if recursive else "fs.write-outside",
                         f"{verb} {shown}{how}, outside the incident's target root")
            elif kind in ("target_root", "workspace_root") and recursive:
                which = "target root" if kind == "target_root" else "workspace"
                self.add(HIGH, "fs.delete-root", f"{verb} {shown}{how}: the incident's {which} itself")
            elif kind in ("target_root", "target"):
                self.add(MEDIUM, "fs.write-target", f"{verb} {shown}{how} inside the incident's target")
            else:
                self.add(MEDIUM, "fs.write-workspace",
                         f"{verb} {shown}{how} in the agent's scratch workspace")

    def read(self, word: _Word, ctx: _Ctx, who: str) -> None:
        """Credential and environment files named by a word (also as @file and key=file)."""
        texts = self.expand_all(word, ctx) or [word.text]
        for text in texts:
            candidates = {text, text.rsplit("@", 1)[-1], text.split("=", 1)[-1]}
            for cand in candidates:
                cred = _CRED_RE.search(cand)
                if cred:
                    self.add(HIGH, "secret.file", f"reads credentials ({_token_at(cand, cred)})")
                environ = _ENVIRON_RE.search(cand)
                if environ or _glob_match(cand, "/proc/1/environ"):
                    shown = _token_at(cand, environ) if environ else _short(cand, 60)
                    self.add(HIGH, "env.proc-environ", f"reads a process environment ({shown})")
                base = posixpath.basename(cand.rstrip("/"))
                if _DOTENV_RE.match(base) or _glob_match(base, ".env"):
                    kinds = {k for k, _ in self.places(_Word(cand, glob=True), ctx)}
                    if kinds - {"target", "target_root", "null"}:
                        self.add(HIGH, "secret.file", f"reads {_short(cand, 60)}, a .env file outside "
                                                      "the incident's target (it may hold API keys)")
                if re.search(r"[*?\[]", cand) and who not in ("ls", "find", "stat", "du", "test", "["):
                    home_cand = self.home + cand[1:] if cand.startswith("~") else cand
                    for sample in (f"{self.home}/.ssh/id_rsa", f"{self.home}/.aws/credentials",
                                   f"{self.home}/.netrc", f"{self.home}/.docker/config.json",
                                   "/etc/shadow", f"{self.home}/.git-credentials"):
                        if _glob_match(home_cand, sample):
                            self.add(HIGH, "secret.file", f"{who} {_short(cand, 60)} can read {sample}")
