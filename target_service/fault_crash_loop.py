"""Fault class crash_loop: a change to the start command keeps the app from ever listening.

The supervisor runs `sh <entrypoint> <app command...>` (`entrypoint` in etc/service.json): init
steps, the site hooks (<hooks dir>/*.sh), then `exec "$@"` hands over to the app. The packaged
copy of the entrypoint (named in its header) is the source of truth. A change to the entrypoint:
  crash            adds an init step that fails: it parses a malformed file, copies a file that
                   does not exist, runs a tool that is not installed, or checks a file left empty
                   -> exits at every start, restarted with back-off
  invalid_command  hands over with an argument the app rejects (exit 2 at every start)
  hang             adds an init step that waits for a file nothing creates (never listens)
Restarting never helps. The fix is the packaged entrypoint back (the added step gone).

Decoy: a site hook in the hooks dir (valid, custom, runs at every start) that must be kept; a
careless "strip every init step" deletes it. The file an init step reads is not the fix either
(only the entrypoint may change): creating the awaited marker or editing the parsed file leaves
the bad step in place.

Variants (by seed): entrypoint and packaged-copy locations, hooks dir and hook, the variant, the
broken init step and the file it reads (or the rejected argument, or the awaited file).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

if __package__:  # imported as target_service.fault_crash_loop (the runner, the tests)
    from . import faults_core as core, faults_workload as wl, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_workload as wl
    import root_layout as layout

VARIANTS = ("crash", "invalid_command", "hang")
ENTRYPOINTS = (  # (entrypoint, packaged copy)
    (layout.ENTRYPOINT, layout.ENTRYPOINT_DEFAULT),
    ("etc/{svc}/entrypoint.sh", "opt/{svc}/share/entrypoint.sh"),
    ("etc/init/{svc}.sh", "etc/init/{svc}.sh.dist"),
    ("etc/{svc}/start.sh", "opt/{svc}/share/start.sh"))
HOOK_DIRS = (wl.HOOKS_DIR, "etc/{svc}/init.d", "etc/init/{svc}.d")
HOOKS = {  # name -> body (valid site customisation)
    "10-cache-dir.sh": "# site hook: cache directory for the response cache\nmkdir -p var/lib/{svc}/cache\n",
    "20-tmp-cleanup.sh": "# site hook: drop stale upload temp files\nrm -f var/lib/{svc}/upload-*.tmp\n",
    "05-timezone.sh": "# site hook: service runs in UTC\ntest -z \"$TZ\" || echo \"hook: TZ=$TZ\"\n",
}
# Crash steps: kind -> (step name, command template, file it reads, content of that file or None)
CRASH_STEPS = {
    "parse": ("load-toggles", "step load-toggles python3 -c 'import json, sys; json.load(open(sys.argv[1]))' {file}",
              ("etc/features.json", "etc/{svc}/toggles.json", "etc/config/{svc}-features.json"),
              '{"features": {"recommendationCache": true,,}}\n'),
    "copy": ("seed-cache", "step seed-cache cp {file} var/lib/{svc}/cache-seed.json",
             ("etc/{svc}/cache-seed.json", "var/lib/{svc}/seed/cache.json", "srv/{svc}/cache-seed.json"),
             None),
    "tool": ("schema-check", "step schema-check {file} verify --strict",
             ("{svc}-schemactl", "opt/{svc}/bin/schemactl", "dbmigrate"), None),
    "empty": ("verify-ca", "step verify-ca test -s {file}",
              ("etc/{svc}/tls/ca-bundle.pem", "etc/ssl/{svc}-ca.pem", "etc/tls/internal-ca.pem"), ""),
}
BAD_ARGS = (("--workers", "auto"), ("--threads", "8"), ("--bind", "0.0.0.0:8080"), ("--log-format", "json"))
WAIT_FILES = (("wait-for-migrations", "var/lib/db/schema.migrated"),
              ("wait-for-warmup", "var/lib/{svc}/warmup.done"),
              ("wait-for-secrets", "var/lib/{svc}/secrets.synced"))
DEFAULTS = {"variant": "crash", "entrypoint": layout.ENTRYPOINT, "packaged": layout.ENTRYPOINT_DEFAULT,
            "hooks_dir": wl.HOOKS_DIR, "hook": "10-cache-dir.sh", "step": "parse",
            "file": "etc/features.json", "arg": ["--workers", "auto"],
            "wait": ["wait-for-migrations", "var/lib/db/schema.migrated"]}


def significant(text: Optional[str]) -> List[str]:
    """The lines that run (comments and blank lines left out, whitespace normalised)."""
    if text is None:
        return []
    return [" ".join(line.split()) for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _read(root: Path, rel: str) -> Optional[str]:
    try:
        return (Path(root) / rel).read_text(encoding="utf-8")
    except OSError:
        return None


@core.register_class
class CrashLoop(core.FaultClass):
    name = "crash_loop"
    keeps_app_down = True

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        entrypoint, packaged = rng.choice(ENTRYPOINTS)
        step = rng.choice(sorted(CRASH_STEPS))
        return {"variant": rng.choice(("crash", "crash", "invalid_command", "hang")),
                "entrypoint": entrypoint, "packaged": packaged, "hooks_dir": rng.choice(HOOK_DIRS),
                "hook": rng.choice(sorted(HOOKS)), "step": step,
                "file": rng.choice(CRASH_STEPS[step][2]), "arg": list(rng.choice(BAD_ARGS)),
                "wait": list(rng.choice(WAIT_FILES))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        merged = dict(DEFAULTS)
        merged.update({k: v for k, v in params.items() if k in DEFAULTS and v not in (None, "", [])})
        if merged["variant"] not in VARIANTS:
            raise ValueError("crash_loop variant must be one of %s, got %r"
                             % (", ".join(VARIANTS), merged["variant"]))
        if merged["step"] not in CRASH_STEPS or merged["hook"] not in HOOKS:
            raise ValueError("crash_loop step/hook unknown: %r / %r" % (merged["step"], merged["hook"]))
        for key in ("entrypoint", "packaged", "hooks_dir", "file"):
            merged[key] = wl.svc_path(params, merged[key])
        merged["wait"] = [wl.svc_path(params, w) for w in merged["wait"]]
        merged["hook_path"] = "%s/%s" % (merged["hooks_dir"], merged["hook"])
        return merged

    def _bad_script(self, p: Mapping[str, Any], params: Mapping[str, Any], good: str) -> str:
        if p["variant"] == "invalid_command":
            return good.replace(wl.HANDOVER, 'exec "$@" %s %s\n' % tuple(p["arg"]))
        if p["variant"] == "hang":
            name, marker = p["wait"]
            init = ("echo \"entrypoint: init step '%s': waiting for %s\" >&2\n"
                    "until test -e %s; do sleep 1; done\n" % (name, marker, marker))
        else:
            init = wl.svc_path(params, CRASH_STEPS[p["step"]][1]).replace("{file}", p["file"]) + "\n"
        return good.replace(wl.HANDOVER, init + wl.HANDOVER)

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        wl.clear_healthy_workload(ctx.root, "entrypoint")
        good = wl.entrypoint_script(p["packaged"], p["hooks_dir"], ctx.service)
        core.write_file(ctx.root / p["packaged"], good)
        core.write_file(ctx.root / p["hook_path"], wl.svc_path(ctx.params, HOOKS[p["hook"]]))
        if p["variant"] == "crash":
            content = CRASH_STEPS[p["step"]][3]
            if content is not None:
                core.write_file(ctx.root / p["file"], content)
        core.write_file(ctx.root / p["entrypoint"], self._bad_script(p, ctx.params, good))
        wl.set_locations(ctx.root, entrypoint=p["entrypoint"])

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "down"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["entrypoint"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [p["hook_path"], p["packaged"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["entrypoint"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        current, packaged = _read(root, p["entrypoint"]), _read(root, p["packaged"])
        added = [line for line in significant(current) if line not in significant(packaged)]
        return [
            core.Check("the entrypoint runs what the packaged copy runs",
                       current is not None and packaged is not None
                       and significant(current) == significant(packaged),
                       "%s: %s" % (p["entrypoint"], "missing" if current is None else
                                   ("lines not in %s: %s" % (p["packaged"], added) if added else
                                    "same steps as %s" % p["packaged"]
                                    if significant(current) == significant(packaged)
                                    else "steps differ from %s" % p["packaged"]))),
            core.Check("the site hook is still in place", _read(root, p["hook_path"]) is not None,
                       p["hook_path"]),
        ]
