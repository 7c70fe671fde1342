#!/usr/bin/env python3
"""Roll the release file back to the last known good release (JSON on stdout).

The target is the newest earlier revision that can run (not blindly the previous entry, which
may be another broken rollout; never a staged release that was not rolled out). Like `kubectl
rollout undo --to-revision`: the rollback becomes a new history revision. The edit runs inside
the target with its python3, atomically. The caller restarts the service afterwards.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK  # noqa: E402

# Runs in the service root: point "current" at argv[2] and record the rollback in the history.
ROLL_BACK = (
    "import json, os, sys\n"
    "path, release = sys.argv[1], sys.argv[2]\n"
    "data = json.load(open(path))\n"
    "history = data.setdefault('history', [])\n"
    "image = next((h.get('image') for h in history if h.get('release') == release), None)\n"
    "history.append({'revision': max([h.get('revision', 0) for h in history] + [0]) + 1,\n"
    "                'release': release, 'image': image,\n"
    "                'change': 'rollback from %s' % data.get('current')})\n"
    "data['current'] = release\n"
) + WRITE_BACK


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    target = found.get("rollback_to")
    if not found.get("current_problem") or not target:
        why = ("the current release can run" if not found.get("current_problem")
               else "no earlier runnable release in the history")
        return {"action": "rollback-release", "ok": False, "from": found.get("current"),
                "error": found.get("error") or why}
    result = diag.targetctl("exec", "python3", "-c", ROLL_BACK, found["release_file"], target)
    return {"action": "rollback-release", "file": found["release_file"], "from": found["current"],
            "to": target, "ok": result.returncode == 0, "error": result.stderr.strip()[-400:] or None,
            "next": "targetctl restart"}


def main() -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main())
