"""Fault class bad_release: the current release cannot run, so the supervisor never starts the app.

The release file (`release_file` in etc/service.json) names the `current` release and keeps the
rollout `history`; installed releases live in `releases_dir`/<release>/manifest.json (image,
platform). The supervisor starts the app only if the current release is installed and built for
this host. Here a rollout made the current release one that is not installed ("missing": the
image does not exist, ImagePullBackOff) or built for another CPU architecture ("arch": exec
format error). In some incidents the rollout before it failed the same way (a release candidate
that was never published), so "undo to the previous history entry" lands on another broken
release: the fix is the newest release in the history that can run (the last known good).

Decoy: a newer release that is installed and runnable but was never rolled out (staged for a
canary). Rolling "forward" to it, or deleting unused installed releases, is wrong: the oracle
wants the last known good release current, and the staged manifest unchanged.

Variants (by seed): the release ids (semver), how many good releases the history holds, the
variant, the failed candidate before it, file locations, and the staged release.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_bad_release (the runner, the tests)
    from . import faults_core as core, faults_workload as wl, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_workload as wl
    import root_layout as layout

VARIANTS = ("missing", "arch")
RELEASE_FILES = (layout.RELEASE_JSON, "etc/releases/{svc}.json", "etc/rollout/{svc}.json")
RELEASES_DIRS = (layout.RELEASES_DIR, "opt/{svc}/releases", "srv/releases/{svc}")
DEFAULTS = {"variant": "missing", "good": list(wl.GOOD_RELEASES), "bad": wl.BAD_RELEASE,
            "candidate": "", "staged": "v1.4.3", "release_file": layout.RELEASE_JSON,
            "releases_dir": layout.RELEASES_DIR, "image": wl.IMAGE}


def _load(root: Path, rel: str) -> Any:
    try:
        return json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@core.register_class
class BadRelease(core.FaultClass):
    name = "bad_release"
    keeps_app_down = True

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        prefix = rng.choice(("v", "", "v"))
        major, minor, patch = rng.randint(1, 4), rng.randint(0, 12), rng.randint(0, 4)
        good = []
        for _ in range(rng.randint(2, 4)):
            good.append((major, minor, patch))
            if rng.random() < 0.6:
                patch += 1
            else:
                minor, patch = minor + 1, 0
        last = good[-1]
        bad = (last[0], last[1] + 1, 0)
        text = lambda v: "%s%d.%d.%d" % (prefix, v[0], v[1], v[2])  # noqa: E731
        return {"variant": rng.choice(VARIANTS), "good": [text(v) for v in good],
                "bad": text(bad),
                "candidate": text(bad) + "-rc.%d" % rng.randint(1, 3) if rng.random() < 0.5 else "",
                "staged": text((last[0], last[1], last[2] + 1)),
                "release_file": rng.choice(RELEASE_FILES), "releases_dir": rng.choice(RELEASES_DIRS),
                "image": "registry.local/{svc}:%s"}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        merged = dict(DEFAULTS)
        merged.update({k: v for k, v in params.items() if k in DEFAULTS and v not in (None, "", [])})
        if merged["variant"] not in VARIANTS:
            raise ValueError("bad_release variant must be 'missing' or 'arch', got %r" % merged["variant"])
        for key in ("release_file", "releases_dir", "image"):
            merged[key] = wl.svc_path(params, merged[key])
        merged["good"] = [str(r) for r in merged["good"]]
        return merged

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        wl.clear_healthy_workload(ctx.root, "release")
        here = wl.host_platform()
        image = p["image"]
        history = []
        for release in p["good"]:
            wl.write_release(ctx.root, p["releases_dir"], release, here, image % release)
            history.append({"revision": len(history) + 1, "release": release, "image": image % release})
        wl.write_release(ctx.root, p["releases_dir"], p["staged"], here, image % p["staged"],
                         {"channel": "staged", "note": "canary candidate; not rolled out"})
        if p["candidate"]:  # a failed earlier rollout: never published (no such image)
            history.append({"revision": len(history) + 1, "release": p["candidate"],
                            "image": image % p["candidate"]})
        if p["variant"] == "arch":
            wl.write_release(ctx.root, p["releases_dir"], p["bad"], wl.other_platform(), image % p["bad"])
        history.append({"revision": len(history) + 1, "release": p["bad"], "image": image % p["bad"]})
        core.write_json(ctx.root / p["release_file"], {"current": p["bad"], "history": history})
        wl.set_locations(ctx.root, release_file=p["release_file"], releases_dir=p["releases_dir"])

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "down"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["bad"]

    def _manifest(self, p: Mapping[str, Any], release: str) -> str:
        return "%s/%s/manifest.json" % (p["releases_dir"], release)

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [self._manifest(p, p["staged"]), self._manifest(p, p["good"][-1])]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["release_file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        data = _load(root, p["release_file"])
        current = data.get("current") if isinstance(data, dict) else None
        good = p["good"][-1]
        manifest = _load(root, self._manifest(p, str(current)))
        built_for = manifest.get("platform") if isinstance(manifest, dict) else None
        staged = _load(root, self._manifest(p, p["staged"]))
        return [
            core.Check("the last known good release is current", current == good,
                       "%s: current %r (last known good %s)" % (p["release_file"], current, good)),
            core.Check("the current release is installed and built for this host",
                       built_for == wl.host_platform(),
                       "%s: platform %r, host %s" % (self._manifest(p, str(current)), built_for,
                                                     wl.host_platform())),
            core.Check("the staged release is still installed and not rolled out",
                       isinstance(staged, dict) and current != p["staged"],
                       "%s: %s" % (self._manifest(p, p["staged"]),
                                   "present" if isinstance(staged, dict) else "missing")),
        ]
