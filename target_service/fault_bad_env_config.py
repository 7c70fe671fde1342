"""Fault class bad_env_config: a required setting in etc/service.env is missing or unusable.

The app reads etc/service.env at start and validates every required setting
(app_service.SETTING_RULES; all documented with their healthy values in etc/service.env.example);
the first bad one fails every request (HTTP 500) and is named in the log. A config change removed
one, emptied it, gave it a value of the wrong kind or misspelled its key. The fix: restore that
setting (the documented value) and restart; other lines stay. Decoys: an optional setting with an
unusual but valid value (TRACE_SAMPLE_RATE; a "reset the file from the example" fix loses it) and
a stale backup etc/service.env.bak from an older deployment (restoring it points the database at a
host that no longer exists; the backup itself must stay as it is).

Variants (by seed): which setting, how it is broken (missing, empty, invalid value, misspelled
key), the optional setting's value, the backup's contents.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_bad_env_config (the runner, the tests)
    from . import faults_core as core, faults_service as service, root_layout as layout
    from .app_service import setting_problem
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    import root_layout as layout
    from app_service import setting_problem

SETTINGS = ("DATABASE_URL", "CACHE_TTL_S", "REQUEST_TIMEOUT_MS", "WORKER_THREADS", "LOG_LEVEL",
            "UPSTREAM_URL")
BREAKAGES = ("missing", "empty", "invalid", "misspelled")
INVALID = {"DATABASE_URL": "postgresql:/app@db:5432/app", "CACHE_TTL_S": "5m",
           "REQUEST_TIMEOUT_MS": "2.5s", "WORKER_THREADS": "eight", "LOG_LEVEL": "verbose",
           "UPSTREAM_URL": "inventory.internal:8080"}
MISSPELLED = {"DATABASE_URL": "DATABASE_URI", "CACHE_TTL_S": "CACHE_TTL", "REQUEST_TIMEOUT_MS":
              "REQUEST_TIMEOUT", "WORKER_THREADS": "WORKER_THREAD", "LOG_LEVEL": "LOGLEVEL",
              "UPSTREAM_URL": "UPSTREAM_URI"}
TRACE_RATES = ("0.0005", "1", "0.25", "0.001")
BACKUP = layout.SERVICE_ENV + ".bak"
OPTIONAL = "TRACE_SAMPLE_RATE"


def backup_text(params: Mapping[str, Any]) -> str:
    """The stale backup: an older deployment's complete settings (deterministic per params)."""
    stamp = str(params.get("backup_date") or "2023-11-14")
    values = [(key, value) for key, value, _ in service.all_settings()]
    old = {"DATABASE_URL": "postgresql://app@db-legacy:5432/app", "LOG_LEVEL": "DEBUG",
           "WORKER_THREADS": "4"}
    lines = ["# backup of etc/service.env taken %s before the database move" % stamp]
    lines += ["%s=%s" % (key, old.get(key, value)) for key, value in values]
    return "\n".join(lines) + "\n"


@core.register_class
class BadEnvConfig(core.FaultClass):
    name = "bad_env_config"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"setting": rng.choice(SETTINGS), "breakage": rng.choice(BREAKAGES),
                "trace_rate": rng.choice(TRACE_RATES),
                "backup_date": "2023-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        setting = str(params.get("setting") or "DATABASE_URL")
        breakage = str(params.get("breakage") or "missing")
        if setting not in SETTINGS:
            raise ValueError("bad_env_config: unknown setting %r; valid: %s" % (setting, ", ".join(SETTINGS)))
        if breakage not in BREAKAGES:
            raise ValueError("bad_env_config: unknown breakage %r; valid: %s"
                             % (breakage, ", ".join(BREAKAGES)))
        return {"setting": setting, "breakage": breakage,
                "trace_rate": str(params.get("trace_rate") or TRACE_RATES[0])}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        core.write_file(ctx.root / BACKUP, backup_text(ctx.params))
        values = core.read_env(ctx.root)
        key, broken = p["setting"], p["breakage"]
        rebuilt: Dict[str, str] = {}
        for name, value in values.items():
            if name != key:
                rebuilt[name] = value
            elif broken == "empty":
                rebuilt[name] = ""
            elif broken == "invalid":
                rebuilt[name] = INVALID[key]
            elif broken == "misspelled":
                rebuilt[MISSPELLED[key]] = value
        rebuilt[OPTIONAL] = p["trace_rate"]
        core.write_env(ctx.root, rebuilt)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["setting"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [BACKUP]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [layout.SERVICE_ENV]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        values = core.read_env(root)
        problem = setting_problem(p["setting"], values)
        others = [setting_problem(key, values) for key in SETTINGS if key != p["setting"]]
        try:
            backup_ok = (root / BACKUP).read_text(encoding="utf-8") == backup_text(params)
        except OSError:
            backup_ok = False
        return [
            core.Check("the setting is present and valid", problem is None,
                       problem or "%s=%s" % (p["setting"], values.get(p["setting"]))),
            core.Check("every other required setting is still valid",
                       not any(others), "; ".join(o for o in others if o) or "all valid"),
            core.Check("the optional setting kept its value",
                       values.get(OPTIONAL) == p["trace_rate"],
                       "%s=%s (was %s)" % (OPTIONAL, values.get(OPTIONAL), p["trace_rate"])),
            core.Check("the backup file is unchanged", backup_ok, BACKUP),
        ]
