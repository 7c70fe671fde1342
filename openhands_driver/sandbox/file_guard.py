"""The file editor's boundary: the same writable roots as the sandboxed terminal.

The SDK's ``file_editor`` runs in the runner's process, outside the bwrap sandbox, and its own
options restrict edits to a list of files but never ``view``. :func:`register` adds a tool
``sandboxed_file_editor`` that the model still sees as ``file_editor``: the SDK's tool, whose
executor first resolves the path (symlinks and ``..`` included) and refuses anything outside the
allowed roots (the incident workspace and the local target's service root) before the editor reads
or writes a byte. SDK imports stay inside functions (see CONTRIBUTING: only the conversation
imports the SDK, lazily).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TOOL_NAME = "sandboxed_file_editor"
_REGISTERED = threading.Lock()
_DONE: list[bool] = []


def outside_roots(path: str, roots: list[str] | tuple[str, ...]) -> bool:
    """True when ``path`` (resolved: symlinks, ``..``) is not inside one of ``roots``."""
    if not path or not os.path.isabs(path):
        return True
    resolved = Path(path).resolve()
    for root in roots:
        base = Path(root).resolve()
        if resolved == base or base in resolved.parents:
            return False
    return True


def refusal(path: str, roots: list[str] | tuple[str, ...]) -> str:
    return (f"Refused: {path} is outside the incident sandbox. The file editor may only read and "
            f"write under: {', '.join(roots)} (use `targetctl exec` for the service's files).")


def register() -> str:
    """Register the guarded tool with the SDK (once per process); returns its registry name."""
    with _REGISTERED:
        if _DONE:
            return TOOL_NAME
        from openhands.sdk.tool import ToolExecutor, register_tool
        from openhands.tools.file_editor import FileEditorTool
        from openhands.tools.file_editor.definition import FileEditorObservation

        class GuardedExecutor(ToolExecutor):
            def __init__(self, inner, roots: tuple[str, ...]) -> None:
                self.inner, self.roots = inner, roots

            def __call__(self, action, conversation=None):
                if outside_roots(action.path, self.roots):
                    return FileEditorObservation.from_text(text=refusal(action.path, self.roots),
                                                           command=action.command, is_error=True)
                return self.inner(action, conversation)

            def close(self) -> None:
                self.inner.close()

        class SandboxedFileEditorTool(FileEditorTool):
            name = "file_editor"  # what the model calls; registered under TOOL_NAME

            @classmethod
            def create(cls, conv_state, allowed_roots: list[str] | None = None):
                roots = tuple(allowed_roots or (conv_state.workspace.working_dir,))
                return [tool.model_copy(update={"executor": GuardedExecutor(tool.executor, roots)})
                        for tool in super().create(conv_state)]

        register_tool(TOOL_NAME, SandboxedFileEditorTool)
        _DONE.append(True)
    return TOOL_NAME
