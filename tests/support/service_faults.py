"""Shared checks for the service-family fault classes (tests/test_fault_<name>.py): generator
variety, blind symptoms on a real LocalTarget, the skill's scripts healing it, oracle helpers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

from openhands_driver import targetctl
from openhands_driver.runner import TARGETCTL_BIN
from openhands_driver.target.local import LocalTarget
from target_service import faults

REPO = Path(__file__).resolve().parent.parent.parent
SKILLS = REPO / ".agents" / "skills"
SYMPTOM_STATUS = {"unavailable": 503, "http_5xx": 500, "down": None}


def start(fault: str | None, params: dict | None = None) -> LocalTarget:
    target = LocalTarget(scenario_id="inst-x", fault=fault, fault_params=params or {})
    target.start()
    return target


def ctl(target, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = targetctl.main(list(args), env=target.control_env())
    return code, out.getvalue()


def run_script(target, path: Path) -> tuple[int, dict]:
    env = {**os.environ, **target.control_env(),
           "PATH": f"{TARGETCTL_BIN}{os.pathsep}{REPO / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"{path} printed no JSON: {proc.stdout!r} {proc.stderr!r}")


def digests(root: Path, rels: list[str]) -> dict[str, str | None]:
    import hashlib
    return {rel: (hashlib.sha256((root / rel).read_bytes()).hexdigest() if (root / rel).is_file() else None)
            for rel in rels}


class ServiceFaultCase(unittest.TestCase):
    """Subclass with FAULT, SKILL, RESTART_AFTER_FIX (the skill's remediate block restarts)."""

    FAULT = ""
    SKILL = ""
    RESTART_AFTER_FIX = True
    SEEDS = (0, 1, 2)

    def variant(self, seed: int) -> dict:
        return faults.make_variant(self.FAULT, seed)

    def target(self, seed: int) -> tuple[LocalTarget, dict]:
        variant = self.variant(seed)
        target = start(self.FAULT, variant["params"])
        self.addCleanup(target.cleanup)
        return target, variant

    def oracle(self, target: LocalTarget, variant: dict) -> dict:
        return faults.run_oracle(target.root, self.FAULT, variant["params"])

    def forbidden(self) -> list[str]:
        name = self.FAULT
        return [name, name.replace("_", "-"), name.replace("_", " "), self.SKILL, "fault", "inject",
                "scenario", "decoy"]

    # --- shared tests ------------------------------------------------------------------

    def test_generator_is_deterministic_and_varied(self) -> None:
        self.assertEqual(self.variant(7), self.variant(7))
        entities = {self.variant(seed)["entity"] for seed in range(20)}
        self.assertGreaterEqual(len(entities), 4, entities)
        for seed in range(20):
            variant = self.variant(seed)
            self.assertTrue(set(variant["decoys"]).isdisjoint(variant["may_change"]), variant)

    def test_decoys_exist_after_inject(self) -> None:
        import shutil
        import tempfile
        for seed in range(6):
            variant = self.variant(seed)
            root = Path(tempfile.mkdtemp(prefix="svc-fault-"))
            self.addCleanup(shutil.rmtree, root, True)
            faults.inject(root, self.FAULT, scenario_id="x", listen_port=18080, wrong_port=18087,
                          params=variant["params"])
            for rel in variant["decoys"]:
                self.assertTrue((root / rel).is_file(), (seed, rel))
            self.assertFalse(faults.run_oracle(root, self.FAULT, variant["params"])["passed"], seed)

    def test_blind_symptom(self) -> None:
        target, variant = self.target(3)
        code, status = ctl(target, "status")
        self.assertEqual(code, 1, status)
        expected = SYMPTOM_STATUS[variant["symptom"]]
        if expected is None:
            self.assertIn("Connection refused", status)
        else:
            self.assertIn(f"HTTP {expected}", status)
            body = json.loads(status.split("\n", 1)[1])
            self.assertEqual(set(body), {"status", "instance", "error"})
        _, logs = ctl(target, "logs", "-n", "80")
        _, info = ctl(target, "info")
        self.assert_evidence(logs, variant)
        for text in (status, logs, info):
            for token in self.forbidden():
                self.assertNotIn(token.lower(), text.lower())

    def assert_evidence(self, logs: str, variant: dict) -> None:
        raise NotImplementedError

    def test_skill_scripts_find_and_heal(self) -> None:
        skill = SKILLS / self.SKILL
        for seed in self.SEEDS:
            with self.subTest(seed=seed):
                target, variant = self.target(seed)
                before = digests(target.root, variant["decoys"])
                code, found = run_script(target, skill / "diagnose.py")
                self.assertEqual(code, 0)
                self.assertTrue(found["fault_present"], found)
                self.assertEqual(found["diagnosis"]["fault_class"], self.FAULT)
                self.assertEqual(found["diagnosis"]["entity"], variant["entity"])
                self.assertTrue(found["diagnosis"]["evidence"])
                code, fixed = run_script(target, skill / "remediate.py")
                self.assertEqual(code, 0, fixed)
                if self.RESTART_AFTER_FIX:
                    self.assertEqual(ctl(target, "restart")[0], 0)
                self.assertEqual(ctl(target, "status")[0], 0)
                self.assertTrue(self.oracle(target, variant)["passed"], self.oracle(target, variant))
                self.assertEqual(digests(target.root, variant["decoys"]), before)
                target.restart()  # durable
                self.assertEqual(ctl(target, "status")[0], 0)
                self.assertFalse(run_script(target, skill / "diagnose.py")[1]["fault_present"])

    def test_diagnose_on_healthy_target(self) -> None:
        target = start(None)
        self.addCleanup(target.cleanup)
        code, found = run_script(target, SKILLS / self.SKILL / "diagnose.py")
        self.assertEqual(code, 0)
        self.assertFalse(found["fault_present"])
        self.assertNotIn("diagnosis", found)
        code, out = run_script(target, SKILLS / self.SKILL / "remediate.py")
        self.assertEqual((code, out["ok"]), (1, False))

    def test_docker_backend(self) -> None:
        """One incident on the Docker backend: symptom, skill scripts, oracle inside the container."""
        from openhands_driver.target import docker as dt
        from tests.test_target_docker import new_run_id, require_engine

        client = require_engine()["client"]  # skips when no engine answers
        run_id = new_run_id(self.FAULT.replace("_", "-"))
        self.addCleanup(dt.remove_run_containers, run_id, client)
        variant = self.variant(self.SEEDS[0])
        target = dt.DockerTarget(scenario_id="inst-x", fault=self.FAULT, run_id=run_id, client=client,
                                 fault_params=variant["params"])
        self.addCleanup(target.cleanup)
        target.start()
        self.assertEqual(ctl(target, "status")[0], 1)
        code, found = run_script(target, SKILLS / self.SKILL / "diagnose.py")
        self.assertEqual((found["fault_present"], found["diagnosis"]["entity"]), (True, variant["entity"]))
        code, fixed = run_script(target, SKILLS / self.SKILL / "remediate.py")
        self.assertEqual(code, 0, fixed)
        if self.RESTART_AFTER_FIX:
            self.assertEqual(ctl(target, "restart")[0], 0)
        self.assertEqual(ctl(target, "status")[0], 0)
        done = target.exec(["python3", "/app/faults.py", "oracle", "--root", "/", "--fault", self.FAULT,
                            "--params", json.dumps(variant["params"])])
        self.assertTrue(json.loads(done.stdout)["passed"], done.stdout)
