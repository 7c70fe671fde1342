"""Container and cluster checks: only the incident's own container may be touched."""

from __future__ import annotations

import re

from .common import _Ctx, _flag, _options, _short
from .risk import HIGH, MEDIUM
from .shell import _Word


class _ContainerChecks:
    """Checker part: docker/podman (exec, cp, logs, restart, ...), compose, kubectl and friends."""

    def own_container(self, word: _Word, ctx: _Ctx) -> bool:
        mine = self.scope.container
        values = self.expand_all(word, ctx) or []
        if not mine or len(values) != 1:
            return False
        text = values[0]
        hexy = re.fullmatch(r"[0-9a-f]{12,64}", text) and re.fullmatch(r"[0-9a-f]{12,64}", mine)
        return text == mine or bool(hexy and (text.startswith(mine) or mine.startswith(text)))

    def foreign(self, name: str, sub: str, word: _Word) -> None:
        self.add(HIGH, "container.foreign", f"{name} {sub} acts on container {_short(word.text, 40)}, which is "
                                            f"not the incident's ({self.scope.container or 'none'})")

    def h_docker(self, name, args, ctx, cmd):
        i = 0
        while i < len(args) and args[i].text.startswith("-"):
            t, has_value = args[i].text.split("=")[0], "=" in args[i].text
            if t in ("-H", "--host", "--context", "-c"):
                self.add(HIGH, "container.engine",
                         f"{name} {t} talks to a container engine the policy does not know")
            i += 1 if has_value or t not in ("-H", "--host", "--context", "-c", "--config", "-l",
                                             "--log-level", "--tlscacert", "--tlscert", "--tlskey") else 2
        if i >= len(args):
            return
        sub, rest = args[i].text, args[i + 1:]
        if sub == "container" and rest:
            sub, rest = rest[0].text, rest[1:]
        if sub in ("ps", "ls", "list", "images", "version", "info", "help", "--help", "--version"):
            return
        if sub == "exec":
            self.docker_exec(name, rest, ctx, cmd)
        elif sub in ("logs", "inspect", "top", "port", "stats", "diff"):
            flags, pos = _options(rest, "fn", ("--tail", "--since", "--until", "--format", "--type",
                                               "--filter"))
            for word in pos[:1] if sub in ("logs", "top", "port", "diff") else pos:
                if not self.own_container(word, ctx):
                    self.foreign(name, sub, word)
        elif sub in ("restart", "start", "unpause"):
            for word in _options(rest, "ts", ("--time", "--signal"))[1]:
                if self.own_container(word, ctx):
                    self.add(MEDIUM, "container.own-change",
                             f"{name} {sub} restarts the incident's container")
                else:
                    self.foreign(name, sub, word)
        elif sub == "cp":
            pos = _options(rest, "", ())[1]
            for index, word in enumerate(pos[:2]):
                box, sep, path = word.text.partition(":")
                if sep and box and not box.startswith(("/", ".", "~")):
                    if not self.own_container(_Word(box, word.dynamic), ctx):
                        self.foreign(name, sub, _Word(box))
                    elif index == 1:
                        self.write(_Word(path or "/", word.dynamic), self.target_ctx(ctx), "docker cp writes")
                elif index == 1:
                    self.write(word, ctx, "docker cp writes")
                else:
                    self.read(word, ctx, "docker cp")
        else:
            self.add(HIGH, "container.engine", f"{name} {sub} acts on the container engine beyond the "
                                               "incident's container")

    def docker_exec(self, name, rest, ctx, cmd):
        flags, pos = _options(rest, "euw", ("--env", "--user", "--workdir", "--env-file", "--detach-keys"),
                              True)
        if not pos:
            return
        if _flag(flags, "--privileged"):
            self.add(HIGH, "priv.escalate", f"{name} exec --privileged")
        user = _flag(flags, "-u", "--user")
        if isinstance(user, _Word) and user.text.split(":")[0] in ("root", "0"):
            self.add(HIGH, "priv.escalate", f"{name} exec as root")
        if not self.own_container(pos[0], ctx):
            self.foreign(name, "exec", pos[0])
            return
        workdir = _flag(flags, "-w", "--workdir")
        cwd = workdir.text if isinstance(workdir, _Word) and workdir.text.startswith("/") else None
        if pos[1:]:
            self.run(pos[1:], self.target_ctx(ctx, cwd), cmd)

    def h_compose(self, name, args, ctx, cmd):
        self.add(HIGH, "container.engine", f"{name} manages containers beyond the incident's")

    def h_k8s(self, name, args, ctx, cmd):
        sub = next((w.text for w in args if not w.text.startswith("-")), "")
        texts = " ".join(w.text for w in args)
        if re.search(r"\bsecrets?\b", texts) or "--raw" in texts:
            self.add(HIGH, "secret.file", f"{name} reads cluster secrets or credentials")
        elif sub in ("get", "describe", "logs", "top", "explain", "version", "api-resources",
                     "api-versions", "cluster-info", "status", "list", "history"):
            self.add(MEDIUM, "k8s.read", f"{name} {sub} reads a cluster that is not part of the incident")
        else:
            self.add(HIGH, "k8s", f"{name} {sub} acts on a cluster that is not part of the incident")
