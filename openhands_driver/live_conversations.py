"""The conversations of this process now inside run(): the process-wide stop (the fan-out's
deadlines and Ctrl-C) and the abort of conversations whose agent server is gone."""

from __future__ import annotations

import threading

_LIVE: dict[int, tuple[object, threading.Event, threading.Event]] = {}
_LIVE_LOCK = threading.Lock()


def abort_remote_conversations(host: str) -> int:
    """End every live conversation on agent server ``host`` now, because that server is gone (the
    orchestrator saw its worker die). Pausing needs the server; instead the conversation's HTTP
    client is closed, so its status poll fails at once (ConversationRunError: the run's error)
    instead of retrying until the SDK's run timeout. Returns how many were aborted."""
    with _LIVE_LOCK:
        live = list(_LIVE.values())
    aborted = 0
    for conversation, *_ in live:
        workspace = getattr(conversation, "workspace", None)
        if str(getattr(workspace, "host", "")).rstrip("/") == host.rstrip("/") and abort_remote(conversation):
            aborted += 1
    return aborted


def abort_remote(conversation) -> bool:
    """Close a remote conversation's HTTP client: its run() fails at its next request instead of
    retrying an unreachable server until the SDK's own timeout. False for a local conversation."""
    workspace = getattr(conversation, "workspace", None)
    if not hasattr(workspace, "reset_client"):
        return False
    try:
        workspace.reset_client()
    except Exception:  # noqa: BLE001  already closed
        pass
    return True


def pause_live_conversations(*, only_timed_out: bool = False) -> int:
    """Pause every conversation of this process now in run() (or only those past their deadline).

    pause() takes effect at the next step boundary, and a pause that lands before run() has switched
    the conversation to RUNNING is overwritten: callers repeat this until the runs have returned.
    """
    with _LIVE_LOCK:
        live = list(_LIVE.values())
    paused = 0
    for conversation, timed_out, interrupted in live:
        if only_timed_out and not timed_out.is_set():
            continue
        if not only_timed_out:
            interrupted.set()  # its run ends "interrupted", not "not_fixed"
        try:
            conversation.pause()
            paused += 1
        except Exception:  # e.g. an agent server that went away: its run() fails on its own
            pass
    return paused
