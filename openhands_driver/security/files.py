"""File-changing commands: deletes, copies, moves, links, permissions, archives, editors, git."""

from __future__ import annotations

import posixpath
import re

from .common import _flag, _options, _short, _written_text
from .risk import HIGH, MEDIUM
from .sed import sed_effects
from .shell import _Word


def _find_parts(args: list):
    """find's (start paths, expression words, has a name filter)."""
    i = 0
    while i < len(args) and (args[i].text in ("-H", "-L", "-P") or args[i].text.startswith("-O")):
        i += 1
    if i < len(args) and args[i].text == "-D":
        i += 2
    starts = []
    while i < len(args) and not args[i].text.startswith(("-", "(", "!", ")")):
        starts.append(args[i])
        i += 1
    expr = args[i:]
    named = any(w.text in ("-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-wholename",
                           "-iwholename", "-samefile", "-inum") for w in expr)
    return starts or [_Word(".")], expr, named


def _found(start: _Word, named: bool) -> _Word:
    """What find matches under `start`: the start itself too, unless a name filter narrows it."""
    if not named:
        return start
    return _Word(start.text.rstrip("/") + "/*", start.dynamic, True)


_GIT_READ = {"status", "log", "diff", "show", "rev-parse", "ls-files", "ls-tree", "blame", "grep",
             "describe", "shortlog", "cat-file", "help", "version", "--version", "reflog",
             "whatchanged", "rev-list", "name-rev", "show-ref", "for-each-ref", "count-objects",
             "check-ignore", "--help", "diff-tree", "diff-files", "diff-index", "merge-base"}
_GIT_NETWORK = {"clone", "fetch", "pull", "push", "ls-remote", "submodule", "send-email", "request-pull",
                "svn", "p4", "remote-https", "fetch-pack", "send-pack", "daemon", "instaweb"}


