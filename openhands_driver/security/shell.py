"""A small bash lexer: shlex cannot nest $(...), loses `2>` fd prefixes and here-documents.

`_lex(text)` splits a command line into simple commands (words, redirections, here-doc bodies, the
command piping into each) and collects the bodies of $(...), `...`, <(...) and >(...) to check too.
"""

from __future__ import annotations

import codecs
import posixpath
import re
from dataclasses import dataclass


class ShellSyntaxError(ValueError):
    """The command line is not valid shell (unbalanced quotes, unclosed $(...), ...)."""


@dataclass
class _Word:
    text: str              # after quote removal; expansions ($X, $(..), `..`) kept verbatim
    dynamic: bool = False  # has an unquoted or double-quoted expansion
    glob: bool = False     # has an unquoted * ? [


@dataclass
class _Command:
    words: list
    redirs: list                       # (operator, _Word)
    stdin: str | None = None           # here-document / here-string body
    upstream: "_Command | None" = None  # the command piping into this one


_REDIR_OPS = ("&>>", "&>", "<<<", "<<-", "<<", ">>", ">|", ">&", "<&", "<>", ">", "<")
_WRITE_OPS = frozenset((">", ">>", ">|", "&>", "&>>", "<>", ">&"))


def _find_close(s: str, i: int, opener: str = "(", closer: str = ")") -> int:
    """Index of the `closer` that balances an opener just before s[i]."""
    depth = 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = s.find("'", i + 1)
            if j < 0:
                raise ShellSyntaxError("unclosed single quote")
            i = j + 1
            continue
        if c == '"':
            i = _skip_double(s, i + 1)
            continue
        if c == "`":
            i = _skip_backtick(s, i + 1)
            continue
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ShellSyntaxError(f"unclosed {opener}")


def _skip_double(s: str, i: int) -> int:
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        elif s.startswith("$(", i):
            i = _find_close(s, i + 2) + 1
        elif c == "`":
            i = _skip_backtick(s, i + 1)
        else:
            i += 1
    raise ShellSyntaxError("unclosed double quote")


def _skip_backtick(s: str, i: int) -> int:
    while i < len(s):
        if s[i] == "\\":
            i += 2
        elif s[i] == "`":
            return i + 1
        else:
            i += 1
    raise ShellSyntaxError("unclosed backtick")


