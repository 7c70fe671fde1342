"""Fault class bad_credential: the database password file the service presents is wrong.

At start the service logs in to its database with the file named `db_password_file` in
etc/service.json (app_dependency.py); the database (var/lib/db/auth) rejects it, so every request
fails (HTTP 500) and the log says `password authentication failed ... (password file <path>)`.
The source of truth is the vault copy named `db_password_vault_path` in etc/service.json. The fix:
restore the password file from the vault copy, then restart (read at start); restarting alone
never helps.

Decoys: a rotated-out backup `<file>.old` beside the password file (an older password the
database no longer accepts: restoring from it does not fix anything and it must stay as it is),
the vault copy itself and the database's own auth file (changing those to match the wrong password
is not a fix).

Variants (by seed): where the password file lives and its name ({svc} = the service's name), where
the vault copy lives, and how the file went wrong (a different rotated value that was never
synced, a truncated value, a value stored base64-encoded, trailing junk). Older params ({}) still
work: the packaged locations and a corrupted value.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_bad_credential (the runner, the tests)
    from . import faults_core as core, root_layout as layout
    from .faults_dependency import digest
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout
    from faults_dependency import digest

SECRET_DIRS = ("etc/secrets", "etc/secrets/{svc}", "etc/{svc}/secrets", "srv/{svc}/secrets",
               "etc/secrets/{svc}-db")
SECRET_NAMES = ("db_password", "postgres-password", "database.password", "{svc}-db-password",
                "DB_PASSWORD")
VAULT_PATHS = ("var/lib/vault/db_password", "var/lib/vault/{svc}/db_password",
               "var/lib/vault/kv/{svc}/database/password", "var/lib/vault/secret/{svc}/db")
CORRUPTIONS = ("rotated", "truncated", "base64", "trailing")


@core.register_class
class BadCredential(core.FaultClass):
    name = "bad_credential"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"secret_file": "%s/%s" % (rng.choice(SECRET_DIRS), rng.choice(SECRET_NAMES)),
                "vault_file": rng.choice(VAULT_PATHS), "corruption": rng.choice(CORRUPTIONS)}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, str]:
        svc = str(params.get("service") or "checkout")
        secret = str(params.get("secret_file") or layout.SECRET_FILE).replace("{svc}", svc)
        vault = str(params.get("vault_file") or layout.VAULT_SECRET).replace("{svc}", svc)
        return {"secret": secret, "vault": vault, "old": secret + ".old",
                "corruption": str(params.get("corruption") or "corrupted")}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        root = ctx.root
        password = (root / layout.VAULT_SECRET).read_text(encoding="utf-8").strip()
        for rel in (layout.SECRET_FILE, layout.VAULT_SECRET):  # the packaged spots move
            if rel not in (p["secret"], p["vault"]):
                (root / rel).unlink()
        core.write_file(root / p["vault"], password + "\n", mode=0o600)
        wrong = {
            "rotated": digest("rotated", ctx.scenario_id)[:24],
            "truncated": password[:len(password) // 2],
            "base64": base64.b64encode(password.encode("utf-8")).decode("ascii"),
            "trailing": password + "\\n",
        }.get(p["corruption"], "corrupted-%s" % digest("corrupt", ctx.scenario_id)[:16])
        core.write_file(root / p["secret"], wrong + "\n", mode=0o600)
        core.write_file(root / p["old"], digest("previous", ctx.scenario_id)[:24] + "\n", mode=0o600)
        service = core.read_service_json(root)
        service["db_password_file"], service["db_password_vault_path"] = p["secret"], p["vault"]
        core.write_service_json(root, service)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["secret"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [p["old"], p["vault"], layout.DB_AUTH]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["secret"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)

        def text(rel: str) -> Any:
            try:
                return (root / rel).read_text(encoding="utf-8").strip()
            except OSError:
                return None

        secret, vault, old = text(p["secret"]), text(p["vault"]), text(p["old"])
        configured = core.service_setting(root, "db_password_file")
        return [
            core.Check("the service still reads its password from %s" % p["secret"],
                       configured == p["secret"], "db_password_file: %s" % configured),
            core.Check("%s holds the vault's value" % p["secret"],
                       secret is not None and vault is not None and secret == vault,
                       "absent" if secret is None else ("matches" if secret == vault else "differs")),
            core.Check("the rotated-out backup %s is kept" % p["old"],
                       old is not None and old != vault, "absent" if old is None else "present"),
        ]
