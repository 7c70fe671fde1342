"""User-fixable errors.

A :class:`UserError` is printed without a traceback and ends the program with exit code 2. Its
message says what failed, with which input, and what to do next.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad flag, unknown scenario, missing file)."""

    exit_code = 2


class Interrupted(Exception):
    """The run was interrupted (Ctrl-C / SIGTERM); the target was cleaned up."""

    exit_code = 130


def error_lines(exc: BaseException) -> str:
    """A user error as printed: ``error: `` before each line (one line per problem)."""
    return "\n".join(f"error: {line}" for line in str(exc).splitlines() or [""])
