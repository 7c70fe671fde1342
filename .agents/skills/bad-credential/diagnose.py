#!/usr/bin/env python3
"""Diagnose a corrupted credential: does the mounted secret match the credential store?

Compares sha256 checksums computed inside the target (`targetctl exec sha256sum`), so no secret
value is ever printed. JSON on stdout. Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import subprocess
import sys

SECRET = "etc/secrets/db_password"
STORE = "var/lib/vault/db_password"


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def checksum(path: str) -> str | None:
    result = targetctl("exec", "sha256sum", path)
    words = result.stdout.split()
    return words[0] if result.returncode == 0 and words else None


def diagnose() -> dict:
    health = targetctl("status")
    secret, store = checksum(SECRET), checksum(STORE)
    auth_error = "authentication failed" in health.stdout
    return {
        "check": "bad-credential",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "secret": SECRET,
        "secret_present": secret is not None,
        "credential_store": STORE if store else None,
        "secret_matches_store": secret is not None and secret == store,
        "health_reports_auth_failure": auth_error,
        "fault_present": health.returncode != 0 and store is not None and secret != store,
    }


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
