#!/usr/bin/env python3
"""Set the winning port setting to the expected port; JSON on stdout.

Re-diagnoses first and edits only that one setting (its exact `key: wrong value`), leaving
`metrics.port`, other files and etc/upstream.json alone. The port is read at start: run
`targetctl restart` afterwards. Acts only through `targetctl` with list arguments.
Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    result = {"action": "set-listen-port", "ok": False}
    if not found["fault_present"]:
        return dict(result, error="the effective listen port already is the expected one", diagnose=found)
    winner, expected = found["effective"], int(found["expected_port"])
    wrong = str(winner["value"])
    if winner["key"] == "PORT":
        script = f"s/^([[:space:]]*PORT[[:space:]]*=[[:space:]]*){wrong}[[:space:]]*$/\\1{expected}/"
    else:
        key = winner["key"].split(".")[-1]
        script = f's/("{key}"[[:space:]]*:[[:space:]]*){wrong}([^0-9]|$)/\\1{expected}\\2/'
    if not wrong.isdigit():
        return dict(result, error=f"{winner['file']}:{winner['key']} is not a number ({wrong!r}); edit it by hand")
    done = diag.targetctl("exec", "sed", "-i", "-E", script, winner["file"])
    after = diag.port_settings()
    effective = after[-1]["value"] if after else None
    return dict(result, file=winner["file"], key=winner["key"], old=winner["value"], new=expected,
                effective_after=effective, next_step="targetctl restart",
                ok=done.returncode == 0 and effective == expected)


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
