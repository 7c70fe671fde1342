"""What a sed script does besides editing its stream: the files it writes (``w``, ``W``, the ``s///w``
flag) and the commands it runs (``e``, the ``s///e`` flag). A small scanner of sed's command syntax
(addresses, ``s``/``y`` with any delimiter, ``{}``, ``;`` and newlines); it only reads text."""

from __future__ import annotations


def _skip_delimited(script: str, i: int, delim: str, parts: int) -> int:
    """Index after `parts` fields closed by `delim` (backslash escapes honoured)."""
    for _ in range(parts):
        while i < len(script) and script[i] != delim:
            i += 2 if script[i] == "\\" else 1
        i += 1
    return i


def _rest_of_line(script: str, i: int) -> tuple[str, int]:
    end = script.find("\n", i)
    end = len(script) if end < 0 else end
    return script[i:end].strip(), end


def _skip_address(script: str, i: int) -> int:
    for _ in range(2):  # addr1[,addr2]
        if i < len(script) and script[i] == "/":
            i = _skip_delimited(script, i + 1, "/", 1)
        elif script.startswith("\\", i) and i + 1 < len(script):
            i = _skip_delimited(script, i + 2, script[i + 1], 1)
        else:
            while i < len(script) and (script[i].isdigit() or script[i] in "$~+"):
                i += 1
        if i < len(script) and script[i] == ",":
            i += 1
            continue
        break
    while i < len(script) and script[i] in " \t!":
        i += 1
    return i


def sed_effects(script: str) -> tuple[list[str], list[str]]:
    """(files written, commands executed) by one sed script."""
    writes: list[str] = []
    runs: list[str] = []
    i = 0
    while i < len(script):
        if script[i] in " \t\n;{}":
            i += 1
            continue
        i = _skip_address(script, i)
        if i >= len(script):
            break
        op = script[i]
        i += 1
        if op in "sy" and i < len(script):
            i = _skip_delimited(script, i + 1, script[i], 2)
            if op == "s":
                while i < len(script) and (script[i] in "gpiImMe" or script[i].isdigit()):
                    if script[i] == "e":
                        runs.append("(the pattern space)")
                    i += 1
                if i < len(script) and script[i] == "w":
                    target, i = _rest_of_line(script, i + 1)
                    writes.append(target)
        elif op in "wW":
            target, i = _rest_of_line(script, i)
            writes.append(target)
        elif op == "e":
            command, i = _rest_of_line(script, i)
            runs.append(command or "(the pattern space)")
        elif op in "btTv":  # a label: to `;` or the end of the line
            while i < len(script) and script[i] not in ";\n":
                i += 1
        elif op in "aicrR:#":  # text, file names, labels, comments: to the end of the line
            _, i = _rest_of_line(script, i)
    return writes, runs
