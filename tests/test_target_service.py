"""target_service: fault injection, health reasons, and which fixes heal which fault.

Fast checks use the Flask test client; the restart semantics use a real LocalTarget
(supervisor + app processes on 127.0.0.1).
"""

from __future__ import annotations

import ast
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

from openhands_driver.target.local import LocalTarget
from target_service import app as service_app
from target_service import faults

REPO = Path(__file__).resolve().parent.parent
CORE_FAULTS = ("stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config")


def http_get(url: str, accept: str = "text/html") -> tuple[int | None, str, str]:
    """(status or None when unreachable, content-type, body) without any proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with opener.open(req, timeout=2) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()
    except (urllib.error.URLError, OSError):
        return None, "", ""


class TempRootCase(unittest.TestCase):
    def setUp(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="test-target-root-"))
        self.addCleanup(shutil.rmtree, self.root, True)

    def inject(self, fault: str | None, port: int = 18080) -> None:
        self.assertTrue(faults.inject(self.root, fault, scenario_id=f"sc-{fault}", listen_port=port,
                                      wrong_port=port + 7))

    def get(self, accept: str = "text/html") -> tuple[int, dict]:
        client = service_app.create_app(self.root).test_client()
        resp = client.get("/", headers={"Accept": accept})
        self.assertEqual(resp.mimetype, "application/json")
        self.assertEqual(resp.headers.get("X-Content-Type-Options"), "nosniff")
        return resp.status_code, json.loads(resp.get_data(as_text=True))


class FaultInjectionTests(TempRootCase):
    def test_healthy_layout(self) -> None:
        self.inject(None, port=18081)
        cfg = json.loads((self.root / "etc/service.json").read_text())
        self.assertEqual({k: cfg[k] for k in ("service", "instance", "listen_host", "listen_port")},
                         {"service": "checkout", "instance": "sc-None", "listen_host": "127.0.0.1",
                          "listen_port": 18081})
        self.assertEqual(cfg["warmup"]["data_file"], "var/lib/checkout/cache/warmup.dat")
        env = faults.read_env(self.root)
        self.assertEqual(set(env), set(service_app.REQUIRED_SETTINGS))
        self.assertEqual(faults.read_env(self.root, faults.SERVICE_ENV_EXAMPLE), env)
        self.assertEqual(json.loads((self.root / "etc/upstream.json").read_text())["backend"], "127.0.0.1:18081")
        self.assertIsNone(service_app.warmup_problem(self.root, cfg["warmup"]["data_file"]))
        for rel in ("var/lock", "var/log", "var/lib"):
            self.assertTrue((self.root / rel).is_dir(), rel)
        self.assertFalse((self.root / "var/lock/service.lock").exists())

    def test_registry_has_core_faults_and_rejects_duplicates(self) -> None:
        for name in CORE_FAULTS + ("healthy",):
            self.assertIn(name, faults.FAULTS)
            self.assertIn(name, faults.FAULT_CLASSES)
        with self.assertRaisesRegex(ValueError, "already registered"):
            faults.register_fault("stale_lockfile")(lambda ctx: None)

    def test_unknown_fault_lists_valid_ones(self) -> None:
        with self.assertRaisesRegex(ValueError, "unknown fault 'nope'.*stale_lockfile"):
            faults.inject(self.root, "nope", scenario_id="x", listen_port=1)

    def test_injection_happens_once(self) -> None:
        self.inject("stale_lockfile")
        (self.root / "var/lock/service.lock").unlink()  # the agent fixed it
        data = json.loads((self.root / "etc/service.json").read_text())["warmup"]["data_file"]
        again = faults.inject(self.root, "readiness_probe_fail", scenario_id="x", listen_port=1)
        self.assertFalse(again)
        self.assertFalse((self.root / "var/lock/service.lock").exists())
        self.assertIsNone(service_app.warmup_problem(self.root, data))
        self.assertEqual(json.loads((self.root / "etc/service.json").read_text())["listen_port"], 18080)

    def test_fault_file_effects(self) -> None:
        """The default incident of each class (params {}: what ITBench mapping passes)."""
        for fault in CORE_FAULTS:
            with self.subTest(fault=fault):
                root = self.root / fault
                faults.inject(root, fault, scenario_id=fault, listen_port=18080, wrong_port=18099)
                cfg = json.loads((root / "etc/service.json").read_text())
                env = faults.read_env(root)
                self.assertEqual((root / "var/lock/service.lock").exists(), fault == "stale_lockfile")
                self.assertEqual((root / cfg["warmup"]["data_file"]).exists(), fault != "readiness_probe_fail")
                self.assertEqual(cfg["listen_port"], 18099 if fault == "port_mismatch" else 18080)
                self.assertEqual("DATABASE_URL" in env, fault != "bad_env_config")
                self.assertIn("DATABASE_URL", faults.read_env(root, faults.SERVICE_ENV_EXAMPLE))

    def test_cli_injects_once(self) -> None:
        argv = [sys.executable, str(REPO / "target_service/faults.py"), "--root", str(self.root),
                "--scenario", "s", "--fault", "readiness_probe_fail", "--port", "18080"]
        first = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("provisioned", first.stdout)
        second = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("nothing to do", second.stdout)
        bad_argv = [sys.executable, str(REPO / "target_service/faults.py"), "--root",
                    str(self.root / "other"), "--scenario", "s", "--fault", "nope", "--port", "1"]
        bad = subprocess.run(bad_argv, capture_output=True, text=True, timeout=10)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("valid faults", bad.stderr)

    def test_standalone_files_parse_as_python_39(self) -> None:
        # target_service/*.py also run under Debian's python3; targetctl under any python3 >= 3.9
        files = sorted((REPO / "target_service").glob("*.py")) + [
            REPO / "openhands_driver/targetctl.py", REPO / "openhands_driver/targetctl_docker.py"]
        self.assertGreater(len(files), 5)
        for path in files:
            ast.parse(path.read_text(), str(path), feature_version=(3, 9))


class HealthReasonTests(TempRootCase):
    """The HTTP body is generic; the reason (what the log says) comes from service_app.health."""

    def reason(self) -> str | None:
        return service_app.health(self.root, service_app.load_config(self.root))

    def test_healthy_is_200_json_even_for_html_clients(self) -> None:
        self.inject(None)
        self.assertEqual(self.get("text/html"), (200, {"status": "ok", "instance": "sc-None"}))

    def test_each_fault_reports_its_symptom(self) -> None:
        expected = {
            "stale_lockfile": (503, r"cannot acquire lock var/lock/service\.lock: already held by pid \d+"),
            "readiness_probe_fail": (503, r"readiness check failed: var/run/ready not present \(warm-up at "
                                          r"start failed: data file var/lib/checkout/cache/warmup\.dat not found\)"),
            "bad_env_config": (500, r"required setting DATABASE_URL missing from etc/service\.env "
                                    r"\(see etc/service\.env\.example\)"),
        }
        for fault, (status, pattern) in expected.items():
            with self.subTest(fault=fault):
                self.root = self.root / fault
                self.inject(fault)
                code, body = self.get()
                self.assertEqual(code, status)
                self.assertEqual(body, {"status": "error", "instance": f"sc-{fault}",
                                        "error": service_app.HTTP_REASONS[status]})
                self.assertRegex(self.reason(), pattern)
                self.root = self.root.parent

    def test_per_request_checks_heal_without_restart(self) -> None:
        self.inject("stale_lockfile")
        client = service_app.create_app(self.root).test_client()
        self.assertEqual(client.get("/").status_code, 503)
        (self.root / "var/lock/service.lock").unlink()
        self.assertEqual(client.get("/").status_code, 200)
        (self.root / "var/run/ready").unlink()
        self.assertEqual(client.get("/").status_code, 503)
        (self.root / "var/run/ready").write_text("ready\n")
        self.assertEqual(client.get("/").status_code, 200)

    def test_warmup_runs_at_start(self) -> None:
        self.inject("readiness_probe_fail")
        client = service_app.create_app(self.root).test_client()
        self.assertFalse((self.root / "var/run/ready").exists())
        (self.root / "var/run/ready").write_text("ready\n")  # symptom-only workaround
        self.assertEqual(client.get("/").status_code, 200)
        self.assertEqual(self.get()[0], 503)  # a new app (= restart) clears it and warms up again

    def test_config_is_read_at_start_only(self) -> None:
        self.inject("bad_env_config")
        client = service_app.create_app(self.root).test_client()
        example = faults.read_env(self.root, faults.SERVICE_ENV_EXAMPLE)
        faults.write_env(self.root, {**faults.read_env(self.root), "DATABASE_URL": example["DATABASE_URL"]})
        self.assertEqual(client.get("/").status_code, 500)  # running process keeps its config
        self.assertEqual(self.get()[0], 200)  # a new app (= restart) reads the fix

    def test_check_order_config_then_lock_then_ready(self) -> None:
        self.inject("bad_env_config")
        (self.root / "var/lock/service.lock").write_text("4242\n")
        data = json.loads((self.root / "etc/service.json").read_text())["warmup"]["data_file"]
        (self.root / data).unlink()
        self.assertIn("DATABASE_URL", self.reason())
        example = faults.read_env(self.root, faults.SERVICE_ENV_EXAMPLE)
        faults.write_env(self.root, example)
        self.assertIn("lock", self.reason())
        (self.root / "var/lock/service.lock").unlink()
        self.assertIn("readiness", self.reason())

    def test_other_config_errors(self) -> None:
        self.inject(None)
        example = faults.read_env(self.root, faults.SERVICE_ENV_EXAMPLE)
        faults.write_env(self.root, {**example, "CACHE_TTL_S": "soon"})
        self.assertIn("CACHE_TTL_S=soon", self.reason())
        faults.write_env(self.root, {**example, "PORT": "http"})
        self.assertIn("listen port (PORT in etc/service.env)", self.reason())
        (self.root / "etc/service.json").write_text("{broken")
        code, body = self.get()
        self.assertEqual((code, body["instance"]), (500, "unknown"))
        self.assertIn("etc/service.json is not valid JSON", self.reason())

    def test_port_precedence(self) -> None:
        self.inject(None)
        cfg = service_app.load_config(self.root)
        self.assertEqual((cfg.listen_port, cfg.port_source), (18080, "listen_port in etc/service.json"))
        raw = json.loads((self.root / "etc/service.json").read_text())
        raw["server"] = {"port": 18081}
        (self.root / "etc/service.json").write_text(json.dumps(raw))
        self.assertEqual(service_app.load_config(self.root).listen_port, 18081)
        (self.root / "etc/service.d").mkdir()
        (self.root / "etc/service.d/10-a.json").write_text('{"listen_port": 18082}')
        (self.root / "etc/service.d/20-b.json").write_text('{"listen_port": 18083}')
        self.assertEqual(service_app.load_config(self.root).port_source,
                         "listen_port in etc/service.d/20-b.json")
        faults.write_env(self.root, {**faults.read_env(self.root), "PORT": "18084"})
        self.assertEqual(service_app.load_config(self.root).listen_port, 18084)

    def test_lock_held_by_live_pid(self) -> None:
        self.inject(None)
        (self.root / "var/lock/service.lock").write_text(f"{os.getppid()}\n")
        self.assertIn(f"already held by pid {os.getppid()}", self.reason())

    def test_unknown_path_is_json_404(self) -> None:
        self.inject(None)
        resp = service_app.create_app(self.root).test_client().get("/nope", headers={"Accept": "text/html"})
        self.assertEqual((resp.status_code, resp.mimetype), (404, "application/json"))


class LiveRestartTests(unittest.TestCase):
    """Real supervisor + app: restart alone never heals; the file fix (+ restart) does.

    setUpClass starts one target per fault and restarts each once, in parallel (fast); each test
    then checks the after-restart state and applies the real fix.
    """

    targets: dict[str | None, LocalTarget] = {}
    after_restart: dict[str | None, tuple[int | None, str, str]] = {}

    @classmethod
    def setUpClass(cls) -> None:
        cls.targets = {}
        for fault in (None,) + CORE_FAULTS:
            target = LocalTarget(scenario_id=f"live-{fault}", fault=fault)
            cls.addClassCleanup(target.cleanup)
            cls.targets[fault] = target

        def start_and_restart(target: LocalTarget) -> tuple[int | None, str, str]:
            target.start()
            target.restart()
            return http_get(target.url)

        with ThreadPoolExecutor(len(cls.targets)) as pool:
            results = pool.map(start_and_restart, cls.targets.values())
            cls.after_restart = dict(zip(cls.targets, results))

    def assert_unhealthy(self, target: LocalTarget, probe: tuple[int | None, str, str],
                         status: int | None, reason: str | None = None) -> None:
        code, ctype, body = probe
        if status is None:
            self.assertIsNone(code, f"expected nothing listening, got {code} {body}")
            return
        self.assertEqual((code, ctype), (status, "application/json"), body)
        self.assertEqual(json.loads(body), {"status": "error", "instance": target.scenario_id,
                                            "error": service_app.HTTP_REASONS[status]})
        if reason:
            self.assertIn(reason, target.logs(30))

    def assert_healthy(self, target: LocalTarget) -> None:
        code, ctype, body = http_get(target.url)
        self.assertEqual((code, ctype), (200, "application/json"), body)
        self.assertEqual(json.loads(body), {"status": "ok", "instance": target.scenario_id})

    def test_healthy_target_answers_200_json_to_browsers(self) -> None:
        self.assert_healthy(self.targets[None])

    def test_stale_lockfile(self) -> None:
        target = self.targets["stale_lockfile"]
        self.assert_unhealthy(target, self.after_restart["stale_lockfile"], 503, "already held by pid")
        self.assert_unhealthy(target, http_get(target.url), 503, "var/lock/service.lock")
        (target.root / "var/lock/service.lock").unlink()
        self.assert_healthy(target)

    def test_readiness_probe_fail(self) -> None:
        target = self.targets["readiness_probe_fail"]
        self.assert_unhealthy(target, self.after_restart["readiness_probe_fail"], 503, "warm-up failed")
        shutil.copyfile(target.root / "opt/checkout/share/warmup.dat",
                        target.root / "var/lib/checkout/cache/warmup.dat")
        self.assert_unhealthy(target, http_get(target.url), 503)  # the warm-up runs at start
        target.restart()
        self.assert_healthy(target)

    def test_port_mismatch(self) -> None:
        target = self.targets["port_mismatch"]
        self.assert_unhealthy(target, self.after_restart["port_mismatch"], None)
        self.assertIn(f"listening on 127.0.0.1:{target.wrong_port}", target.logs(20))
        cfg_path = target.root / "etc/service.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["listen_port"] = target.port
        cfg_path.write_text(json.dumps(cfg))
        self.assert_unhealthy(target, http_get(target.url), None)  # config is read at start
        target.restart()
        self.assert_healthy(target)

    def test_bad_env_config(self) -> None:
        target = self.targets["bad_env_config"]
        self.assert_unhealthy(target, self.after_restart["bad_env_config"], 500, "DATABASE_URL")
        example = faults.read_env(target.root, faults.SERVICE_ENV_EXAMPLE)
        with open(target.root / "etc/service.env", "a") as env:
            env.write(f"DATABASE_URL={example['DATABASE_URL']}\n")
        self.assert_unhealthy(target, http_get(target.url), 500)  # read at start only
        target.restart()
        self.assert_healthy(target)


if __name__ == "__main__":
    unittest.main()
