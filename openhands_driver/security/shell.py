"""Command lines as the policy reads them, parsed with the tree-sitter bash grammar (tree-sitter-bash).

`_parse(text)` returns a `_Script`: the simple commands in the order they appear (words after quote
removal, redirections, here-document / here-string bodies, the command piping into each or writing
into the `>(...)` it runs in, the variable a for/select loop binds), the prompt expansions
(`${x@P}`, which run the substitutions in a variable's value), and one nested `_Script` for every
command body the shell also runs: `$(...)`, backticks, `<(...)`, `>(...)` wherever they appear
(arguments, assignments, `${x:-...}` and other parameter expansions, `$((...))`, `[[ ]]`, case
patterns, redirection targets, unquoted here-documents). Compound commands (subshells, `{ ...; }`,
if/while/until/for/case bodies, function bodies) are read as the commands they contain. A text the
grammar cannot parse raises ShellSyntaxError, carrying what it recovered around the error. One parser
is created at import and reused."""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_bash

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
_PARSER_LOCK = threading.Lock()  # a parser parses one text at a time


class ShellSyntaxError(ValueError):
    """The command line is not valid shell (unbalanced quotes, unclosed $(...), ...). `partial`: the
    commands the grammar recovered around the error (None if even those could not be read)."""

    def __init__(self, message: str, partial: "_Script | None" = None):
        super().__init__(message)
        self.partial = partial


@dataclass
class _Word:
    text: str              # after quote removal; expansions ($X, $(..), `..`) kept verbatim
    dynamic: bool = False  # has an unquoted or double-quoted expansion
    glob: bool = False     # has an unquoted * ? [ or a brace expansion


@dataclass
class _Command:
    words: list
    redirs: list                       # (operator, _Word)
    stdin: str | None = None           # here-document / here-string body
    upstream: "_Command | None" = None  # the command piping into this one (or writing into its >(...))
    loop: "tuple[str, list | None] | None" = None  # for/select NAME [in WORDS]: NAME, WORDS (None: "$@")


@dataclass
class _Script:
    commands: list = field(default_factory=list)           # _Command, in order
    subs: list = field(default_factory=list)               # _Script of each nested command body
    prompt_expansions: list = field(default_factory=list)  # text of each ${name@P}


_WRITE_OPS = frozenset((">", ">>", ">|", "&>", "&>>", "<>", ">&"))
_REDIR_OPS = frozenset(_WRITE_OPS | {"<", "<&", ">&-", "<&-"})
_REDIRECTS = frozenset(("file_redirect", "heredoc_redirect", "herestring_redirect"))
_EXPANSIONS = frozenset(("simple_expansion", "expansion", "command_substitution", "arithmetic_expansion",
                         "process_substitution"))
_SUBSTITUTIONS = frozenset(("command_substitution", "process_substitution"))
_SIMPLE = frozenset(("command", "declaration_command", "unset_command", "test_command", "variable_assignment",
                     "variable_assignments"))  # statements that are one simple command
_TEST_EXPRESSIONS = frozenset(("binary_expression", "unary_expression", "parenthesized_expression",
                               "ternary_expression", "postfix_expression"))
_SUBSTITUTION_TEXT_RE = re.compile(r"\$\(|`|[<>]\(")
_PLAIN_RE = re.compile(r"[\\*?\[{$`'\"]")
_BRACE_RE = re.compile(r"\{[^}\s]*,[^}\s]*\}")
_UNQUOTED_RE = re.compile(r"\\(.)|([*?\[])", re.S)
_DOUBLE_QUOTED_RE = re.compile(r'\\([$`"\\\n])')


def _parse(text: str) -> _Script:
    src = text.encode("utf-8", "replace")
    with _PARSER_LOCK:
        root = _PARSER.parse(src).root_node
    script = _Script()
    if not root.has_error:
        _Reader(script).statement(root)
        return script
    error = ShellSyntaxError(_error_text(root))
    try:
        _Reader(script).statement(root)  # bash runs the commands before a syntax error on a later line
        error.partial = script
    except ShellSyntaxError:
        pass
    raise error


