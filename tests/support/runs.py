"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import os


class NullConsole:
    """A console stream that drops the agent's live output (tests assert on results instead)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def pg_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
