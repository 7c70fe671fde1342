"""The /ops/* platform API (target_service/ops_api.py + ops_platform.py).

Most tests serve it on a provisioned service root in this process (restart/drain recorded, the app
not running), through real HTTP on 127.0.0.1; one runs a real supervisor (local target) and checks
the API answers while the app is down and that POST /ops/restart restarts it.
"""

from __future__ import annotations

import json
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

from openhands_driver.incident import make_incident
from openhands_driver.scenarios import Scenario
from target_service import faults, ops_api, ops_platform

CLASSES = ("feature_flag", "chaos_schedule", "bad_release", "scaled_to_zero")
GETS = ("/ops/status", "/ops/health", "/ops/metrics", "/ops/config", "/ops/dependencies",
        "/ops/errors", "/ops/logs?n=50", "/ops/flags", "/ops/flags?affecting=true", "/ops/experiments",
        "/ops/experiments?affecting=true", "/ops/releases", "/ops/deployment")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _forms(name: str) -> list[str]:
    words = name.split("_")
    return ["_".join(words), "-".join(words), " ".join(words), "".join(words)]


def incident(fault: str, seed: int):
    scenario = Scenario(scenario_id=fault, local_fault=fault, error_report="(blind)", title=fault)
    return make_incident(scenario, run_id="ops-test", blind=True, seed=seed)


