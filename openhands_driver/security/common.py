"""Helpers every checker uses: the checking context, option parsing, short reason text, the text a
command writes when it is known before running."""

from __future__ import annotations

import codecs
import posixpath
import re
from dataclasses import dataclass

from .shell import _Command, _Word


def _token_at(text: str, match) -> str:
    """The whitespace-delimited token of `text` around a regex match (for short reasons)."""
    stops = " \t\n'\"()[],;=<>|&`"
    start, end = match.start(), match.end()
    while start > 0 and text[start - 1] not in stops:
        start -= 1
    while end < len(text) and text[end] not in stops:
        end += 1
    return _short(text[start:end], 60)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _options(args: list, takes_value: str = "", long_values=(), stop_at_positional: bool = False):
    """Split words into ([(flag, value word or None)], positionals); `--` ends the options."""
    flags, pos, i, ended = [], [], 0, False
    while i < len(args):
        w = args[i]
        t = w.text
        if ended or t == "-" or not t.startswith("-") or len(t) == 1:
            if stop_at_positional:
                return flags, args[i:]
            pos.append(w)
        elif t == "--":
            ended = True
            if stop_at_positional:
                return flags, args[i + 1:]
        elif t.startswith("--"):
            name, eq, value = t.partition("=")
            if eq:
                flags.append((name, _Word(value, w.dynamic, w.glob)))
            elif name in long_values and i + 1 < len(args):
                flags.append((name, args[i + 1]))
                i += 1
            else:
                flags.append((name, None))
        else:
            for j, ch in enumerate(t[1:], 1):
                if ch in takes_value:
                    if t[j + 1:]:
                        flags.append(("-" + ch, _Word(t[j + 1:], w.dynamic, w.glob)))
                    elif i + 1 < len(args):
                        flags.append(("-" + ch, args[i + 1]))
                        i += 1
                    else:
                        flags.append(("-" + ch, None))
                    break
                flags.append(("-" + ch, None))
        i += 1
    return flags, pos


def _flag(flags, *names):
    """The value word of the last flag among `names` (or True for a flag without a value)."""
    found = None
    for name, value in flags:
        if name in names:
            found = value if value is not None else True
    return found


@dataclass
class _Ctx:
    where: str          # "host" (the agent's terminal) or "target" (targetctl exec / docker exec)
    cwd: str | None     # None: unknown
    vars: dict          # shell variables assigned in this command line: name -> tuple of values
    depth: int = 0

    def child(self, **changes) -> "_Ctx":
        values = {"where": self.where, "cwd": self.cwd, "vars": dict(self.vars), "depth": self.depth + 1}
        values.update(changes)
        return _Ctx(**values)


def _written_text(words: list, cmd: _Command | None) -> str | None:
    """Text that `echo/printf ARGS` or `cat <<EOF` puts out, when it is known before running."""
    if not words or any(w.dynamic for w in words[:1]):
        return None
    name = posixpath.basename(words[0].text)
    if name in ("echo", "printf") and not any(w.dynamic for w in words):
        text = " ".join(w.text for w in words[1:] if not re.fullmatch(r"-[neE]+", w.text))
        if name == "printf" or any(w.text.startswith("-e") for w in words[1:]):
            try:
                text = codecs.decode(text, "unicode_escape")
            except UnicodeDecodeError:
                pass
        return text
    if name in ("cat", "tee") and cmd is not None and cmd.stdin is not None:
        return cmd.stdin
    return None
