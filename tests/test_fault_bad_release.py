"""Fault class bad_release: generator, legacy (ITBench) params, oracle, live symptom and skill."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

from target_service import faults, supervisor
from tests.support import workload as wk
from tests.support.workload import inject_root

FAULT = "bad_release"


def _release_file(root: Path) -> tuple[str, dict]:
    rel = json.loads((root / "etc/service.json").read_text()).get("release_file", "etc/release.json")
    return rel, json.loads((root / rel).read_text())


def _set_current(root: Path, release: str) -> None:
    rel, data = _release_file(root)
    data["history"].append({"revision": len(data["history"]) + 1, "release": release})
    data["current"] = release
    (root / rel).write_text(json.dumps(data))


class BadReleaseClassTests(wk.WorkloadClassTests):
    FAULT = FAULT
    LEGACY = ({}, {"variant": "missing"}, {"variant": "arch"})

    def fix(self, root: Path, v: dict) -> None:
        _set_current(root, faults.fault_class(FAULT)._p(v["params"])["good"][-1])

    def workarounds(self):
        def previous_entry(root: Path, v: dict) -> None:  # blind undo: the entry before current
            _, data = _release_file(root)  # (the right fix when no failed candidate precedes it)
            if faults.fault_class(FAULT)._p(v["params"])["candidate"]:
                _set_current(root, data["history"][-2]["release"])

        def staged(root: Path, v: dict) -> None:  # forward to the newest installed release
            _set_current(root, faults.fault_class(FAULT)._p(v["params"])["staged"])

        def fake_manifest(root: Path, v: dict) -> None:  # make the broken release "runnable"
            p = faults.fault_class(FAULT)._p(v["params"])
            faults.write_release(root, p["releases_dir"], p["bad"], faults.host_platform(), "x")

        return {"previous entry": previous_entry, "staged release": staged, "fake manifest": fake_manifest}

    def damage_decoy(self, root: Path, v: dict) -> None:
        staged = Path(root / v["decoys"][0])
        staged.unlink()

    def test_previous_entry_is_broken_in_some_incidents(self) -> None:
        broken_previous = 0
        for seed in range(20):
            v = self.variant(seed)
            root = inject_root(self.tmp, FAULT, v["params"], "p%d" % seed)
            _, data = _release_file(root)
            previous = data["history"][-2]["release"]
            good = faults.fault_class(FAULT)._p(v["params"])["good"][-1]
            broken_previous += previous != good
            self.assertEqual(data["current"], v["entity"])
        self.assertGreaterEqual(broken_previous, 4)
        variants = {self.variant(seed)["params"]["variant"] for seed in range(20)}
        self.assertEqual(variants, {"missing", "arch"})

    def test_supervisor_message(self) -> None:
        for params, needle in (({}, "ImagePullBackOff"), ({"variant": "arch"}, "exec format error")):
            root = inject_root(self.tmp, FAULT, params, "m-%s" % needle.split()[0])
            with self.assertRaises(supervisor.WorkloadError) as caught:
                supervisor.read_workload(root)
            self.assertEqual(caught.exception.state, "release_error")
            self.assertIn("release v1.5.0 (current in etc/release.json) is not runnable: image", str(caught.exception))
            self.assertIn(needle, str(caught.exception))


class BadReleaseLiveTests(wk.WorkloadLiveTests):
    FAULT = FAULT
    SKILL = "bad-release"
    EVIDENCE = {0: "is not runnable: image", 1: "cannot start app: release", 2: "is not runnable"}



class BadReleaseDockerTests(wk.WorkloadDockerTests):
    FAULT = FAULT
    SKILL = "bad-release"


if __name__ == "__main__":
    unittest.main()
