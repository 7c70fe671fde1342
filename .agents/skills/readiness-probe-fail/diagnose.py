#!/usr/bin/env python3
"""Diagnose an instance that never becomes ready because its warm-up data does not load (JSON).

Searches: the warm-up section of etc/service.json (`warmup.data_file`, the shipped copy
`warmup.seed_file`), the log's warm-up and readiness lines, and the data file itself (header
`format=<fmt> records=N`, then N tab-separated records; the shipped copy tells the format this
release reads). The readiness flag (var/run/ready) is only the symptom: the app clears it at every
start and sets it when the warm-up loads. Acts only through `targetctl` (list arguments, never a
shell). Importable: `diagnose() -> dict`, `data_problem(text, rel, fmt) -> str | None`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import cat_json, targetctl  # noqa: E402

CLASS_ID = "readiness_probe_fail"
WARMUP_FAILED = re.compile(r"warm-up failed: (.*?); instance stays not ready")
NOT_READY = re.compile(r"readiness check failed")


def safe_rel(path: object) -> bool:
    return isinstance(path, str) and bool(path) and not path.startswith("/") and ".." not in path.split("/")


def header_of(text: str) -> dict:
    first = text.splitlines()[0] if text.strip() else ""
    return dict(part.partition("=")[::2] for part in first.split() if "=" in part)


def data_problem(text: str | None, rel: str, fmt: str | None) -> str | None:
    """Why this warm-up data does not load (None = it loads), by the same rules as the app."""
    if text is None:
        return f"{rel} not found"
    lines = text.splitlines()
    if not lines:
        return f"{rel} is empty"
    header = header_of(text)
    if "format" not in header or not header.get("records", "").isdigit():
        return f"{rel} has no valid header"
    if fmt and header["format"] != fmt:
        return f"{rel} has format {header['format']}, the shipped copy has {fmt}"
    records = [line for line in lines[1:] if "\t" in line]
    if len(records) != int(header["records"]):
        return f"{rel} is truncated: {len(records)} of {header['records']} records"
    return None


def read(path: str) -> str | None:
    done = targetctl("exec", "cat", "--", path)
    return done.stdout if done.returncode == 0 else None


def diagnose() -> dict:
    health = targetctl("status")
    config = cat_json("etc/service.json", {})
    warmup = config.get("warmup") if isinstance(config, dict) else None
    warmup = warmup if isinstance(warmup, dict) else {}
    data_file, seed_file = warmup.get("data_file"), warmup.get("seed_file")
    logs = targetctl("logs", "-n", "200").stdout.splitlines()
    failed = [line.strip() for line in logs if WARMUP_FAILED.search(line)]
    not_ready = [line.strip() for line in logs if NOT_READY.search(line)]
    out = {"check": "readiness-probe-fail", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "data_file": data_file, "seed_file": seed_file,
           "fault_present": False}
    if not safe_rel(data_file):
        out["note"] = "no warm-up data file configured in etc/service.json"
        return out
    seed_text = read(seed_file) if safe_rel(seed_file) else None
    fmt = header_of(seed_text).get("format") if seed_text else None
    seed_problem = data_problem(seed_text, seed_file or "(no seed_file)", None)
    problem = data_problem(read(data_file), data_file, fmt)
    out.update({"data_problem": problem, "seed_problem": seed_problem,
                "flag_exists": targetctl("exec", "test", "-e", "var/run/ready").returncode == 0})
    out["fault_present"] = bool(problem) and (health.returncode != 0 or bool(failed))
    if out["fault_present"]:
        evidence = (failed[-1:] or []) + (not_ready[-1:] or []) + [problem]
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": data_file, "evidence": evidence}
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