class _FileChecks:
    """Checker part: rm, tee, cp/mv/ln/install, rsync, touch, chmod, dd, sed -i, tar, unzip,
    compressors, patch, sort -o, git, find, editors."""

    def h_rm(self, name, args, ctx, cmd):
        flags, pos = _options(args)
        names = {f for f, _ in flags}
        recursive = name == "rm" and bool(names & {"-r", "-R", "--recursive"})
        if "--no-preserve-root" in names:
            self.add(HIGH, "fs.delete-root", "rm --no-preserve-root")
        for word in pos:
            self.write(word, ctx, f"{name} deletes", recursive=recursive)

    def h_tee(self, name, args, ctx, cmd):
        for word in _options(args)[1]:
            self.write(word, ctx, "tee writes")
            content = cmd.stdin if cmd is not None and cmd.stdin is not None else (
                _written_text(cmd.upstream.words, cmd.upstream) if cmd is not None and cmd.upstream else None)
            if content is not None:
                self.written_code(word, content, ctx)

    def h_copy(self, name, args, ctx, cmd):
        flags, pos = _options(args, "tSmogb" if name == "install" else "tS",
                              ("--target-directory", "--suffix", "--mode", "--owner", "--group"))
        if name == "install":
            if _flag(flags, "-o", "--owner", "-g", "--group"):
                self.add(HIGH, "priv.owner", "install -o/-g sets file ownership")
            mode = _flag(flags, "-m", "--mode")
            if isinstance(mode, _Word):
                self.mode_check(name, mode.text)
            if _flag(flags, "-d", "--directory"):
                for word in pos:
                    self.write(word, ctx, "install creates")
                return
        target = _flag(flags, "-t", "--target-directory")
        if isinstance(target, _Word):
            dest, sources = target, pos
        elif len(pos) >= 2:
            dest, sources = pos[-1], pos[:-1]
        elif name == "ln" and pos:
            dest, sources = _Word(posixpath.basename(pos[0].text.rstrip("/")) or "."), pos
        else:
            return
        verb = {"cp": "cp copies into", "mv": "mv moves into", "install": "install copies into",
                "ln": "ln creates a link at"}[name]
        self.write(dest, ctx, verb)
        if name == "mv":
            for word in sources:
                self.write(word, ctx, "mv moves away")
        if name == "ln":
            symbolic = _flag(flags, "-s", "--symbolic")
            dest_dir = posixpath.dirname(self.places(dest, ctx)[0][1]) if symbolic else None
            for word in sources:
                link_ctx = ctx.child(cwd=dest_dir) if dest_dir and dest_dir.startswith("/") else ctx
                for kind, path in self.places(word, link_ctx):
                    if kind in ("outside", "unknown", "skills"):
                        self.add(HIGH, "fs.link-outside", f"ln links to {_short(path, 60)}, outside the "
                                                          "incident's target")

    def h_rsync(self, name, args, ctx, cmd):
        flags, pos = _options(args, "e", ("--rsh", "--rsync-path", "--exclude", "--include", "--filter"))
        remote = [w for w in pos if w.text.startswith("rsync://") or re.match(r"^[^/.][^/]*:", w.text)]
        if remote or _flag(flags, "-e", "--rsh"):
            self.add(HIGH, "net.egress", "rsync sends data to a remote host")
        elif len(pos) >= 2:
            deletes = any(f.startswith("--delete") or f == "--remove-source-files" for f, _ in flags)
            self.write(pos[-1], ctx, "rsync writes into", recursive=deletes)

    def h_touch(self, name, args, ctx, cmd):
        short, long_values = {"touch": ("dtr", ("--date", "--reference")),
                              "truncate": ("sr", ("--size", "--reference")),
                              "fallocate": ("lo", ("--length", "--offset"))}.get(name, ("m", ("--mode",)))
        flags, pos = _options(args, short, long_values)
        mode = _flag(flags, "-m", "--mode")
        if isinstance(mode, _Word) and name != "fallocate":
            self.mode_check(name, mode.text)
        for word in pos[:1] if name == "mknod" else pos:
            self.write(word, ctx, f"{name} writes")

    def h_chmod(self, name, args, ctx, cmd):
        symbolic = r"[ugoa]*[-+=][rwxXst]*(?:,[ugoa]*[-+=][rwxXst]*)*"
        mode_like = [w for w in args if re.fullmatch(symbolic, w.text)]
        rest = [w for w in args if w not in mode_like]
        flags, pos = _options(rest, "", ("--reference",))
        if not mode_like and not _flag(flags, "--reference") and pos:
            mode_like, pos = [pos[0]], pos[1:]
        for word in mode_like:
            self.mode_check(name, word.text)
        how = ("chmod -R changes permissions under" if _flag(flags, "-R", "--recursive")
               else "chmod changes permissions of")
        for word in pos:
            self.write(word, ctx, how)

    def mode_check(self, name: str, mode: str) -> None:
        mode = mode.strip()
        if re.fullmatch(r"[0-7]{1,4}", mode):
            value = int(mode, 8)
            if value & 0o6000:
                self.add(HIGH, "priv.mode", f"{name} {mode} sets setuid/setgid")
            if value & 0o002:
                self.add(HIGH, "priv.mode", f"{name} {mode} makes files world-writable")
            return
        for clause in mode.split(","):
            match = re.fullmatch(r"([ugoa]*)([-+=])([rwxXstugo]*)", clause)
            if not match or match.group(2) == "-":
                continue
            who, _, perms = match.groups()
            if "s" in perms:
                self.add(HIGH, "priv.mode", f"{name} {mode} sets setuid/setgid")
            if "w" in perms and ("o" in who or "a" in who):
                self.add(HIGH, "priv.mode", f"{name} {mode} makes files world-writable")

    def h_dd(self, name, args, ctx, cmd):
        for word in args:
            if word.text.startswith("of="):
                self.write(_Word(word.text[3:], word.dynamic, word.glob), ctx, "dd writes")

    def h_sed(self, name, args, ctx, cmd):
        flags, pos = _options(args, "efl", ("--expression", "--file", "--line-length"))
        names = [f for f, _ in flags]
        scripts = [v for f, v in flags if f in ("-e", "--expression") and isinstance(v, _Word)]
        if any(f in ("-f", "--file") for f in names):
            self.add(MEDIUM, "script.run", f"{name} -f runs a sed script file (not analysed)")
        elif not scripts and pos:
            scripts = [pos[0]]
        for script in scripts:  # sed's own w/W and e commands write files and run commands
            writes, runs = sed_effects(script.text)
            for target in writes:
                self.write(_Word(target, script.dynamic), ctx, f"{name} w writes")
            for command in runs:
                if command == "(the pattern space)":
                    self.add(HIGH, "code.dynamic", f"{name} e runs its input as a shell command")
                else:
                    self.script(command, ctx.child())
        if any(f == "-i" or f.startswith("--in-place") for f in names):
            has_script = any(f in ("-e", "--expression", "-f", "--file") for f in names)
            for word in pos if has_script else pos[1:]:
                self.write(word, ctx, "sed -i edits")

    def h_tar(self, name, args, ctx, cmd):
        words = list(args)
        if words and not words[0].text.startswith("-"):
            words[0] = _Word("-" + words[0].text, words[0].dynamic)
        flags, pos = _options(words, "fCbKNTXgHVL", ("--file", "--directory", "--files-from",
                                                      "--exclude-from", "--transform"))
        names = {f for f, _ in flags}
        archive = _flag(flags, "-f", "--file")
        if names & {"-c", "--create", "-r", "--append", "-u", "--update"} and isinstance(archive, _Word) \
                and archive.text != "-":
            self.write(archive, ctx, "tar writes the archive")
        if names & {"-x", "--extract", "--get"}:
            directory = _flag(flags, "-C", "--directory")
            self.write(directory if isinstance(directory, _Word) else _Word("."), ctx,
                       "tar extracts files into")

    def h_unzip(self, name, args, ctx, cmd):
        flags, pos = _options(args, "dx", ())
        if not {f for f, _ in flags} & {"-l", "-t", "-p", "-Z", "-v"}:
            dest = _flag(flags, "-d")
            self.write(dest if isinstance(dest, _Word) else _Word("."), ctx, "unzip extracts files into")

    def h_compress(self, name, args, ctx, cmd):
        flags, pos = _options(args, "S", ("--suffix",))
        if not {f for f, _ in flags} & {"-c", "--stdout", "-l", "--list", "-t", "--test", "-h", "--help",
                                        "-V"}:
            for word in pos:
                self.write(word, ctx, f"{name} replaces")

    def h_patch(self, name, args, ctx, cmd):
        flags, pos = _options(args, "pdoiBrDFz", ("--directory", "--output", "--input", "--strip"))
        if _flag(flags, "--dry-run", "-C", "--check"):
            return
        out = _flag(flags, "-o", "--output")
        directory = _flag(flags, "-d", "--directory")
        target = out if isinstance(out, _Word) else (pos[0] if pos else None)
        self.write(target or (directory if isinstance(directory, _Word) else _Word(".")), ctx,
                   "patch changes" if target else "patch changes files in")

    def h_sort(self, name, args, ctx, cmd):
        flags, _ = _options(args, "oktST", ("--output", "--key", "--field-separator", "--buffer-size",
                                            "--temporary-directory"))
        out = _flag(flags, "-o", "--output")
        if isinstance(out, _Word):
            self.write(out, ctx, "sort -o writes")

    def h_git(self, name, args, ctx, cmd):
        i = 0
        while i < len(args) and args[i].text.startswith("-"):
            t = args[i].text
            if t == "-C" and i + 1 < len(args):
                kind, path = self.places(args[i + 1], ctx)[0]
                ctx = ctx.child(cwd=None if kind == "unknown" else path)
                i += 2
            elif t in ("-c", "--git-dir", "--work-tree", "--namespace", "--config-env") and i + 1 < len(args):
                if t in ("-c", "--config-env") and re.search(r"(?i)command|pager|editor|hookspath|fsmonitor|"
                                                             r"askpass|helper|proxy|!", args[i + 1].text):
                    self.add(HIGH, "code.dynamic", f"git {t} {_short(args[i + 1].text, 40)} can run commands")
                i += 2
            else:
                i += 1
        sub, rest = (args[i].text, args[i + 1:]) if i < len(args) else ("", [])
        rest_texts = [w.text for w in rest]
        if sub in _GIT_READ or not sub or (sub in ("branch", "tag", "stash", "remote", "worktree")
                                           and all(t.startswith("-") or t == "list" for t in rest_texts)
                                           and not set(rest_texts) & {"-d", "-D", "-m", "-M", "--delete"}):
            return
        if sub in _GIT_NETWORK or (sub == "archive" and any(t.startswith("--remote") for t in rest_texts)):
            self.add(HIGH, "net.egress", f"git {sub} talks to a remote repository")
        elif sub == "credential" or (sub == "config" and "--show-origin" in rest_texts):
            self.add(HIGH, "secret.file", f"git {sub} can reveal stored credentials")
        elif sub == "config" and len([t for t in rest_texts if not t.startswith("-")]) < 2:
            return
        else:
            if sub == "config" and re.search(r"(?i)command|pager|editor|hookspath|fsmonitor|askpass|helper|"
                                             r"alias\.", " ".join(rest_texts)):
                self.add(HIGH, "code.dynamic",
                         f"git config {_short(' '.join(rest_texts), 40)} can run commands")
            self.write(_Word(ctx.cwd or "."), ctx, f"git {sub} changes the repository in")

    def h_find(self, name, args, ctx, cmd):
        starts, expr, named = _find_parts(args)
        texts = [w.text for w in expr]
        for start in starts:
            if "-delete" in texts:
                self.write(_found(start, named), ctx, "find -delete deletes", recursive=not named)
            i = 0
            while i < len(expr):
                t = expr[i].text
                if t in ("-exec", "-execdir", "-ok", "-okdir"):
                    end = next((j for j in range(i + 1, len(expr)) if expr[j].text in (";", "+")), len(expr))
                    item = _found(start, named)
                    words = [_Word(w.text.replace("{}", item.text),
                                   w.dynamic or ("{}" in w.text and item.dynamic)) for w in expr[i + 1:end]]
                    if words:
                        self.run(words, ctx.child(), None)
                    i = end
                elif t in ("-fprint", "-fprint0", "-fprintf", "-fls") and i + 1 < len(expr):
                    self.write(expr[i + 1], ctx, f"find {t} writes")
                i += 1

    def h_editor(self, name, args, ctx, cmd):
        for word in args:
            if not word.text.startswith(("-", "+")):
                self.write(word, ctx, f"{name} opens for editing")
