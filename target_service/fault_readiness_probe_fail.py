"""Fault class readiness_probe_fail: the warm-up data file is unusable, so the instance never
reports ready.

At start the app clears var/run/ready, loads the warm-up data file named by `warmup.data_file` in
etc/service.json and sets the flag again only when that file loads (header
`format=warmup/2 records=N`, then N records). The file was lost or damaged; the package ships a
pristine copy (`warmup.seed_file`, under opt/). Every probe answers 503. Touching var/run/ready
answers the probe until the next restart (the app clears it and the warm-up fails again): the
real fix restores the data file from the shipped copy. Decoys: the shipped copy itself (a `mv`
instead of a `cp` destroys it) and a sibling file in the data directory the warm-up does not
read (a careless clean-up of the directory removes it).

Variants (by seed): data directory and file name ({svc} = the service's name), how it is broken
(missing, empty, truncated, an older format), the number of records, the sibling's name.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_readiness_probe_fail (the runner, the tests)
    from . import faults_core as core, faults_service as service
    from .app_service import warmup_problem
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    from app_service import warmup_problem

DATA_DIRS = ("var/lib/{svc}/cache", "var/lib/{svc}", "var/lib/{svc}/warmup", "srv/{svc}/data",
             "var/cache/{svc}")
DATA_NAMES = ("warmup.dat", "catalog.idx", "routes.db", "price-table.dat", "geo.idx", "{svc}.idx",
              "sessions-template.dat")
SEED_DIRS = ("opt/{svc}/share", "opt/{svc}/share/seed", "opt/{svc}/data")
SIBLING_NAMES = ("last-refresh.json", "stats.json", "warmup.history", "hotkeys.dat")
DAMAGES = ("missing", "empty", "truncated", "old_format")
DEFAULTS = {"data_file": "var/lib/{svc}/cache/warmup.dat", "seed_file": "opt/{svc}/share/warmup.dat",
            "damage": "missing", "records": 64, "sibling": "var/lib/{svc}/cache/stats.json"}


@core.register_class
class ReadinessProbeFail(core.FaultClass):
    name = "readiness_probe_fail"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        data_dir = rng.choice(DATA_DIRS)
        data_name = rng.choice(DATA_NAMES)
        return {"data_file": "%s/%s" % (data_dir, data_name),
                "seed_file": "%s/%s" % (rng.choice(SEED_DIRS), data_name),
                "damage": rng.choice(DAMAGES), "records": rng.randint(40, 400),
                "sibling": "%s/%s" % (data_dir, rng.choice(SIBLING_NAMES))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        out = {}
        for key, default in DEFAULTS.items():
            value = params.get(key) or default
            out[key] = value.replace("{svc}", svc) if isinstance(value, str) else value
        if out["damage"] not in DAMAGES:
            raise ValueError("readiness_probe_fail: unknown damage %r; valid: %s"
                             % (out["damage"], ", ".join(DAMAGES)))
        return out

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        service.set_warmup(ctx.root, p["data_file"], p["seed_file"], int(p["records"]))
        core.write_json(ctx.root / p["sibling"], {"refreshed": "2024-05-02T03:14:00Z",
                                                   "records": int(p["records"]), "took_ms": 412})
        target = ctx.root / p["data_file"]
        good = target.read_text(encoding="utf-8")
        if p["damage"] == "missing":
            target.unlink()
        elif p["damage"] == "empty":
            core.write_file(target, "")
        elif p["damage"] == "truncated":
            lines = good.splitlines()
            core.write_file(target, "\n".join(lines[:1 + len(lines) // 3]) + "\n")
        else:
            core.write_file(target, service.warmup_text(Path(p["data_file"]).name, int(p["records"]),
                                                        fmt="warmup/1"))

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "unavailable"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["data_file"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [p["seed_file"], p["sibling"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["data_file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        try:
            warmup = core.read_service_json(root).get("warmup") or {}
        except (OSError, ValueError) as exc:
            warmup = {"error": str(exc)}
        configured = warmup.get("data_file") if isinstance(warmup, dict) else None
        problem = warmup_problem(root, p["data_file"])
        seed_problem = warmup_problem(root, p["seed_file"])
        return [
            core.Check("the warm-up still reads its configured data file",
                       configured == p["data_file"],
                       "warmup.data_file in etc/service.json: %r" % (configured,)),
            core.Check("the warm-up data file loads", problem is None,
                       problem or "%s loads" % p["data_file"]),
            core.Check("the shipped copy is intact", seed_problem is None,
                       seed_problem or "%s loads" % p["seed_file"]),
            core.Check("the sibling data file is still there", (root / p["sibling"]).is_file(),
                       p["sibling"]),
        ]
