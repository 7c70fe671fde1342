"""Shared checks for the workload fault classes (the app never runs): scaled_to_zero, bad_release,
crash_loop, resource_limit. Each tests/test_fault_<name>.py subclasses `WorkloadClassTests`
(generator, legacy params, oracle on plain roots) and `WorkloadLiveTests` (a real LocalTarget:
symptom, no leaked class name, skill diagnose/remediate, durability, collateral)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from openhands_driver import targetctl
from openhands_driver.runner import TARGETCTL_BIN
from openhands_driver.target.base import TargetError
from openhands_driver.target.local import LocalTarget
from target_service import faults, supervisor

REPO = Path(__file__).resolve().parent.parent.parent
SKILLS = REPO / ".agents" / "skills"
SKILL_SEEDS = (0, 1, 2)


def http_get(url: str, timeout: float = 2.0) -> tuple:
    """(status or None when unreachable, body) without any proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url), timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError):
        return None, ""


def ctl(target: LocalTarget, *args: str) -> tuple:
    """(exit code, stdout + stderr) of `targetctl ARGS` against the target, in process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = targetctl.main(list(args), env=target.control_env())
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue() + err.getvalue()


def forbidden(fault: str, skill: str) -> List[str]:
    words = fault.split("_")
    return sorted({fault, "-".join(words), " ".join(words), skill, "".join(words)})


def inject_root(tmp: Path, fault: str, params: Optional[Dict[str, Any]], name: str) -> Path:
    root = tmp / name
    faults.inject(root, fault, scenario_id="inst-x", listen_port=18080, params=params)
    return root


class WorkloadClassTests(unittest.TestCase):
    """Generator, legacy params and oracle, on roots without processes. Subclasses set FAULT and
    implement fix / workaround / damage_decoy (root, variant) and LEGACY (params that must work)."""

    FAULT = ""
    LEGACY: tuple = ({},)

    def fix(self, root: Path, variant: dict) -> None:
        raise NotImplementedError

    def workarounds(self) -> Dict[str, Callable[[Path, dict], None]]:
        return {}

    def damage_decoy(self, root: Path, variant: dict) -> None:
        raise NotImplementedError

    def setUp(self) -> None:
        if not self.FAULT:
            self.skipTest("base class")
        self.tmp = Path(tempfile.mkdtemp(prefix="test-wkl-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def variant(self, seed: int) -> dict:
        return faults.make_variant(self.FAULT, seed)

    def test_generator_is_seeded_and_varied(self) -> None:
        self.assertEqual(self.variant(7), self.variant(7))
        variants = [self.variant(seed) for seed in range(20)]
        self.assertGreaterEqual(len({v["entity"] for v in variants}), 4)
        self.assertTrue(faults.fault_class(self.FAULT).keeps_app_down)
        for v in variants:
            self.assertEqual(v["symptom"], "down")
            json.dumps(v)  # JSON-able

    def test_inject_creates_decoys_and_refuses_to_start(self) -> None:
        for seed in range(20):
            with self.subTest(seed=seed):
                v = self.variant(seed)
                root = inject_root(self.tmp, self.FAULT, v["params"], "s%d" % seed)
                for rel in v["decoys"] + v["may_change"]:
                    self.assertTrue((root / rel).exists(), rel)
                self.assertFalse(faults.run_oracle(root, self.FAULT, v["params"])["passed"])
                self.assert_refused(root)
                again = inject_root(self.tmp, self.FAULT, v["params"], "again%d" % seed)
                snap = faults.snapshot(root)
                self.assertEqual(snap, faults.snapshot(again))  # deterministic

    def assert_refused(self, root: Path) -> None:
        """The supervisor will not run it (overridden where the start command is what fails)."""
        with self.assertRaises(supervisor.WorkloadError):
            supervisor.read_workload(root)

    def test_legacy_params_still_work(self) -> None:
        cls = faults.fault_class(self.FAULT)
        for i, params in enumerate(self.LEGACY):
            with self.subTest(params=params):
                root = inject_root(self.tmp, self.FAULT, params, "legacy%d" % i)
                for rel in cls.decoys(params):
                    self.assertTrue((root / rel).exists(), rel)
                self.assertFalse(faults.run_oracle(root, self.FAULT, params)["passed"])
                self.fix(root, {"params": params, "entity": cls.entity(params)})
                self.assertTrue(faults.run_oracle(root, self.FAULT, params)["passed"],
                                faults.run_oracle(root, self.FAULT, params))

    def test_oracle(self) -> None:
        for seed in range(6):
            v = self.variant(seed)
            with self.subTest(seed=seed, check="real fix passes"):
                root = inject_root(self.tmp, self.FAULT, v["params"], "fix%d" % seed)
                before = faults.snapshot(root)
                self.fix(root, v)
                result = faults.run_oracle(root, self.FAULT, v["params"])
                self.assertTrue(result["passed"], result)
                self.assert_collateral_ok(before, faults.snapshot(root), v)
            with self.subTest(seed=seed, check="restart only fails"):
                root = inject_root(self.tmp, self.FAULT, v["params"], "none%d" % seed)
                self.assertFalse(faults.run_oracle(root, self.FAULT, v["params"])["passed"])
            for name, workaround in self.workarounds().items():
                with self.subTest(seed=seed, check="workaround fails: " + name):
                    root = inject_root(self.tmp, self.FAULT, v["params"], "w%d%s" % (seed, name))
                    workaround(root, v)
                    self.assertFalse(faults.run_oracle(root, self.FAULT, v["params"])["passed"])
            with self.subTest(seed=seed, check="damaging the decoy fails"):
                root = inject_root(self.tmp, self.FAULT, v["params"], "d%d" % seed)
                self.fix(root, v)
                before = faults.snapshot(root)
                self.damage_decoy(root, v)
                after = faults.snapshot(root)
                oracle_failed = not faults.run_oracle(root, self.FAULT, v["params"])["passed"]
                decoy_changed = any(before.get(rel) != after.get(rel) for rel in v["decoys"])
                self.assertTrue(decoy_changed, "the damage must show in the collateral snapshot")
                self.assertTrue(oracle_failed, "the oracle must see the damaged decoy")

    def assert_collateral_ok(self, before: dict, after: dict, v: dict) -> None:
        allowed = v["may_change"]
        changed = {rel for rel in set(before) | set(after) if before.get(rel) != after.get(rel)}
        for rel in changed:
            self.assertTrue(any(rel == a or (a.endswith("/") and rel.startswith(a)) for a in allowed),
                            "%s changed, not in %s" % (rel, allowed))
        for rel in v["decoys"]:
            self.assertEqual(before.get(rel), after.get(rel), rel)


class WorkloadLiveTests(unittest.TestCase):
    """A real LocalTarget per seed (started in parallel): symptom, generic body, no class name
    anywhere the agent looks, and the skill's scripts heal it for good without collateral."""

    FAULT = ""
    SKILL = ""
    EVIDENCE: Dict[int, str] = {}   # seed -> substring the log must show (besides the skill's)
    targets: Dict[int, LocalTarget] = {}
    variants: Dict[int, dict] = {}

    @classmethod
    def setUpClass(cls) -> None:
        if not cls.FAULT:
            return
        cls.targets, cls.variants = {}, {}
        for seed in SKILL_SEEDS:
            v = faults.make_variant(cls.FAULT, seed)
            target = LocalTarget(scenario_id="inst-x%d" % seed, fault=cls.FAULT, fault_params=v["params"])
            cls.addClassCleanup(target.cleanup)
            cls.targets[seed], cls.variants[seed] = target, v
        with ThreadPoolExecutor(len(cls.targets)) as pool:
            list(pool.map(lambda t: t.start(), cls.targets.values()))

    def setUp(self) -> None:
        if not self.FAULT:
            self.skipTest("base class")

    def run_script(self, target: LocalTarget, name: str) -> tuple:
        env = {**os.environ, **target.control_env(),
               "PATH": f"{TARGETCTL_BIN}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.run([sys.executable, str(SKILLS / self.SKILL / name)], env=env,
                              capture_output=True, text=True, timeout=120)
        try:
            return proc.returncode, json.loads(proc.stdout)
        except ValueError:
            self.fail("%s printed no JSON: %s %s" % (name, proc.stdout, proc.stderr))

    def wait_for_log(self, target: LocalTarget, needle: str, timeout_s: float = 12.0) -> str:
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            logs = target.logs(200)
            if needle in logs or time.monotonic() > deadline:
                return logs
            time.sleep(0.2)

    def test_1_symptom_and_no_leak(self) -> None:
        words = forbidden(self.FAULT, self.SKILL)
        for seed, target in self.targets.items():
            with self.subTest(seed=seed):
                v = self.variants[seed]
                code, status = ctl(target, "status")
                self.assertEqual(code, 1)
                self.assertIn("connection failed", status)  # down: nothing listens
                self.assertIsNone(http_get(target.url)[0])
                logs = self.wait_for_log(target, self.EVIDENCE.get(seed, ""))
                self.assertIn(self.EVIDENCE.get(seed, ""), logs)
                code, restart = ctl(target, "restart", "--timeout", "6")
                self.assertNotEqual(code, 0)  # restarting alone does not help
                _, logs = ctl(target, "logs", "-n", "200")
                _, info = ctl(target, "info")
                state = (target.root / targetctl.SUPERVISOR_STATE).read_text()
                shown = "\n".join((status, logs, info, restart, state,
                                   (target.root / "etc/service.json").read_text())).lower()
                for word in words:
                    self.assertNotIn(word.lower(), shown, word)
                names = " ".join(str(p.relative_to(target.root)) for p in target.root.rglob("*")).lower()
                for word in words:
                    self.assertNotIn(word.lower(), names, word)
                self.assertFalse(faults.run_oracle(target.root, self.FAULT, v["params"])["passed"])

    def test_2_skill_diagnoses_and_heals(self) -> None:
        for seed, target in self.targets.items():
            with self.subTest(seed=seed):
                v = self.variants[seed]
                before = faults.snapshot(target.root)
                code, found = self.run_script(target, "diagnose.py")
                self.assertEqual(code, 0)
                self.assertTrue(found["fault_present"], found)
                self.assertEqual(found["diagnosis"]["fault_class"], self.FAULT)
                self.assertEqual(found["diagnosis"]["entity"], v["entity"], found)
                self.assertTrue(found["diagnosis"]["evidence"])
                code, fixed = self.run_script(target, "remediate.py")
                self.assertEqual((code, fixed["ok"]), (0, True), fixed)
                target.restart(timeout_s=15)
                status, body = http_get(target.url)
                self.assertEqual(status, 200, body)
                self.assertEqual(json.loads(body)["status"], "ok")
                result = faults.run_oracle(target.root, self.FAULT, v["params"])
                self.assertTrue(result["passed"], result)
                after = faults.snapshot(target.root)
                WorkloadClassTests.assert_collateral_ok(self, before, after, v)
                target.restart(timeout_s=15)  # durable
                self.assertEqual(http_get(target.url)[0], 200)
                code, again = self.run_script(target, "diagnose.py")
                self.assertFalse(again["fault_present"], again)


