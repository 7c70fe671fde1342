"""Process and privilege checks: signals (only the incident's own processes), services, sudo,
ownership and host-system changes, process listings that show environments."""

from __future__ import annotations

import re

from .common import _Ctx, _options, _short
from .risk import HIGH, MEDIUM
from .shell import _Word


def _process_group(pid: int) -> int | None:
    """The process group of a live pid (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rpartition(")")[2].split()
        return int(fields[2])  # after "pid (comm)": state, ppid, pgrp
    except (OSError, ValueError, IndexError):
        return None


class _ProcessChecks:
    """Checker part: kill/pkill, services, privilege escalation, ownership, system changes."""

    def h_kill(self, name, args, ctx, cmd):
        inside = ctx.where == "target" and self.scope.backend == "docker"
        targets, signal_seen, ended, i = [], False, False, 0
        while i < len(args):
            t = args[i].text
            if not ended and t == "--":
                ended = True
            elif not ended and t in ("-l", "-L", "--list", "--table"):
                return
            elif not ended and t in ("-s", "-n", "--signal"):
                if i + 1 < len(args) and args[i + 1].text == "0":
                    return  # signal 0 only checks that the process exists
                signal_seen, i = True, i + 1
            elif not ended and t == "-0":
                return
            elif not ended and t.startswith("-") and not signal_seen:
                signal_seen = True
            else:
                targets.append(args[i])
            i += 1
        pids = set(self.scope.target_pids)
        for word in targets:
            values = self.expand_all(word, ctx)
            if inside:
                self.add(MEDIUM, "proc.kill-target",
                         f"{name} signals a process inside the incident's container")
            elif values and all(re.fullmatch(r"-?\d+", v) for v in values):
                for value in values:
                    pid = int(value)
                    what = {-1: "every process (-1)", 0: "its own process group (0)"}.get(
                        pid, f"process group {-pid}" if pid < 0 else f"process {pid}")
                    if pid not in (0, -1) and (abs(pid) in pids or (pid > 0 and _process_group(pid) in pids)):
                        self.add(MEDIUM, "proc.kill-target", f"{name} signals the incident's {what}")
                    else:
                        self.add(HIGH, "proc.kill-foreign", f"{name} signals {what}, which is not one of "
                                 f"the incident's ({', '.join(map(str, sorted(pids))) or 'none known'})")
            elif values and all(v.startswith("%") for v in values):
                self.add(MEDIUM, "proc.kill-target", f"{name} signals a job of the agent's own shell")
            elif self.pid_file_ref(word, ctx):
                self.add(MEDIUM, "proc.kill-target", f"{name} signals the process in the incident's pid file")
            else:
                self.add(HIGH, "proc.kill-foreign", f"{name} signals {_short(word.text, 40)}, a process the "
                                                    "policy cannot identify")

    def pid_file_ref(self, word: _Word, ctx: _Ctx) -> bool:
        match = re.fullmatch(r"(?:\$\(|`)\s*(?:cat|head\s+-n\s*1|<)\s+([^\s)`]+\.pid)\s*[)`]", word.text)
        return bool(match) and all(kind in ("target", "target_root")
                                   for kind, _ in self.places(_Word(match.group(1)), ctx))

    def h_pkill(self, name, args, ctx, cmd):
        if ctx.where == "target" and self.scope.backend == "docker":
            self.add(MEDIUM, "proc.kill-target", f"{name} signals processes inside the incident's container")
        else:
            self.add(HIGH, "proc.kill-foreign",
                     f"{name} signals processes by name; they may not be the incident's")

    def h_service(self, name, args, ctx, cmd):
        self.add(HIGH, "proc.system", f"{name} acts on system services or processes beyond the incident")

    def h_sudo(self, name, args, ctx, cmd):
        self.add(HIGH, "priv.escalate", f"{name} runs a command with other privileges")
        if name in ("su", "runuser"):
            texts = [w.text for w in args]
            for flag in ("-c", "--command"):
                if flag in texts[:-1]:
                    self.script(texts[texts.index(flag) + 1], ctx.child())
                    return
        flags, rest = _options(args, "ugpCDrtTUG", ("--user", "--group", "--prompt", "--close-from", "--chdir",
                                                    "--role", "--type", "--other-user", "--host"), True)
        if name in ("gosu", "su-exec", "sg", "su", "newgrp"):
            rest = rest[1:]
        if rest:
            self.run(rest, ctx.child(), cmd)

    def h_owner(self, name, args, ctx, cmd):
        self.add(HIGH, "priv.owner", f"{name} changes ownership, accounts or capabilities")

    def h_system(self, name, args, ctx, cmd):
        self.add(HIGH, "priv.system", f"{name} changes the host system")

    def h_ps(self, name, args, ctx, cmd):
        _, pos = _options(args, "oOpuUCGgtsqkN", ("--format", "--sort", "--pid", "--ppid", "--user", "--User",
                                                  "--group", "--Group", "--tty", "--sid", "--cols", "--rows"))
        if any(re.fullmatch(r"[auxwfjlrvemsnTcgSZhHL]*e[auxwfjlrvemsnTcgSZhHL]*", w.text) for w in pos):
            self.add(HIGH, "env.dump", "ps e shows other processes' environments")

    def h_sysinfo(self, name, args, ctx, cmd):
        """hostname, date, ip, ifconfig, crontab, sysctl, dmesg, journalctl, getent: read or change."""
        texts = [w.text for w in args]
        flags = {t for t in texts if t.startswith("-")}
        pos = [t for t in texts if not t.startswith("-")]
        changes = {
            "hostname": bool(pos),
            "date": bool(flags & {"-s", "--set"}) or any(t.startswith("--set=") for t in texts),
            "ip": bool(set(pos) & {"add", "del", "delete", "set", "flush", "change", "replace", "append",
                                   "exec", "up", "down"}),
            "ifconfig": len(pos) > 1,
            "crontab": not flags & {"-l"},
            "sysctl": bool(flags & {"-w", "--write", "-p", "--load", "--system"}) or any("=" in t for t in pos),
            "dmesg": bool(flags & {"-c", "-C", "--clear", "-D", "-E", "-n", "--console-off", "--console-on"}),
            "journalctl": any(t.startswith(("--vacuum", "--rotate", "--flush", "--relinquish", "--setup-keys"))
                              for t in flags),
            "getent": False,
        }[name]
        if name == "getent" and set(pos) & {"shadow", "gshadow"}:
            self.add(HIGH, "secret.file", "getent shadow reads password hashes")
        if changes:
            self.add(HIGH, "priv.system", " ".join(f"{name} {' '.join(texts)} changes the host system".split()))
