"""Fault class stale_lockfile: a previous instance died and left its lock file behind.

The service takes an exclusive lock file at the path `lock_file` in etc/service.json and refuses
traffic (HTTP 503) while another pid holds it; it cannot tell a dead owner from a live one, so
the lock of a crashed instance blocks it until somebody removes that file. The supervisor holds
its own lock (`supervisor_lock`, its live pid) — the decoy: a careless `rm <dir>/*.lock` removes
it too. Restarting never helps: the file survives.

Variants (by seed): the lock directory and file name ({svc} = the service's name), the dead
owner's pid, and where the supervisor's lock sits (mostly beside the blocking one).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_stale_lockfile (the runner, the tests)
    from . import faults_core as core, root_layout as layout
    from .pidfiles import pid_running
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout
    from pidfiles import pid_running

LOCK_DIRS = ("var/lock", "var/lock/{svc}", "var/lib/{svc}", "var/lib/{svc}/run", "var/spool/{svc}")
LOCK_NAMES = ("{svc}.lock", "instance.lock", "leader.lock", "{svc}-worker.lock", "server.lock")
SUPERVISOR_LOCK_NAMES = ("supervisor.lock", "{svc}-supervisor.lock", "housekeeping.lock")


def _read_pid(root: Path, rel: str) -> Any:
    try:
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"\d+", text)
    return int(match.group()) if match else ""


@core.register_class
class StaleLockfile(core.FaultClass):
    name = "stale_lockfile"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        lock_dir = rng.choice(LOCK_DIRS)
        decoy_dir = lock_dir if rng.random() < 0.7 else rng.choice(LOCK_DIRS)
        lock_name = rng.choice(LOCK_NAMES)
        decoy_name = rng.choice([n for n in SUPERVISOR_LOCK_NAMES if n != lock_name])
        return {"lock_file": "%s/%s" % (lock_dir, lock_name), "supervisor_lock":
                "%s/%s" % (decoy_dir, decoy_name), "owner_pid": rng.randint(3000, 60000)}

    @staticmethod
    def _paths(params: Mapping[str, Any]) -> Dict[str, str]:
        svc = str(params.get("service") or "checkout")
        lock = str(params.get("lock_file") or layout.LOCK_FILE).replace("{svc}", svc)
        decoy = str(params.get("supervisor_lock") or "var/lock/supervisor.lock").replace("{svc}", svc)
        return {"lock": lock, "decoy": decoy}

    def inject(self, ctx: core.FaultContext) -> None:
        paths = self._paths(ctx.params)
        config = core.read_service_json(ctx.root)
        config["lock_file"], config["supervisor_lock"] = paths["lock"], paths["decoy"]
        core.write_service_json(ctx.root, config)
        pid = core.dead_pid(int(ctx.params.get("owner_pid") or 4242))
        core.write_file(ctx.root / paths["lock"], "%d\n" % pid)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "unavailable"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._paths(params)["lock"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._paths(params)["decoy"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._paths(params)["lock"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        paths = self._paths(params)
        owner = _read_pid(root, paths["lock"])
        gone = owner is None
        live = isinstance(owner, int) and pid_running(owner)
        decoy = _read_pid(root, paths["decoy"])
        return [
            core.Check("the dead owner's lock is gone (or a live process holds it)", gone or live,
                       "%s: %s" % (paths["lock"], "absent" if gone else "held by pid %s (%s)"
                                   % (owner, "running" if live else "not running"))),
            core.Check("the supervisor's lock is still held by a live process",
                       isinstance(decoy, int) and pid_running(decoy),
                       "%s: %s" % (paths["decoy"], "absent" if decoy is None else "pid %s" % decoy)),
        ]
