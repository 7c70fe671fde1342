#!/usr/bin/env python3
"""Is the database password file the service presents different from the vault copy? (JSON)

Searches instead of assuming: the password file comes from the log line of the failed login
(`password authentication failed for user ... (password file <path>)`) or etc/service.json
(`db_password_file`), the vault copy from etc/service.json (`db_password_vault_path`) or, failing
that, from the files under var/lib/vault. Compares sha256 checksums computed inside the target
(`targetctl exec sha256sum`), so no secret value is ever printed. Backups beside the password
file (`*.old`, `*.bak`) are reported as NOT a source. Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import cat_json, targetctl  # noqa: E402

DEFAULT_SECRET = "etc/secrets/db_password"
VAULT_DIR = "var/lib/vault"
AUTH_FAILED = re.compile(r"password authentication failed for user \S+ \(password file ([^)\s]+)\)")


def checksum(path: str) -> str | None:
    result = targetctl("exec", "sha256sum", "--", path)
    words = result.stdout.split()
    return words[0] if result.returncode == 0 and words else None


def files_under(path: str) -> list[str]:
    return sorted(targetctl("exec", "find", path, "-type", "f").stdout.split())


def diagnose() -> dict:
    health = targetctl("status")
    config = cat_json("etc/service.json", {})
    logs = targetctl("logs", "-n", "200").stdout
    failures = [line.strip() for line in logs.splitlines() if AUTH_FAILED.search(line)]
    logged = AUTH_FAILED.search(failures[-1]).group(1) if failures else None
    secret = logged or config.get("db_password_file") or DEFAULT_SECRET
    vault = config.get("db_password_vault_path")
    secret_sum = checksum(secret)
    candidates = [vault] if vault else files_under(VAULT_DIR)
    store_sums = {path: checksum(path) for path in candidates}
    store = vault if vault else next(iter(candidates), None)
    store_sum = store_sums.get(store) if store else None
    folder = secret.rsplit("/", 1)[0] if "/" in secret else "."
    backups = [p for p in files_under(folder) if p != secret and p.startswith(secret + ".")]
    unhealthy = health.returncode != 0
    result = {
        "check": "bad-credential",
        "healthy": not unhealthy,
        "health": health.stdout.strip()[-400:],
        "password_file": secret,
        "password_file_present": secret_sum is not None,
        "credential_store": store,
        "password_matches_store": secret_sum is not None and secret_sum == store_sum,
        "backups_not_a_source": [{"path": p, "matches_store": checksum(p) == store_sum}
                                 for p in backups],
        "login_failures_in_log": len(failures),
        "fault_present": unhealthy and bool(failures) and store_sum is not None
                         and secret_sum != store_sum,
    }
    if result["fault_present"]:
        result["diagnosis"] = {
            "fault_class": "bad_credential",
            "entity": secret,
            "evidence": [failures[-1],
                         f"sha256({secret}) != sha256({store}) (vault copy, source of truth)",
                         health.stdout.strip().splitlines()[0] if health.stdout.strip() else "no answer"],
        }
    return result


def main(argv: list) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
