"""Shared checks for one fault class (generator, symptom, oracle, skill scripts, Docker).

A test module mixes `FaultClassChecks` into a `unittest.TestCase` and supplies the class id, the
skill, and what a real fix, a symptom-only workaround and a careless decoy-damaging fix do to a
service root. Used by tests/test_fault_{feature_flag,chaos_schedule,bad_credential,dns_misconfig}.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from openhands_driver import targetctl
from openhands_driver.runner import TARGETCTL_BIN
from openhands_driver.target.local import LocalTarget
from target_service import faults

REPO = Path(__file__).resolve().parents[2]
SKILLS = REPO / ".agents" / "skills"
# Words nothing the agent reads may contain (besides the class id forms and the skill name).
HARNESS_WORDS = ("fault", "inject", "scenario", "decoy")
_IMAGE: dict[str, str] = {}  # the Docker image built from this checkout (once per process)


def http_get(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    """(status or None when unreachable / timed out, body) without any proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url), timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError):
        return None, ""


def ctl(target: Any, *args: str) -> tuple[int, str]:
    """targetctl ARGS against `target`, in-process: (exit code, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = targetctl.main(list(args), env=target.control_env())
    return code, out.getvalue()


def script_env(target: Any) -> dict[str, str]:
    return {**os.environ, **target.control_env(),
            "PATH": f"{TARGETCTL_BIN}{os.pathsep}{REPO / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def run_script(target: Any, path: Path) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, str(path)], env=script_env(target), capture_output=True,
                          text=True, timeout=120)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"{path} printed no JSON (exit {proc.returncode}): "
                             f"{proc.stdout[-800:]} {proc.stderr[-800:]}") from None


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {rel for rel in set(before) | set(after) if before.get(rel) != after.get(rel)}


def allowed(rel: str, may_change: list[str]) -> bool:
    return any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in may_change)


class FaultClassChecks:
    """Mix into unittest.TestCase; set FAULT, SKILL, NEEDS_RESTART and the three edits."""

    FAULT = ""
    SKILL = ""
    NEEDS_RESTART = False   # the service reads the fixed file only at start
    SKILL_SEEDS = (0, 1, 2)  # plus the first seed of each symptom the class produces

    # --- what subclasses provide (edits of a service root) ---------------------------------
    def fix(self, root: Path, variant: dict) -> None:
        raise NotImplementedError

    def workaround(self, root: Path, variant: dict) -> None:
        """Makes the probe pass without removing the cause."""
        raise NotImplementedError

    def damage_decoy(self, root: Path, variant: dict) -> None:
        """What a careless fix does to a decoy (after the real fix)."""
        raise NotImplementedError

    # --- helpers ---------------------------------------------------------------------------
    def variant(self, seed: int) -> dict:
        return faults.make_variant(self.FAULT, seed)

    def root_for(self, variant: dict, name: str = "root") -> Path:
        tmp = Path(tempfile.mkdtemp(prefix="test-fc-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        root = tmp / name
        self.assertTrue(faults.inject(root, self.FAULT, scenario_id="inst-x", listen_port=18080,
                                      params=variant["params"]))
        return root

    def oracle(self, root: Path, variant: dict) -> dict:
        return faults.run_oracle(root, self.FAULT, variant["params"])

    def forbidden(self) -> tuple[str, ...]:
        return (self.FAULT, self.FAULT.replace("_", "-"), self.FAULT.replace("_", " "), self.SKILL)

    def assert_blind(self, text: str, what: str) -> None:
        lowered = text.lower()
        for token in self.forbidden():
            self.assertNotIn(token.lower(), lowered, f"{what} names {token!r}:\n{text[-1500:]}")
        for word in HARNESS_WORDS:  # as a word start: "default" is fine, "fault" is not
            self.assertIsNone(re.search(r"(?<![a-z])" + word, lowered),
                              f"{what} says {word!r}:\n{text[-1500:]}")

    def target(self, variant: dict) -> LocalTarget:
        target = LocalTarget(scenario_id="inst-x", fault=self.FAULT, fault_params=variant["params"])
        self.addCleanup(target.cleanup)
        target.start()
        return target

    # --- generator ---------------------------------------------------------------------------
    def test_generator_is_seeded_and_varied(self) -> None:
        self.assertEqual(self.variant(7), self.variant(7))
        variants = [self.variant(seed) for seed in range(20)]
        self.assertGreaterEqual(len({v["entity"] for v in variants}), 4)
        for v in variants:
            self.assertIn(v["symptom"], faults.SYMPTOMS)
            self.assertTrue(v["decoys"] and v["may_change"], v)
            self.assertFalse(set(v["decoys"]) & set(v["may_change"]), v)
            self.assert_blind(v["alert"], "the alert")

    def test_every_seed_injects_its_decoys_and_the_oracle_sees_the_cause(self) -> None:
        for seed in range(20):
            v = self.variant(seed)
            with self.subTest(seed=seed):
                root = self.root_for(v)
                for rel in v["decoys"]:
                    self.assertTrue((root / rel).is_file(), rel)
                self.assertFalse(self.oracle(root, v)["passed"])
                names = "\n".join(p.relative_to(root).as_posix() for p in root.rglob("*"))
                self.assert_blind(names, "the file names")

    def test_empty_params_still_inject(self) -> None:
        v = {"params": {}}
        root = self.root_for(v)
        cls = faults.fault_class(self.FAULT)
        for rel in cls.decoys({}):
            self.assertTrue((root / rel).is_file(), rel)
        self.assertFalse(self.oracle(root, v)["passed"])
        self.fix(root, {"params": {}, "entity": cls.entity({}), "decoys": cls.decoys({}),
                        "may_change": cls.may_change({})})
        self.assertTrue(self.oracle(root, v)["passed"], self.oracle(root, v))

    # --- oracle (files only) --------------------------------------------------------------------
    def test_oracle_passes_the_fix_only(self) -> None:
        for seed in range(5):
            v = self.variant(seed)
            with self.subTest(seed=seed):
                root = self.root_for(v)
                before = faults.snapshot(root)
                workaround = self.root_for(v, "workaround")
                self.workaround(workaround, v)
                self.assertFalse(self.oracle(workaround, v)["passed"], "a workaround passed")
                self.fix(root, v)
                result = self.oracle(root, v)
                self.assertTrue(result["passed"], result)
                diff = changed(before, faults.snapshot(root))
                self.assertTrue(diff and all(allowed(rel, v["may_change"]) for rel in diff), diff)
                self.damage_decoy(root, v)
                self.assertFalse(self.oracle(root, v)["passed"], "damaging a decoy passed")

    # --- symptom on a real service ------------------------------------------------------------
    def symptom_seeds(self) -> list[int]:
        """The first seed of each symptom the class produces."""
        seen: dict[str, int] = {}
        for seed in range(20):
            seen.setdefault(self.variant(seed)["symptom"], seed)
        return sorted(seen.values())

    def test_symptom_is_generic_and_restart_does_not_help(self) -> None:
        for seed in self.symptom_seeds():
            v = self.variant(seed)
            with self.subTest(seed=seed, symptom=v["symptom"]):
                target = self.target(v)
                code, body = http_get(target.url)
                if v["symptom"] == "latency":
                    self.assertIsNone(code, body)  # a 2 s probe times out
                else:
                    self.assertEqual(code, 500, body)
                    self.assertEqual(json.loads(body), {"status": "error", "instance": "inst-x",
                                                        "error": "Internal Server Error"})
                outputs = [ctl(target, "status")[1], ctl(target, "logs", "-n", "60")[1],
                           ctl(target, "info")[1], body]
                self.assertIn(v["entity"], outputs[1])  # the log names the evidence
                for text, what in zip(outputs, ("status", "logs", "info", "body")):
                    self.assert_blind(text, what)
                target.restart()
                self.assertNotEqual(http_get(target.url)[0], 200)
                self.assertFalse(self.oracle(target.root, v)["passed"])
                self.workaround(target.root, v)  # the probe passes, the cause is still there
                target.restart()
                self.assertEqual(http_get(target.url)[0], 200)
                self.assertFalse(self.oracle(target.root, v)["passed"])

    # --- the skill's Signals (what the runbook brain scores) --------------------------------------
    def signals(self) -> list[str]:
        from openhands_driver.skills import load_skills

        description = load_skills()[self.SKILL].description
        self.assertIn(" Signals: ", description)
        return [s.strip().lower() for s in description.split(" Signals: ", 1)[1].split(";") if s.strip()]

    def evidence(self, fault: str | None, params: dict) -> str:
        """`targetctl status` + `targetctl logs -n 60` of a fresh service, lower-cased."""
        target = LocalTarget(scenario_id="inst-s", fault=fault, fault_params=params)
        try:
            target.start()
            env = script_env(target)
            return "".join(subprocess.run(["targetctl", *args], env=env, capture_output=True,
                                          text=True, timeout=30).stdout
                           for args in (["status"], ["logs", "-n", "60"])).lower()
        finally:
            target.cleanup()

    def test_signals_appear_in_every_variant_and_not_when_healthy(self) -> None:
        signals = self.signals()
        self.assertTrue(signals)
        jobs = [(self.FAULT, self.variant(seed)["params"]) for seed in range(20)] + [(None, {})]
        with ThreadPoolExecutor(8) as pool:
            texts = list(pool.map(lambda job: self.evidence(*job), jobs))
        for (fault, params), text in zip(jobs, texts):
            for signal in signals:
                self.assertEqual(signal in text, fault is not None, (signal, params, text[-1200:]))

    # --- the skill's scripts on a real service ---------------------------------------------------
    def test_skill_diagnoses_and_remediates(self) -> None:
        skill = SKILLS / self.SKILL
        for seed in sorted(set(self.SKILL_SEEDS) | set(self.symptom_seeds())):
            v = self.variant(seed)
            with self.subTest(seed=seed):
                target = self.target(v)
                before = faults.snapshot(target.root)
                code, found = run_script(target, skill / "diagnose.py")
                self.assertEqual(code, 0)
                self.assertTrue(found["fault_present"], found)
                self.assertEqual(found["diagnosis"]["fault_class"], self.FAULT)
                self.assertEqual(found["diagnosis"]["entity"], v["entity"])
                self.assertTrue(found["diagnosis"]["evidence"])
                code, fixed = run_script(target, skill / "remediate.py")
                self.assertEqual((code, fixed["ok"]), (0, True), fixed)
                if self.NEEDS_RESTART:
                    self.assertNotEqual(http_get(target.url)[0], 200)  # read at start
                    target.restart()
                self.assertEqual(http_get(target.url)[0], 200)
                result = self.oracle(target.root, v)
                self.assertTrue(result["passed"], result)
                after = faults.snapshot(target.root)
                for rel in v["decoys"]:
                    self.assertEqual(before.get(rel), after.get(rel), rel)
                diff = changed(before, after)
                self.assertTrue(all(allowed(rel, v["may_change"]) for rel in diff), diff)
                target.restart()  # durable
                self.assertEqual(http_get(target.url)[0], 200)
                code, again = run_script(target, skill / "diagnose.py")
                self.assertFalse(again["fault_present"], again)

    def test_skill_on_a_healthy_service_finds_nothing(self) -> None:
        target = LocalTarget(scenario_id="inst-h", fault=None)
        self.addCleanup(target.cleanup)
        target.start()
        code, found = run_script(target, SKILLS / self.SKILL / "diagnose.py")
        self.assertEqual(code, 0)
        self.assertFalse(found["fault_present"], found)
        self.assertNotIn("diagnosis", found)

    # --- Docker --------------------------------------------------------------------------------
    def test_docker_backend(self) -> None:
        from openhands_driver.target import docker as dt
        from tests.test_target_docker import new_run_id, require_engine

        client = require_engine()["client"]  # skips with the reason when no engine answers
        if "tag" not in _IMAGE:  # this checkout's image under its own tag: the engine is shared
            digest = hashlib.sha256(b"".join(p.read_bytes() for p in
                                             sorted((REPO / "target_service").glob("*.py"))))
            _IMAGE["tag"] = "openhands-gepa-sre-target:src-%s" % digest.hexdigest()[:12]
            dt.build_image(client, _IMAGE["tag"])
        v = self.variant(1)
        run_id = new_run_id(self.SKILL)
        self.addCleanup(dt.remove_run_containers, run_id, client)
        target = dt.DockerTarget(scenario_id="inst-d", fault=self.FAULT, run_id=run_id,
                                 client=client, fault_params=v["params"], image=_IMAGE["tag"])
        self.addCleanup(target.cleanup)
        target.start()
        code, found = run_script(target, SKILLS / self.SKILL / "diagnose.py")
        self.assertTrue(found["fault_present"], found)
        self.assertEqual(found["diagnosis"]["entity"], v["entity"], found)
        code, fixed = run_script(target, SKILLS / self.SKILL / "remediate.py")
        self.assertTrue(fixed["ok"], fixed)
        if self.NEEDS_RESTART:
            target.restart()
        self.assertEqual(ctl(target, "status")[0], 0)
        oracle = target.exec(["python3", "/app/faults.py", "oracle", "--root", "/", "--fault",
                              self.FAULT, "--params", json.dumps(v["params"])])
        self.assertTrue(json.loads(oracle.stdout)["passed"], oracle.stdout)