class _Lexer:
    """Splits a command line into simple commands (lists, pipelines, redirections, here-docs)."""

    def __init__(self, text: str):
        self.s, self.i = text, 0
        self.commands: list[_Command] = []
        self.subs: list[str] = []      # bodies of $(...), `...`, <(...), >(...)
        self.words, self.redirs, self.stdin, self.heredocs = [], [], None, []
        self.waiting: list = []        # (command, delimiter, strip_tabs) bodies after the line
        self.upstream, self.op = None, None
        self._new_word()

    def _new_word(self) -> None:
        self.buf, self.dyn, self.glob, self.inword, self.quoted = [], False, False, False, False

    def end_word(self) -> None:
        if not self.inword:
            return
        word = _Word("".join(self.buf), self.dyn, self.glob)
        quoted = self.quoted
        self._new_word()
        if self.op is None:
            self.words.append(word)
            return
        op, self.op = self.op, None
        if op in ("<<", "<<-"):
            self.heredocs.append((word.text, op == "<<-", quoted))
        elif op == "<<<":
            self.stdin = word.text
        elif op in (">&", "<&") and (word.text.isdigit() or word.text == "-"):
            pass  # fd duplication
        else:
            self.redirs.append((op, word))

    def end_command(self, pipe: bool) -> None:
        self.end_word()
        if self.op is not None:
            raise ShellSyntaxError(f"redirection {self.op} without a target")
        if self.words or self.redirs or self.stdin is not None or self.heredocs:
            cmd = _Command(self.words, self.redirs, self.stdin, self.upstream)
            self.commands.append(cmd)
            self.waiting += [(cmd, delim, strip, quoted) for delim, strip, quoted in self.heredocs]
            self.upstream = cmd if pipe else None
        elif not pipe:
            self.upstream = None
        self.words, self.redirs, self.stdin, self.heredocs = [], [], None, []

    def read_heredocs(self) -> None:
        s = self.s
        for cmd, delim, strip, quoted in self.waiting:
            lines = []
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                line, self.i = s[self.i:end], end + 1
                if (line.lstrip("\t") if strip else line) == delim:
                    break
                lines.append(line)
            body = "\n".join(lines) + "\n"
            cmd.stdin = (cmd.stdin or "") + body
            if not quoted:  # $(...) in an unquoted here-document runs
                self.subs += _Lexer._expansions(body)
        self.waiting = []

    @staticmethod
    def _expansions(text: str) -> list[str]:
        out, i = [], 0
        while i < len(text):
            if text.startswith("$((", i):  # arithmetic: scan on, a $(...) inside still runs
                i += 3
            elif text.startswith("$(", i):
                j = _find_close(text, i + 2)
                out.append(text[i + 2:j])
                i = j + 1
            elif text[i] == "`":
                j = _skip_backtick(text, i + 1)
                out.append(text[i + 1:j - 1])
                i = j
            else:
                i += 1
        return out

    def dollar(self) -> None:
        s, i = self.s, self.i
        self.inword = True
        if s.startswith("$(", i):
            j = _find_close(s, i + 2)
            body = s[i + 2:j]
            if not (body.startswith("(") and body.endswith(")")):  # not $((arithmetic))
                self.subs.append(body)
            else:  # $(( ... $(cmd) ... )): the command substitution inside still runs
                self.subs += _Lexer._expansions(body)
            self.buf.append(s[i:j + 1])
            self.dyn, self.i = True, j + 1
        elif s.startswith("${", i):
            j = _find_close(s, i + 2, "{", "}")
            self.subs += _Lexer._expansions(s[i + 2:j])  # ${x:-$(cmd)}: the default runs
            self.buf.append(s[i:j + 1])
            self.dyn, self.i = True, j + 1
        elif s.startswith("$'", i):
            j = i + 2
            while j < len(s) and s[j] != "'":
                j += 2 if s[j] == "\\" else 1
            if j >= len(s):
                raise ShellSyntaxError("unclosed $'...' quote")
            try:
                self.buf.append(codecs.decode(s[i + 2:j], "unicode_escape"))
            except UnicodeDecodeError:
                self.buf.append(s[i + 2:j])
            self.quoted, self.i = True, j + 1
        else:
            m = re.match(r"\$(?:[A-Za-z_]\w*|[0-9@*#?$!-])", s[i:])
            self.buf.append(m.group(0) if m else "$")
            self.dyn = self.dyn or bool(m)
            self.i = i + (len(m.group(0)) if m else 1)

    def double(self) -> None:
        s = self.s
        self.i += 1
        self.inword = self.quoted = True
        while True:
            if self.i >= len(s):
                raise ShellSyntaxError("unclosed double quote")
            c = s[self.i]
            if c == '"':
                self.i += 1
                return
            if c == "\\" and s[self.i + 1:self.i + 2] in ('$', '`', '"', '\\', '\n'):
                self.buf.append(s[self.i + 1].strip("\n"))
                self.i += 2
            elif c == "$":
                self.dollar()
            elif c == "`":
                self.backtick()
            else:
                self.buf.append(c)
                self.i += 1

    def backtick(self) -> None:
        j = _skip_backtick(self.s, self.i + 1)
        self.subs.append(self.s[self.i + 1:j - 1].replace("\\`", "`"))
        self.buf.append(self.s[self.i:j])
        self.inword, self.dyn, self.i = True, True, j

    def run(self) -> "_Lexer":
        s = self.s
        while self.i < len(s):
            c, i = s[self.i], self.i
            if c in " \t\r":
                self.end_word()
                self.i += 1
            elif c == "\n":
                self.end_command(False)
                self.i += 1
                self.read_heredocs()
            elif c == "#" and not self.inword:
                end = s.find("\n", i)
                self.i = len(s) if end < 0 else end
            elif c == "\\":
                if s[i + 1:i + 2] != "\n":
                    self.buf.append(s[i + 1:i + 2])
                    self.inword = self.quoted = True
                self.i += 2
            elif c == "'":
                j = s.find("'", i + 1)
                if j < 0:
                    raise ShellSyntaxError("unclosed single quote")
                self.buf.append(s[i + 1:j])
                self.inword = self.quoted = True
                self.i = j + 1
            elif c == '"':
                self.double()
            elif c == "$":
                self.dollar()
            elif c == "`":
                self.backtick()
            elif c in "<>" and s[i + 1:i + 2] == "(":  # process substitution
                j = _find_close(s, i + 2)
                self.subs.append(s[i + 2:j])
                self.buf.append(s[i:j + 1])
                self.inword, self.dyn, self.i = True, True, j + 1
            elif c in "<>" or s.startswith("&>", i):
                if self.inword and not self.quoted and "".join(self.buf).isdigit():
                    self._new_word()  # `2>`: an fd number, not an argument
                else:
                    self.end_word()
                if self.op is not None:
                    raise ShellSyntaxError(f"redirection {self.op} without a target")
                self.op = next(op for op in _REDIR_OPS if s.startswith(op, i))
                self.i += len(self.op)
            elif c in ";&|()":
                pipe = c == "|" and not s.startswith("||", i)
                self.end_command(pipe)
                self.i += 2 if s[i:i + 2] in ("&&", "||", "|&", ";;", ";&") else 1
            else:
                if c in "*?[" or (c == "{" and re.match(r"\{[^}\s]*,[^}\s]*\}", s[i:])):
                    self.glob = True
                self.buf.append(c)
                self.inword = True
                self.i += 1
        self.end_command(False)
        self.read_heredocs()
        return self


def _lex(text: str) -> _Lexer:
    return _Lexer(text).run()


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