class WorkloadDockerTests(unittest.TestCase):
    """One generated incident of the class on the Docker backend (skipped without an engine):
    the container gets the params, the skill's scripts find and heal it through targetctl's
    docker backend, and the oracle passes inside the container."""

    FAULT = ""
    SKILL = ""
    SEED = 3

    def setUp(self) -> None:
        if not self.FAULT:
            self.skipTest("base class")
        from tests.test_target_docker import require_engine

        self.client = require_engine()["client"]

    def test_docker_incident(self) -> None:
        from openhands_driver.target import docker as dt
        from tests.test_target_docker import new_run_id

        v = faults.make_variant(self.FAULT, self.SEED)
        run_id = new_run_id(self.SKILL)
        self.addCleanup(dt.remove_run_containers, run_id, self.client)
        target = dt.DockerTarget(scenario_id="inst-d", fault=self.FAULT, run_id=run_id, client=self.client,
                                 fault_params=v["params"])
        self.addCleanup(target.cleanup)
        target.start()
        self.assertIsNone(target.status()["app_pid"])
        env = {**os.environ, **target.control_env(), "PATH": f"{TARGETCTL_BIN}{os.pathsep}{os.environ['PATH']}"}

        def script(name: str) -> dict:
            proc = subprocess.run([sys.executable, str(SKILLS / self.SKILL / name)], env=env,
                                  capture_output=True, text=True, timeout=180)
            return json.loads(proc.stdout)

        def oracle() -> dict:
            done = target.exec(["python3", "/app/faults.py", "oracle", "--root", "/", "--fault", self.FAULT,
                                "--params", json.dumps(v["params"])])
            return json.loads(done.stdout)

        before = oracle()
        self.assertTrue(before["checks"], "the image has no %s class (stale image? another worktree "
                                          "may have rebuilt the shared tag)" % self.FAULT)
        self.assertFalse(before["passed"], before)
        found = script("diagnose.py")
        self.assertTrue(found["fault_present"], found)
        self.assertEqual(found["diagnosis"]["entity"], v["entity"])
        self.assertTrue(script("remediate.py")["ok"])
        restart = subprocess.run(["targetctl", "restart", "--timeout", "30"], env=env, capture_output=True,
                                 text=True, timeout=60)
        self.assertEqual(restart.returncode, 0, restart.stdout + restart.stderr)
        self.assertEqual(http_get(target.url, timeout=5)[0], 200)
        self.assertTrue(oracle()["passed"], oracle())


