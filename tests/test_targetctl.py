"""targetctl through its shell shim, against a real local target (as the agent uses it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from openhands_driver import targetctl
from openhands_driver.target.local import LocalTarget, free_ports


class TargetctlShimTests(unittest.TestCase):
    target: LocalTarget
    bin_dir: Path

    @classmethod
    def setUpClass(cls) -> None:
        cls.target = LocalTarget(scenario_id="ctl", fault="stale_lockfile")
        cls.addClassCleanup(cls.target.cleanup)
        cls.bin_dir = Path(tempfile.mkdtemp(prefix="test-targetctl-bin-"))
        cls.addClassCleanup(shutil.rmtree, cls.bin_dir, True)
        cls.target.start()
        cls.shim = targetctl.write_shim(cls.bin_dir)  # env from the caller at run time
        cls.baked = targetctl.write_shim(cls.bin_dir / "baked", cls.target.control_env())

    def run_ctl(self, *args: str, env: dict[str, str] | None = None,
                shim: Path | None = None) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TARGETCTL_")}
        full_env = {**base, **(self.target.control_env() if env is None else env)}
        return subprocess.run([str(shim or self.shim), *args], env=full_env, capture_output=True,
                              text=True, timeout=20)

    def test_info(self) -> None:
        out = self.run_ctl("info")
        self.assertEqual(out.returncode, 0, out.stderr)
        t = self.target
        for line in ("service: checkout", "backend: local", f"probe url: {t.url}",
                     f"expected port: {t.port}", f"service root: {t.root}"):
            self.assertIn(line, out.stdout)
        ops = json.loads((Path(t.root) / "var/run/ops.json").read_text())
        self.assertIn(f"ops api: {ops['url']}/ops/ (bearer token in var/run/ops.token)", out.stdout)

    def test_status_exec_fix_status(self) -> None:
        # one test, because the fix changes the shared target's health
        bad = self.run_ctl("status")
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        self.assertIn("HTTP 503", bad.stdout)
        self.assertNotIn("lock", bad.stdout)  # the body is generic; the cause is in the log
        self.assertIn("cannot acquire lock var/lock/service.lock", self.run_ctl("logs").stdout)
        listing = self.run_ctl("exec", "ls", "var/lock")
        self.assertEqual((listing.returncode, listing.stdout), (0, "service.lock\nsupervisor.lock\n"))
        fix = self.run_ctl("exec", "rm", "-f", "var/lock/service.lock")
        self.assertEqual(fix.returncode, 0, fix.stderr)
        good = self.run_ctl("status", shim=self.baked, env={})
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        self.assertIn("HTTP 200", good.stdout)
        self.assertIn('"status": "ok"', good.stdout)

    def test_exec_passes_through_output_and_exit_code(self) -> None:
        out = self.run_ctl("exec", "sh", "-c", "pwd; echo err >&2; exit 7")
        self.assertEqual(out.returncode, 7)
        self.assertEqual(Path(out.stdout.strip()).resolve(), self.target.root.resolve())
        self.assertEqual(out.stderr, "err\n")
        missing = self.run_ctl("exec", "no-such-command-xyz")
        self.assertEqual(missing.returncode, 127)
        self.assertIn("command not found: no-such-command-xyz", missing.stderr)
        self.assertEqual(self.run_ctl("exec").returncode, 2)

    def test_logs(self) -> None:
        out = self.run_ctl("logs", "-n", "200")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"listening on 127.0.0.1:{self.target.port}", out.stdout)
        self.assertEqual(len(self.run_ctl("logs", "-n", "3").stdout.splitlines()), 3)

    def test_restart(self) -> None:
        before = self.target.status()["app_pid"]
        out = self.run_ctl("restart")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        after = self.target.status()["app_pid"]
        self.assertNotEqual(before, after)
        self.assertIn(f"restarted: app pid {after} (was {before})", out.stdout)


class TargetctlWithoutTargetTests(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="test-targetctl-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.shim = targetctl.write_shim(self.tmp / "bin")
        port = free_ports(1)[0]
        self.env = {"TARGETCTL_BACKEND": "local", "TARGETCTL_URL": f"http://127.0.0.1:{port}/",
                    "TARGETCTL_ROOT": str(self.tmp), "TARGETCTL_EXPECTED_PORT": str(port)}

    def run_ctl(self, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TARGETCTL_")}
        return subprocess.run([str(self.shim), *args], env={**base, **env}, capture_output=True,
                              text=True, timeout=20)

    def test_missing_env_names_the_variable(self) -> None:
        env = dict(self.env)
        del env["TARGETCTL_URL"]
        out = self.run_ctl("status", env=env)
        self.assertEqual(out.returncode, 2)
        self.assertIn("TARGETCTL_URL is not set", out.stderr)
        self.assertNotIn("Traceback", out.stderr)

    def test_unreachable_service(self) -> None:
        out = self.run_ctl("status", env=self.env)
        self.assertEqual(out.returncode, 1)
        self.assertIn("connection failed:", out.stdout)
        self.assertIn(f"(url {self.env['TARGETCTL_URL']})", out.stdout)

    def test_restart_without_supervisor(self) -> None:
        out = self.run_ctl("restart", env=self.env)
        self.assertEqual(out.returncode, 1)
        self.assertIn("supervisor is not running", out.stderr)

    def test_docker_backend_needs_its_container(self) -> None:
        out = self.run_ctl("logs", env={**self.env, "TARGETCTL_BACKEND": "docker"})
        self.assertEqual(out.returncode, 2)
        self.assertIn("TARGETCTL_CONTAINER is not set", out.stderr)

    def test_write_shim_rejects_incomplete_env(self) -> None:
        with self.assertRaisesRegex(ValueError, "missing TARGETCTL_URL"):
            targetctl.write_shim(self.tmp / "x", {"TARGETCTL_BACKEND": "local"})


if __name__ == "__main__":
    unittest.main()