def _error_text(root) -> str:
    node = root
    while True:  # descend to the first ERROR or MISSING node
        bad = next((c for c in node.children if c.is_missing or c.type == "ERROR" or c.has_error), None)
        if bad is None or bad.is_missing or bad.type == "ERROR":
            break
        node = bad
    node = bad or node
    row, column = node.start_point
    where = f"line {row + 1}, column {column + 1}"
    if node.is_missing:
        return f"missing {node.type!r} at {where}"
    shown = node.text.decode("utf-8", "replace").strip()
    shown = shown if len(shown) <= 30 else shown[:27] + "..."
    return f"unexpected {shown!r} at {where}" + (" (unclosed quote?)" if shown[:1] and shown[0] in "'\"`" else "")


def _group(nodes) -> list[list]:
    """Nodes that touch (no blank between them) make one shell word."""
    groups = []
    for node in nodes:
        if groups and groups[-1][-1].end_byte == node.start_byte:
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


class _WordBuilder:
    """Quote removal for one word: the text, whether it expands at run time, whether it globs."""

    def __init__(self):
        self.parts: list[str] = []
        self.skeleton: list[str] = []  # unquoted text (quoted parts as "x"): where brace expansion happens
        self.dynamic = self.glob = False

    def add(self, node) -> None:
        kind, raw = node.type, node.text.decode("utf-8", "replace")
        if kind in _EXPANSIONS:
            self.parts.append(raw)
            self.skeleton.append("x")
            self.dynamic = True
        elif kind == "string":
            for child in node.children:
                if child.type in _EXPANSIONS:
                    self.parts.append(child.text.decode("utf-8", "replace"))
                    self.dynamic = True
                elif child.type != '"':
                    self.parts.append(_DOUBLE_QUOTED_RE.sub(_unescape, child.text.decode("utf-8", "replace")))
            self.skeleton.append("x")
        elif kind == "raw_string":
            self.parts.append(raw[1:-1])
            self.skeleton.append("x")
        elif kind == "ansi_c_string":
            try:
                self.parts.append(codecs.decode(raw[2:-1], "unicode_escape"))
            except UnicodeDecodeError:
                self.parts.append(raw[2:-1])
            self.skeleton.append("x")
        elif kind == "brace_expression":
            self.parts.append(raw)
            self.skeleton.append(raw)
            self.glob = True
        elif node.child_count and kind not in ("number", "variable_name", "regex", "extglob_pattern"):
            end = node.start_byte
            for child in node.children:  # concatenation, assignment, array, command_name, ...
                if child.start_byte > end:
                    self.unquoted(_slice(node, end, child.start_byte))
                self.add(child)
                end = child.end_byte
            if node.end_byte > end:
                self.unquoted(_slice(node, end, node.end_byte))
        else:
            self.unquoted(raw)

    def unquoted(self, raw: str) -> None:
        self.skeleton.append(raw)
        for match in _UNQUOTED_RE.finditer(raw):
            if match.group(2):
                self.glob = True
        self.parts.append(_UNQUOTED_RE.sub(lambda m: m.group(2) or (m.group(1) if m.group(1) != "\n" else ""),
                                           raw))

    def word(self) -> _Word:
        glob = self.glob or bool(_BRACE_RE.search("".join(self.skeleton)))
        return _Word("".join(self.parts), self.dynamic, glob)


def _unescape(match) -> str:
    return "" if match.group(1) == "\n" else match.group(1)


def _slice(node, start: int, end: int) -> str:
    """Source text between two byte offsets inside `node` (the gap between two of its children)."""
    return node.text[start - node.start_byte:end - node.start_byte].decode("utf-8", "replace")


def _word(nodes) -> _Word:
    if len(nodes) == 1 and nodes[0].type in ("word", "command_name", "number") and nodes[0].child_count <= 1:
        raw = nodes[0].text.decode("utf-8", "replace")
        if not _PLAIN_RE.search(raw):  # the common case: a plain word
            return _Word(raw)
    builder = _WordBuilder()
    for i, node in enumerate(nodes):
        if node.type == "$" and i + 1 < len(nodes) and nodes[i + 1].type == "string":
            continue  # $"...": a translated string, the text of "..."
        builder.add(node)
    return builder.word()