class Served:
    """A provisioned root with its /ops/* API served in this process."""

    def __init__(self, fault: str, seed: int, token: str = "tok-123") -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        found = incident(fault, seed)
        faults.inject(self.root, found.fault, scenario_id=found.instance, listen_port=1,
                      params=found.params)
        self.events: list[str] = []
        platform = ops_api.Platform(self.root, self.events.append, lambda: self.events.append("RESTART"),
                                    lambda: self.events.append("DRAIN"))
        platform.probe = lambda: {"ok": False, "http_status": None, "latency_ms": 1.0, "error": "refused"}
        self.server, _thread = ops_api.serve(platform, token)
        self.url = json.loads((self.root / "var/run/ops.json").read_text())["url"]
        self.token = token
        self.params = found.params

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = "default",
             headers: dict | None = None) -> tuple[int, dict, dict]:
        token = self.token if token == "default" else token
        request = urllib.request.Request(self.url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={**({"Authorization": f"Bearer {token}"} if token else {}),
                                                  **(headers or {})})
        try:
            with _OPENER.open(request, timeout=10) as resp:
                return resp.status, json.loads(resp.read()), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read()), dict(exc.headers)

    def log(self, *lines: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        path = self.root / "var/log/service.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(f"{stamp},000 app[1] {line}\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.tmp.cleanup()


class OpsApiTests(unittest.TestCase):
    def served(self, fault: str, seed: int = 7) -> Served:
        served = Served(fault, seed)
        self.addCleanup(served.close)
        return served

    def test_every_route_refuses_without_the_token(self) -> None:
        s = self.served("feature_flag")
        for path in GETS:
            for token in (None, "wrong"):
                with self.subTest(path=path, token=token):
                    self.assertEqual(s.call("GET", path, token=token)[0], 401)
        self.assertEqual(s.call("POST", "/ops/restart", {}, token=None)[0], 401)
        self.assertEqual(s.events, [])  # nothing happened
        token_file = s.root / "var/run/ops.token"
        self.assertEqual(token_file.stat().st_mode & 0o777, 0o600)

    def test_gets_answer_and_trace_id_comes_back(self) -> None:
        s = self.served("feature_flag")
        for path in GETS[:7]:
            with self.subTest(path=path):
                status, body, headers = s.call("GET", path, headers={"X-Trace-Id": "trace-abc"})
                self.assertEqual(status, 200, body)
                self.assertEqual(headers.get("X-Trace-Id"), "trace-abc")
        status = s.call("GET", "/ops/status")[1]
        self.assertEqual(status["state"], "unhealthy")
        self.assertIs(status["healthy"], False)
        for key in ("request_rate_per_s", "error_rate", "latency_ms", "saturation"):
            self.assertIn(key, status["golden_signals"])
        self.assertEqual(s.call("GET", "/ops/nope")[0], 404)

    def test_golden_signals_count_the_access_log(self) -> None:
        s = self.served("feature_flag")
        s.log('INFO 127.0.0.1 - - [x] "GET / HTTP/1.1" 200 -', 'INFO 127.0.0.1 - - [x] "GET / HTTP/1.1" 500 -',
              'INFO 127.0.0.1 - - [x] "GET / HTTP/1.1" 500 -', 'INFO 127.0.0.1 - - [x] "GET /healthz HTTP/1.1" 200 -')
        signals = s.call("GET", "/ops/status")[1]["golden_signals"]
        self.assertEqual(signals["requests_in_window"], 3)
        self.assertAlmostEqual(signals["error_rate"], 0.6667, places=3)
        self.assertEqual(s.call("GET", "/ops/metrics")[1]["requests_by_status"], {"200": 1, "500": 2})

    def test_config_masks_secrets(self) -> None:
        s = self.served("feature_flag")
        env = s.root / "etc/service.env"
        env.write_text(env.read_text() + "DB_PASSWORD=hunter2-secret\nAPI_KEY=abc-key-123\nSESSION_TOKEN=t0k\n")
        status, body, _ = s.call("GET", "/ops/config")
        text = json.dumps(body)
        self.assertEqual(status, 200)
        for secret in ("hunter2-secret", "abc-key-123", "t0k"):
            self.assertNotIn(secret, text)
        self.assertEqual(body["service_env"]["DB_PASSWORD"], "***")
        self.assertNotIn(s.token, text)

    def test_flags_list_affecting_and_set(self) -> None:
        s = self.served("feature_flag")
        flag = s.call("GET", "/ops/flags")[1]["flags"]
        on = [f for f in flag if f["evaluates_on"]]
        self.assertGreaterEqual(len(on), 2)  # the culprit and the product experiment
        self.assertEqual(s.call("GET", "/ops/flags?affecting=true")[1]["flags"], [])  # no traffic yet
        culprit = next(f for f in on if "experiment" not in f["source"] and "ui" not in f["source"])
        s.log(f"INFO request affected by flag '{culprit['name']}' evaluated to variant '{culprit['variant']}' "
              f"(flag source {culprit['source']})")
        affecting = s.call("GET", "/ops/flags?affecting=true")[1]["flags"]
        self.assertEqual([f["name"] for f in affecting], [culprit["name"]])
        self.assertEqual(s.call("POST", "/ops/flags", {"flag": culprit["name"], "defaultVariant": "nope"})[0], 400)
        self.assertEqual(s.call("POST", "/ops/flags", {"flag": "noSuchFlag", "state": "DISABLED"})[0], 404)
        status, done, _ = s.call("POST", "/ops/flags", {"flag": culprit["name"], "defaultVariant": "off"})
        self.assertEqual(status, 200, done)
        self.assertFalse(done["evaluates_on"])
        self.assertTrue(faults.run_oracle(s.root, "feature_flag", s.params)["passed"])

    def test_experiments_pause_delete_and_other_services_refused(self) -> None:
        s = self.served("chaos_schedule")
        listed = s.call("GET", "/ops/experiments")[1]["experiments"]
        other = next(e for e in listed if not e["selects_this_service"])
        self.assertEqual(s.call("POST", "/ops/experiments/delete", {"name": other["name"]})[0], 403)
        active = next(e for e in listed if e["selects_this_service"] and not e["paused"])
        self.assertEqual(s.call("POST", "/ops/experiments/pause", {"name": active["name"]})[0], 200)
        self.assertTrue(next(e for e in s.call("GET", "/ops/experiments")[1]["experiments"]
                             if e["name"] == active["name"])["paused"])
        self.assertEqual(s.call("POST", "/ops/experiments/delete", {"name": active["name"]})[0], 200)
        self.assertFalse((s.root / active["file"]).exists())
        self.assertEqual(s.call("POST", "/ops/experiments/explode", {"name": "x"})[0], 404)
        self.assertTrue(faults.run_oracle(s.root, "chaos_schedule", s.params)["passed"])

    def test_releases_and_rollback(self) -> None:
        s = self.served("bad_release", 3)
        info = s.call("GET", "/ops/releases")[1]
        self.assertFalse(info["current_runnable"])
        broken = next(h for h in info["history"] if h["current"])
        self.assertEqual(s.call("POST", "/ops/rollback", {"revision": broken["revision"]})[0], 409)
        self.assertEqual(s.call("POST", "/ops/rollback", {"release": "never-rolled-out"})[0], 404)
        status, done, _ = s.call("POST", "/ops/rollback", {"revision": info["rollback_candidate"]["revision"]})
        self.assertEqual(status, 200, done)
        self.assertIn("RESTART", s.events)
        self.assertTrue(faults.run_oracle(s.root, "bad_release", s.params)["passed"])

    def test_scale_within_platform_limits_and_autoscaler_restored(self) -> None:
        for seed in range(1, 30):  # find one incident of each mode
            mode = incident("scaled_to_zero", seed).params.get("mode")
            if mode == "autoscaler":
                break
        s = self.served("scaled_to_zero", seed)
        view = s.call("GET", "/ops/deployment")[1]["deployment"]
        self.assertEqual(view["desired_replicas"], 0)
        self.assertTrue(view["desired_replicas_set_by"]["field"].endswith("maxReplicas"))
        for bad in (-1, 11, "2", True):
            with self.subTest(replicas=bad):
                self.assertEqual(s.call("POST", "/ops/scale", {"replicas": bad})[0], 400)
        self.assertNotIn("RESTART", s.events)
        status, done, _ = s.call("POST", "/ops/scale", {"replicas": view["last_applied_replicas"]})
        self.assertEqual(status, 200, done)
        self.assertIsNotNone(done["autoscaler_restored"])
        self.assertTrue(faults.run_oracle(s.root, "scaled_to_zero", s.params)["passed"])

    def test_restart_drain_loglevel(self) -> None:
        s = self.served("feature_flag")
        self.assertEqual(s.call("POST", "/ops/restart", {})[0], 200)
        self.assertEqual(s.call("POST", "/ops/drain", {})[0], 200)
        self.assertEqual(s.call("POST", "/ops/loglevel", {"level": "LOUD"})[0], 400)
        self.assertEqual(s.call("POST", "/ops/loglevel", {"level": "debug"})[0], 200)
        self.assertEqual((s.root / ops_api.LOG_LEVEL_FILE).read_text().strip(), "DEBUG")
        self.assertEqual([e for e in s.events if e in ("RESTART", "DRAIN")], ["RESTART", "DRAIN"])
        self.assertTrue(any("POST /ops/loglevel" in e for e in s.events))
        self.assertFalse(any(s.token in e for e in s.events))  # changes are logged, the token never

    def test_no_response_names_a_fault_class(self) -> None:
        forbidden = [form for name in faults.FAULT_CLASSES if name != faults.HEALTHY for form in _forms(name)]
        for fault in CLASSES:
            for seed in (5, 11, 23):
                s = Served(fault, seed)
                try:
                    for path in GETS:
                        text = json.dumps(s.call("GET", path)[1]).lower()
                        for word in forbidden:
                            with self.subTest(fault=fault, seed=seed, path=path, word=word):
                                self.assertNotIn(word.lower(), text)
                finally:
                    s.close()

    def test_token_comes_from_the_environment_once(self) -> None:
        import os

        os.environ[ops_api.TOKEN_ENV] = "from-env"
        try:
            self.assertEqual(ops_api.take_token(), "from-env")
            self.assertNotIn(ops_api.TOKEN_ENV, os.environ)
        finally:
            os.environ.pop(ops_api.TOKEN_ENV, None)
        generated = ops_api.take_token()
        self.assertGreaterEqual(len(generated), 24)
        self.assertNotEqual(generated, ops_api.take_token())

    def test_dependencies_check_only_literal_addresses(self) -> None:
        s = self.served("feature_flag")
        env = s.root / "etc/service.env"
        env.write_text(env.read_text() + "LOCAL_ADDR=127.0.0.1:1\n")
        deps = {d["name"]: d for d in s.call("GET", "/ops/dependencies")[1]["dependencies"]}
        self.assertIs(deps["LOCAL_ADDR"]["reachable"], False)
        named = [d for d in deps.values() if d.get("detail", "").startswith("not checked")]
        self.assertTrue(all(d["reachable"] is None for d in named))


class SupervisorServesOpsTests(unittest.TestCase):
    def test_answers_while_the_app_is_down_and_restarts_it(self) -> None:
        from openhands_driver.target import create_target

        found = incident("bad_release", 3)
        target = create_target("local", scenario_id=found.instance, fault=found.fault, fault_params=found.params)
        target.start()
        self.addCleanup(target.cleanup)
        ops = json.loads((Path(target.root) / "var/run/ops.json").read_text())
        token = (Path(target.root) / "var/run/ops.token").read_text().strip()
        self.assertNotIn(token, target.logs(200))

        def call(method, path, body=None):
            request = urllib.request.Request(ops["url"] + path, method=method,
                                             data=json.dumps(body).encode() if body is not None else None,
                                             headers={"Authorization": f"Bearer {token}"})
            try:
                with _OPENER.open(request, timeout=20) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, body = call("GET", "/ops/status")
        self.assertEqual(status, 200)
        self.assertEqual(body["state"], "unhealthy")
        self.assertNotEqual(body["supervisor"]["state"], "started")
        candidate = call("GET", "/ops/releases")[1]["rollback_candidate"]
        self.assertEqual(call("POST", "/ops/rollback", {"revision": candidate["revision"]})[0], 200)
        health = call("GET", "/ops/health?wait_s=15")[1]
        self.assertTrue(health["healthy"], health)
        restarts = call("GET", "/ops/status")[1]["supervisor"]["restarts"]
        self.assertGreaterEqual(restarts, 1)
        self.assertEqual(call("POST", "/ops/drain", {})[0], 200)
        deadline = time.monotonic() + 10
        while call("GET", "/ops/status")[1]["supervisor"]["state"] != "drained" and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(call("GET", "/ops/status")[1]["supervisor"]["state"], "drained")
        self.assertEqual(call("POST", "/ops/restart", {})[0], 200)
        self.assertTrue(call("GET", "/ops/health?wait_s=15")[1]["healthy"])


if __name__ == "__main__":
    unittest.main()


class OpsPortTests(unittest.TestCase):
    """The ops API takes a free port that is none of the service's own: the app's port is picked before
    the app binds it, so the kernel may offer it to the ops API first."""

    def test_the_service_ports_are_never_taken(self) -> None:
        from target_service import ops_api

        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "etc").mkdir()
            (root / "etc/upstream.json").write_text(json.dumps({"backend": "127.0.0.1:41111"}))
            ports = ops_api._service_ports(root, {"listen_port": 42222, "ops_port": 1, "name": "x"})
            self.assertEqual(ports, {41111, 42222})
        first = ops_api._bind("127.0.0.1", 0, set())
        taken = first.server_address[1]
        first.server_close()
        # avoid the port the kernel just handed out (it tends to give it again): another one comes back
        for _ in range(5):
            server = ops_api._bind("127.0.0.1", 0, {taken})
            try:
                self.assertNotEqual(server.server_address[1], taken)
            finally:
                server.server_close()