class HealthyDiagnoseTests(unittest.TestCase):
    """On a healthy target every workload skill's diagnose says fault_present false."""

    SKILL_NAMES = ("scaled-to-zero", "bad-release", "crash-loop", "resource-limit")

    def test_healthy_target(self) -> None:
        with LocalTarget(scenario_id="inst-h", fault=None) as target:
            env = {**os.environ, **target.control_env(),
                   "PATH": f"{TARGETCTL_BIN}{os.pathsep}{os.environ['PATH']}"}
            for skill in self.SKILL_NAMES:
                with self.subTest(skill=skill):
                    proc = subprocess.run([sys.executable, str(SKILLS / skill / "diagnose.py")], env=env,
                                          capture_output=True, text=True, timeout=60)
                    self.assertFalse(json.loads(proc.stdout)["fault_present"], proc.stdout)
                    proc = subprocess.run([sys.executable, str(SKILLS / skill / "remediate.py")], env=env,
                                          capture_output=True, text=True, timeout=60)
                    self.assertEqual(proc.returncode, 1, proc.stdout)  # nothing to fix: no change
            self.assertEqual(http_get(target.url)[0], 200)


__all__ = ["HealthyDiagnoseTests", "TargetError", "WorkloadClassTests", "WorkloadDockerTests",
           "WorkloadLiveTests", "ctl",
           "forbidden", "http_get", "inject_root"]