class _Reader:
    """Walks a syntax tree: simple commands into script.commands, nested bodies into script.subs."""

    def __init__(self, script: _Script):
        self.script = script

    def statement(self, node) -> list:
        """Read a node at statement level; returns the simple commands it holds, in order."""
        kind = node.type
        if kind == "command":
            return [self.command(node)]
        if kind in ("declaration_command", "unset_command"):
            return [self.simple(node, node.children[1:], node.children[0].type)]
        if kind in ("variable_assignment", "variable_assignments"):
            return [self.simple(node, node.children if kind == "variable_assignments" else [node])]
        if kind == "test_command":
            return [self.simple(node, list(_test_words(node.children[1:-1])), "[", "]")]
        if kind == "redirected_statement":
            return self.redirected(node)
        if kind == "pipeline":
            return self.pipeline(node.children)
        if kind == "for_statement":
            return self.loop(node)
        if kind == "comment":
            return []
        if kind in _SUBSTITUTIONS or kind == "expansion":
            self.scan(node)
            return []
        commands = []
        for child in node.children:  # program, list, subshell, { }, if, while, case, functions, ...
            commands += self.statement(child)
        return commands

    def add(self, cmd: _Command) -> _Command:
        self.script.commands.append(cmd)
        return cmd

    def command(self, node) -> _Command:
        cmd = self.add(_Command([], []))
        parts = [c for c in node.children if c.type not in _REDIRECTS and c.type != "comment"]
        cmd.words = [_word(g) for g in _group(parts)]
        if len(cmd.words) > 1 and cmd.words[0].text == "coproc" and not cmd.words[0].dynamic:
            cmd.words.pop(0)  # a keyword the grammar reads as a command name
        for child in node.children:
            if child.type in _REDIRECTS:
                self.redirect(child, cmd)
            else:
                self.scan(child, writer=cmd)
        return cmd

    def simple(self, node, parts, *names: str) -> _Command:
        """A declaration, assignment or test: the command with these words."""
        cmd = self.add(_Command([_Word(n) for n in names[:1]], []))
        cmd.words += [_word(g) for g in _group(parts)] + [_Word(n) for n in names[1:]]
        self.scan(node, writer=cmd)
        return cmd

    def redirected(self, node) -> list:
        body = node.child_by_field_name("body")
        commands = self.statement(body) if body is not None else []
        if body is not None and body.type in _SIMPLE:
            target = commands[-1]
        else:  # the redirections of a compound command (or of none)
            target = self.add(_Command([], []))
            commands.append(target)
        for child in node.children:
            if child.type in _REDIRECTS:
                commands += self.redirect(child, target)
        return commands

    def redirect(self, node, cmd: _Command) -> list:
        """Add one redirection to `cmd`; returns the commands a here-document line goes on with."""
        kind, children = node.type, node.children
        if kind == "herestring_redirect":
            start = next((i for i, c in enumerate(children) if c.type == "<<<"), 0) + 1
            cmd.stdin = _word(children[start:]).text
            self.scan(node, writer=cmd)
            return []
        if kind == "file_redirect":
            ops = [i for i, c in enumerate(children) if not c.is_named and c.type in _REDIR_OPS]
            if not ops:
                raise ShellSyntaxError(f"redirection {node.text.decode('utf-8', 'replace')!r} not understood")
            op, targets = children[ops[0]].type, [_word(g) for g in _group(children[ops[0] + 1:])]
            self.scan(node, writer=cmd)
            if targets and not (op in (">&", "<&") and (targets[0].text.isdigit() or targets[0].text == "-")):
                cmd.redirs.append((op, targets[0]))
            cmd.words += targets[1:]  # `> file cmd args`: the words after the target belong to the command
            return []
        # heredoc_redirect: << or <<- DELIMITER, maybe more redirections or the rest of the line, the body
        strip = any(c.type == "<<-" for c in children)
        commands = []
        for child in children:
            if child.type == "heredoc_body":
                body = child.text.decode("utf-8", "replace")
                if strip:
                    body = "\n".join(line.lstrip("\t") for line in body.split("\n"))
                cmd.stdin = (cmd.stdin or "") + body
                self.scan(child)  # $(...) in an unquoted here-document runs (quoted: plain text here)
            elif child.type in _REDIRECTS:
                commands += self.redirect(child, cmd)
            elif child.type == "pipeline":  # `cat <<EOF | sh`: the rest of the pipeline
                commands += self.pipeline(child.children, upstream=cmd)
            elif child.is_named and child.type not in ("heredoc_start", "heredoc_end"):
                commands += self.statement(child)  # `cat <<EOF > f && sh f`
        return commands

    def pipeline(self, children, upstream: _Command | None = None) -> list:
        commands = []
        for stage in children:
            if stage.type in ("|", "|&"):
                continue
            inner = self.statement(stage)
            for cmd in inner:
                if cmd.upstream is None and upstream is not None:
                    cmd.upstream = upstream
            commands += inner
            if stage.type in _SIMPLE | {"negated_command", "redirected_statement"} and inner:
                upstream = inner[-1]
            else:  # a compound stage: its output is generated by the commands inside
                upstream = _Command([], [], upstream=inner[-1] if inner else None)
        return commands

    def loop(self, node) -> list:
        name = node.child_by_field_name("variable")
        values = node.children_by_field_name("value")
        has_in = any(c.type == "in" for c in node.children)
        cmd = self.add(_Command([], [], loop=(name.text.decode("utf-8", "replace") if name else "",
                                             [_word(g) for g in _group(values)] if has_in else None)))
        commands = [cmd]
        for child in node.children:
            if child in values:
                self.scan(child)
            else:
                commands += self.statement(child)
        return commands

    def scan(self, node, in_expansion: bool = False, writer: _Command | None = None) -> None:
        """Collect the substitutions and prompt expansions inside a word of `writer`."""
        kind = node.type
        if kind in _SUBSTITUTIONS:
            self.substitution(node, writer if node.children[0].type == ">(" else None)
            return
        if kind == "expansion":
            in_expansion = True
            kinds = [c.type for c in node.children]
            if "@" in kinds[:-1] and kinds[kinds.index("@") + 1] == "P":
                self.script.prompt_expansions.append(node.text.decode("utf-8", "replace"))
        if in_expansion and node.is_named and not node.child_count and kind != "raw_string" \
                and _SUBSTITUTION_TEXT_RE.search(node.text.decode("utf-8", "replace")):
            # the grammar keeps some patterns and defaults as text (${x#*$(cmd)}, ${x:-`cmd`}): read
            # that text as a word of its own
            nested = _parse(": " + node.text.decode("utf-8", "replace"))
            self.script.subs += nested.subs
            self.script.prompt_expansions += nested.prompt_expansions
            return
        for child in node.children:
            self.scan(child, in_expansion, writer)

    def substitution(self, node, writer: _Command | None = None) -> None:
        """A nested body; the commands of `>(...)` read what its `writer` writes there."""
        children = node.children
        if children[0].type == "`":  # the body of `...` is parsed again after its \` \$ \\ escapes
            body = node.text.decode("utf-8", "replace")[1:-1]
            self.script.subs.append(_parse(re.sub(r"\\([`$\\])", r"\1", body)))
            return
        sub = _Script()
        reader = _Reader(sub)
        for child in children[1:-1]:
            reader.statement(child)
        for cmd in sub.commands:
            if writer is not None and cmd.upstream is None:
                cmd.upstream = writer
        self.script.subs.append(sub)


def _test_words(nodes):
    """The operands and operators of `[ ... ]` / `[[ ... ]]`, as the words of a `[` command."""
    leaves = []

    def walk(node):
        if node.type in _TEST_EXPRESSIONS:
            for child in node.children:
                walk(child)
        else:
            leaves.append(node)

    for node in nodes:
        walk(node)
    return leaves
