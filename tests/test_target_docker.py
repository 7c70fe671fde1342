"""Docker backend: image, DockerTarget, targetctl over the Engine API, incidents end to end.

Classes that need a Docker engine skip (with the reason) only when none can be reached. The image
is built once per process from the current target_service/ sources (layer cache: ~0.1-2 s), with
BASE_IMAGE = $TARGET_BASE_IMAGE, else the local sre-target-base:bookworm, else the Dockerfile's.
Measured on the dev machine (overlay2, host networking, 2 CPUs): about 45 s for the whole module
when the machine is idle, 80-100 s while other suites run; most of it is the in-process SDK
conversations and one subprocess run. Start times are recorded (describe()["startup_s"]), not
asserted.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

from openhands_driver import targetctl, verifier
from openhands_driver.target import TargetError, create_target
from openhands_driver.target import docker as dt

REPO = Path(__file__).resolve().parent.parent
SKIP_REASON = 'needs a Docker engine: run eval "$(scripts/docker_engine.sh up)"'
E2E_SCENARIOS = ["stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config", "healthy"]
STDLIB_PYTHON = shutil.which("python3") or sys.executable  # targetctl must not need the docker SDK

_ENGINE: dict = {}


def require_engine() -> dict:
    """Skip unless an engine answers; build the image once per process. Returns client + image."""
    if not _ENGINE:
        problem = dt.engine_problem()
        if problem:
            _ENGINE["skip"] = f"{SKIP_REASON} ({problem})"
        else:
            client = dt.connect()
            _ENGINE.update(client=client, image=dt.build_image(client, force=True))
    if "skip" in _ENGINE:
        raise unittest.SkipTest(_ENGINE["skip"])
    return _ENGINE


def new_run_id(label: str) -> str:
    return f"test-{label}-{uuid.uuid4().hex[:8]}"


def base_image_of(client) -> str:
    return dt.default_base_image(client) or dt.DOCKERFILE_BASE_IMAGE


class _Quiet(io.StringIO):
    pass


# --- no engine needed ----------------------------------------------------------------------

class DockerUnitTest(unittest.TestCase):
    def test_run_options_host_network_listens_on_the_host_port(self):
        kwargs, env, inner = dt.run_options("host", 41234)
        self.assertEqual(kwargs, {"network_mode": "host"})
        self.assertEqual(env, {"LISTEN_HOST": "127.0.0.1"})
        self.assertEqual(inner, 41234)

    def test_run_options_bridge_publishes_8080_on_loopback(self):
        kwargs, env, inner = dt.run_options("bridge", 41234)
        self.assertEqual(kwargs, {"ports": {"8080/tcp": ("127.0.0.1", 41234)}})
        self.assertEqual(env, {"LISTEN_HOST": "0.0.0.0"})
        self.assertEqual(inner, 8080)

    def test_control_env_names_the_container_and_root(self):
        target = dt.DockerTarget(scenario_id="stale_lockfile", fault="stale_lockfile", run_id="r1")
        env = target.control_env()
        self.assertEqual(env["TARGETCTL_BACKEND"], "docker")
        self.assertEqual(env["TARGETCTL_ROOT"], "/")
        self.assertEqual(env["TARGETCTL_CONTAINER"], target.container_name)
        self.assertTrue(target.container_name.startswith("sre-target-r1-"))
        self.assertIn("DOCKER_HOST", env)
        self.assertEqual(target.labels()[dt.LABEL_RUN_ID], "r1")
        target.cleanup()  # never created: nothing to do, no engine contacted

    def test_constructor_rejects_bad_input(self):
        with self.assertRaisesRegex(ValueError, "service root is '/'"):
            dt.DockerTarget(scenario_id="x", fault=None, root="/tmp/elsewhere")
        with self.assertRaisesRegex(ValueError, "only for attaching"):
            dt.DockerTarget(scenario_id="x", fault=None, url="http://127.0.0.1:1/")
        with self.assertRaisesRegex(ValueError, "unknown fault"):
            dt.DockerTarget(scenario_id="x", fault="nope")
        attached = dt.DockerTarget(scenario_id="x", fault=None, container="c",
                                   url="http://127.0.0.1:4321/")
        self.assertEqual((attached.port, attached.url, attached.owned),
                         (4321, "http://127.0.0.1:4321/", False))

    def test_factory_knows_the_docker_backend(self):
        target = create_target("docker", scenario_id="healthy", fault=None, run_id="r2")
        self.assertIsInstance(target, dt.DockerTarget)

    def test_targetctl_without_engine_says_how_to_get_one(self):
        env = {**os.environ, "TARGETCTL_BACKEND": "docker", "TARGETCTL_URL": "http://127.0.0.1:9/",
               "TARGETCTL_ROOT": "/", "TARGETCTL_EXPECTED_PORT": "9", "TARGETCTL_CONTAINER": "c",
               "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
        out = subprocess.run([STDLIB_PYTHON, str(REPO / "openhands_driver" / "targetctl.py"),
                              "exec", "true"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("scripts/docker_engine.sh up", out.stderr)
        self.assertNotIn("Traceback", out.stderr)
        del env["TARGETCTL_CONTAINER"]
        out = subprocess.run([STDLIB_PYTHON, str(REPO / "openhands_driver" / "targetctl.py"),
                              "logs"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("TARGETCTL_CONTAINER is not set", out.stderr)

    def test_demux_splits_docker_stream_frames(self):
        frames = (b"\x01\x00\x00\x00\x00\x00\x00\x03out" + b"\x02\x00\x00\x00\x00\x00\x00\x04err\n"
                  + b"\x01\x00\x00\x00\x00\x00\x00\x01!")
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            targetctl._demux(io.BytesIO(frames))
        finally:
            sys.stdout, sys.stderr = saved
        self.assertEqual((out.getvalue(), err.getvalue()), ("out!", "err\n"))


# --- engine needed: the target itself --------------------------------------------------------

class DockerTargetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        engine = require_engine()
        cls.client = engine["client"]
        cls.run_id = new_run_id("target")
        cls.target = dt.DockerTarget(scenario_id="stale_lockfile", fault="stale_lockfile",
                                     run_id=cls.run_id, client=cls.client)
        cls.target.start()

    @classmethod
    def tearDownClass(cls):
        cls.target.cleanup()
        dt.remove_run_containers(cls.run_id, cls.client)

    def test_starts_with_fault_injected_at_root(self):
        # Start time (container create -> app running; target <= 3 s, ~0.4 s on an idle machine)
        # is recorded, not asserted: timed asserts flake on a loaded CI machine.
        self.assertGreater(self.target.startup_s, 0)
        self.assertEqual(self.target.describe()["startup_s"], self.target.startup_s)
        config = json.loads(self.target.exec(["cat", "etc/service.json"]).stdout)
        self.assertEqual(config["instance"], "stale_lockfile")
        self.assertEqual(config["listen_port"], self.target.inner_port)
        self.assertEqual(self.target.exec(["cat", "var/lib/provisioned"]).stdout.strip(),
                         "provisioned")  # the marker names nothing
        # Nothing the agent can read names the fault: the environment, the provisioning file.
        env = self.target.exec(["env"]).stdout
        self.assertNotIn("stale", env.lower())
        self.assertNotIn("FAULT", env)
        self.assertFalse(self.target.exec(["test", "-e", "/run/provision.json"]).ok)
        probe = verifier.probe(self.target.url, "stale_lockfile")
        self.assertFalse(probe.ok)
        self.assertIn("HTTP 503", probe.reason)
        self.assertIn("cannot acquire lock", self.target.logs(20))

    def test_exec_runs_in_root_with_argv_and_timeout(self):
        result = self.target.exec(["sh", "-c", "pwd; echo oops >&2; exit 3"])
        self.assertEqual((result.exit_code, result.stdout, result.stderr), (3, "/\n", "oops\n"))
        self.assertEqual(result.argv, ["sh", "-c", "pwd; echo oops >&2; exit 3"])
        slow = self.target.exec(["sleep", "10"], timeout_s=0.5)
        self.assertTrue(slow.timed_out)
        self.assertLess(slow.duration_s, 9)  # killed, not waited for
        self.assertEqual(self.target.exec(["no-such-command"]).exit_code, 127)
        with self.assertRaises(TypeError):
            self.target.exec("ls /")

    def test_restart_brings_a_new_app_process_and_logs_show_it(self):
        before = self.target.status()
        self.assertTrue(before["running"])
        self.target.restart()
        after = self.target.status()
        self.assertNotEqual(before["app_pid"], after["app_pid"])
        self.assertEqual(before["supervisor_pid"], after["supervisor_pid"])
        self.assertIn("restart requested (SIGHUP)", self.target.logs(50))

    def test_targetctl_drives_the_container_without_the_docker_sdk(self):
        env = {**os.environ, **self.target.control_env()}
        ctl = [STDLIB_PYTHON, str(REPO / "openhands_driver" / "targetctl.py")]

        def run(*args):
            return subprocess.run(ctl + list(args), env=env, capture_output=True, text=True, timeout=60)

        info = run("info")
        self.assertIn(f"container: {self.target.container_name}", info.stdout)
        listing = run("exec", "ls", "-1", "var/lock")
        self.assertEqual((listing.returncode, listing.stdout), (0, "service.lock\nsupervisor.lock\n"))
        self.assertEqual(run("exec", "sh", "-c", "exit 7").returncode, 7)
        self.assertEqual(run("exec", "test", "-d", "/proc/4242").returncode, 1)  # the dead owner
        old_pid = self.target.status()["app_pid"]
        restart = run("restart")
        self.assertEqual(restart.returncode, 0, restart.stderr)
        self.assertIn(f"(was {old_pid})", restart.stdout)
        logs = run("logs", "-n", "5")
        self.assertEqual(logs.returncode, 0)
        self.assertIn("listening on", logs.stdout)
        self.assertEqual(run("status").returncode, 1)  # still broken: restart never fixes a fault

    def test_identity_ok_for_our_running_container(self):
        identity = self.target.identity()
        self.assertTrue(identity["ok"], identity)
        self.assertTrue(identity["running"])
        self.assertEqual(identity["image"], dt.IMAGE_TAG)
        describe = self.target.describe()
        self.assertEqual((describe["backend"], describe["root"]), ("docker", "/"))
        self.assertEqual(describe["stop_with"], f"docker rm -f {self.target.container_name}")


class DockerLifecycleTest(unittest.TestCase):
    """Identity failures, cleanup scope, attach mode: each test owns its containers."""

    @classmethod
    def setUpClass(cls):
        cls.client = require_engine()["client"]

    def setUp(self):
        self.run_id = new_run_id("life")
        self.addCleanup(dt.remove_run_containers, self.run_id, self.client)

    def start_target(self, scenario="healthy", fault=None):
        target = dt.DockerTarget(scenario_id=scenario, fault=fault, run_id=self.run_id,
                                 client=self.client)
        self.addCleanup(target.cleanup)
        target.start()
        return target

    def foreign_container(self, labels=None):
        container = self.client.containers.run(base_image_of(self.client), ["sleep", "300"],
                                               detach=True, init=True, network_mode="host",
                                               labels=labels or {},
                                               name=f"not-ours-{uuid.uuid4().hex[:8]}")
        self.addCleanup(container.remove, force=True)
        return container

    def test_identity_fails_for_a_stopped_container(self):
        target = self.start_target()
        self.client.api.stop(target.container_name, timeout=1)
        identity = target.identity()
        self.assertFalse(identity["ok"])
        self.assertFalse(identity["running"])
        self.assertIn("is not running", identity["reason"])
        check = verifier.verify(target.url, "healthy", max_attempts=2, interval_s=0.1,
                                identity_check=target.identity)
        self.assertFalse(check.verified)
        self.assertFalse(check.identity["ok"])

    def test_identity_fails_for_a_container_running_another_image(self):
        other = self.foreign_container()
        attached = dt.DockerTarget(scenario_id="healthy", fault=None, container=other.name,
                                   url="http://127.0.0.1:9/", client=self.client)
        attached.start()
        identity = attached.identity()
        self.assertFalse(identity["ok"])
        self.assertTrue(identity["running"])
        self.assertIn(f"expected {dt.IMAGE_TAG}", identity["reason"])
        attached.cleanup()
        other.reload()
        self.assertEqual(other.status, "running", "attach mode never removes the container")

    def test_identity_fails_once_the_container_is_gone(self):
        target = self.start_target()
        target.cleanup()
        target.cleanup()  # idempotent
        identity = target.identity()
        self.assertFalse(identity["ok"])
        self.assertIn("does not exist", identity["reason"])
        with self.assertRaises(TargetError):
            target.start()

    def test_cleanup_removes_only_labelled_containers_of_the_run(self):
        self.start_target()
        self.start_target()
        unlabelled = self.foreign_container()
        other_run = self.foreign_container({dt.LABEL_MANAGED: "true", dt.LABEL_RUN_ID: "someone-else"})
        self.assertEqual(len(dt.managed_containers(self.run_id, self.client)), 2)
        removed = dt.remove_run_containers(self.run_id, self.client)
        self.assertEqual(len(removed), 2)
        self.assertEqual(dt.managed_containers(self.run_id, self.client), [])
        for survivor in (unlabelled, other_run):
            survivor.reload()
            self.assertEqual(survivor.status, "running")
        with self.assertRaises(ValueError):
            dt.remove_run_containers("", self.client)

    def test_attach_mode_drives_an_existing_container_and_leaves_it(self):
        owner = self.start_target("readiness_probe_fail", "readiness_probe_fail")
        attached = dt.DockerTarget(scenario_id="readiness_probe_fail", fault=None,
                                   container=owner.container_name, client=self.client)
        attached.start()  # no URL given: derived from the container's network and PORT
        self.assertEqual(attached.url, owner.url)
        self.assertEqual(attached.inner_port, owner.inner_port)
        self.assertTrue(attached.identity()["ok"], attached.identity())
        self.assertEqual(attached.exec(["test", "-e", "var/run/ready"]).exit_code, 1)
        self.assertNotIn("stop_with", attached.describe())
        attached.cleanup()
        self.assertTrue(owner.status()["running"])

    def test_attach_to_missing_container_is_a_user_error(self):
        from openhands_driver.errors import UserError

        attached = dt.DockerTarget(scenario_id="healthy", fault=None,
                                   container=f"missing-{uuid.uuid4().hex[:6]}", client=self.client)
        with self.assertRaisesRegex(UserError, "no such container"):
            attached.start()

    def test_image_build_is_skipped_when_present(self):
        info = dt.build_image(self.client)
        self.assertFalse(info["built"])
        self.assertEqual(info["id"], self.client.images.get(dt.IMAGE_TAG).id)


# --- engine needed: incidents end to end ------------------------------------------------------

class DockerEndToEndTest(unittest.TestCase):
    """run_incident(backend="docker") in-process: real containers, SDK conversation, runbook brain."""

    @classmethod
    def setUpClass(cls):
        cls.client = require_engine()["client"]
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = Path(cls.tmp.name) / "trace.jsonl"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_incident(self, scenario, **kw):
        from openhands_driver.config import RunConfig
        from openhands_driver.runner import run_incident

        run_id = new_run_id(scenario)
        self.addCleanup(dt.remove_run_containers, run_id, self.client)
        config = RunConfig(scenario=scenario, backend="docker", trace_log=self.trace, run_id=run_id,
                           verify_interval_s=0.3, **kw)
        return run_incident(config, console=_Quiet())

    def assert_no_container_left(self, run_id):
        self.assertEqual(dt.managed_containers(run_id, self.client), [],
                         f"labelled containers left behind by {run_id}")

    def row_of(self, run_id):
        from openhands_driver.trace import read_rows

        rows = [r for r in read_rows(self.trace) if r["run_id"] == run_id]
        self.assertEqual(len(rows), 1)
        return rows[0]

    def test_every_scenario_fixed_in_a_container_and_verified_with_identity(self):
        for scenario in E2E_SCENARIOS:
            with self.subTest(scenario=scenario):
                result = self.run_incident(scenario)
                self.assertEqual(result.status, "fixed", json.dumps(result.to_dict(), default=str))
                self.assertEqual(result.backend, "docker")
                self.assertTrue(result.verification["verified"])
                self.assertTrue(result.verification["identity"]["ok"])
                self.assertEqual(result.target["container"], result.verification["identity"]["container"])
                self.assertIsNotNone(result.target["startup_s"])
                self.assert_no_container_left(result.run_id)
                row = self.row_of(result.run_id)
                self.assertTrue(row["service_up"])
                self.assertTrue(row["verification"]["identity"]["ok"])
                if scenario != "healthy":
                    self.assertEqual(result.skill_id, scenario.replace("_", "-"))

    def test_failed_run_is_not_fixed_and_leaves_no_container(self):
        result = self.run_incident("port_mismatch", skill_id="readiness-probe-fail")
        self.assertEqual(result.status, "not_fixed")
        self.assertFalse(result.service_up)
        self.assertTrue(result.verification["identity"]["ok"], "the container was right; the fix was not")
        self.assert_no_container_left(result.run_id)

    def test_attach_mode_fixes_a_container_it_did_not_create_and_keeps_it(self):
        owner = dt.DockerTarget(scenario_id="stale_lockfile", fault="stale_lockfile",
                                run_id=new_run_id("owner"), client=self.client)
        self.addCleanup(owner.cleanup)
        owner.start()
        result = self.run_incident("stale_lockfile", target_container=owner.container_name,
                                   target_url=owner.url)
        self.assertEqual(result.status, "fixed", result.error)
        self.assertFalse(result.target["owned"])
        self.assertTrue(result.verification["identity"]["ok"])
        self.assertTrue(owner.status()["running"], "an attached container is never removed")

    def test_keep_target_leaves_the_container_with_a_removal_hint(self):
        result = self.run_incident("healthy", keep_target=True)
        self.assertEqual(result.status, "fixed")
        self.assertTrue(result.target["kept"])
        self.assertEqual(result.target["stop_with"], f"docker rm -f {result.target['container']}")
        self.assertEqual(len(dt.managed_containers(result.run_id, self.client)), 1)


class DockerInterruptTest(unittest.TestCase):
    """Ctrl-C during a docker run (separate process): exit 130, container removed, row written."""

    def test_sigint_removes_the_container(self):
        client = require_engine()["client"]
        run_id = new_run_id("interrupt")
        self.addCleanup(dt.remove_run_containers, run_id, client)
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            proc = subprocess.Popen(
                [sys.executable, str(REPO / "run_demo.py"), "--backend", "docker",
                 "--scenario", "stale_lockfile", "--trace-log", str(trace), "--run-id", run_id,
                 "--json"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 90
                line = ""
                while time.monotonic() < deadline:
                    line = proc.stderr.readline()
                    if "[runner]" in line and "up at" in line or not line:  # the container is up
                        break
                self.assertIn("up at", line)
                self.assertEqual(len(dt.managed_containers(run_id, client)), 1)
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            self.assertEqual(proc.returncode, 130)
            from openhands_driver.trace import read_rows

            rows = read_rows(trace)
            self.assertEqual(len(rows), 1)
            self.assertEqual(rows[0]["status"], "interrupted")
            self.assertEqual(rows[0]["backend"], "docker")
        self.assertEqual(dt.managed_containers(run_id, client), [])


if __name__ == "__main__":
    unittest.main()
