"""The executable skill scripts (diagnose.py / remediate.py): JSON output, list-argument commands
only (no shell), importable side by side, and real effects on a real local target."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.runner import TARGETCTL_BIN
from openhands_driver.target import create_target

REPO = Path(__file__).resolve().parent.parent
SKILLS = REPO / ".agents" / "skills"
SCRIPTS = sorted(SKILLS.glob("*/diagnose.py")) + sorted(SKILLS.glob("*/remediate.py"))


def load(path: Path):
    name = f"skill_{path.parent.name.replace('-', '_')}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SideBySideTest(unittest.TestCase):
    def test_every_script_imports_under_its_own_name(self):
        modules = [load(path) for path in SCRIPTS]
        self.assertGreaterEqual(len(modules), 4)
        self.assertEqual(len({m.__name__ for m in modules}), len(modules))
        for module, path in zip(modules, SCRIPTS):  # the entry function is named after the script
            self.assertTrue(callable(getattr(module, path.stem, None)), module.__name__)

    def test_no_script_uses_a_shell(self):
        for path in SCRIPTS:
            text = path.read_text()
            self.assertNotIn("shell=True", text, path)
            self.assertNotIn("os.system", text, path)


class ScriptsOnRealTargetTest(unittest.TestCase):
    def run_script(self, target, path: Path, *args: str) -> tuple[int, dict]:
        env = {**os.environ, **target.control_env(), "PATH": f"{TARGETCTL_BIN}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.run([sys.executable, str(path), *args], env=env, capture_output=True, text=True,
                              timeout=60)
        return proc.returncode, json.loads(proc.stdout)

    def test_stale_lockfile_diagnose_then_remediate(self):
        skill = SKILLS / "stale-lockfile"
        with create_target("local", scenario_id="stale_lockfile", fault="stale_lockfile") as target:
            code, found = self.run_script(target, skill / "diagnose.py")
            self.assertEqual(code, 0)
            self.assertTrue(found["fault_present"])
            self.assertEqual(found["diagnosis"]["entity"], "var/lock/service.lock")
            by_path = {lock["path"]: lock for lock in found["locks"]}
            self.assertTrue(by_path["var/lock/supervisor.lock"]["owner_alive"])  # the supervisor's own
            code, fixed = self.run_script(target, skill / "remediate.py")
            self.assertEqual((code, fixed["removed"]), (0, ["var/lock/service.lock"]))
            self.assertFalse((target.root / "var/lock/service.lock").exists())
            self.assertTrue((target.root / "var/lock/supervisor.lock").exists())
            code, again = self.run_script(target, skill / "diagnose.py")
            self.assertFalse(again["fault_present"])

    def test_readiness_diagnose_then_remediate(self):
        skill = SKILLS / "readiness-probe-fail"
        with create_target("local", scenario_id="readiness_probe_fail", fault="readiness_probe_fail") as target:
            code, found = self.run_script(target, skill / "diagnose.py")
            self.assertTrue(found["fault_present"])
            self.assertEqual(found["diagnosis"]["entity"], "var/lib/checkout/cache/warmup.dat")
            code, fixed = self.run_script(target, skill / "remediate.py")
            self.assertEqual(code, 0)
            self.assertIsNone(fixed["data_problem_after"])
            target.restart()
            self.assertTrue((target.root / "var/run/ready").exists())
            self.assertTrue((target.root / "opt/checkout/share/warmup.dat").exists())

    def test_arguments_are_data_not_shell(self):
        skill = SKILLS / "readiness-probe-fail"
        with tempfile.TemporaryDirectory() as tmp, \
                create_target("local", scenario_id="healthy", fault=None) as target:
            canary = Path(tmp) / "canary"
            code, out = self.run_script(target, skill / "remediate.py", f"var/run/x; touch {canary}")
            self.assertFalse(canary.exists())
            self.assertEqual((code, out["ok"]), (1, False))  # nothing to fix on a healthy target
            code, out = self.run_script(target, skill / "diagnose.py", "../../etc/passwd")
            self.assertEqual(code, 0)
            self.assertFalse(out["fault_present"])

if __name__ == "__main__":
    unittest.main()
