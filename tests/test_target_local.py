"""openhands_driver.target: the local backend's lifecycle, control and cleanup guarantees."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
import unittest
from pathlib import Path

from openhands_driver import targetctl
from openhands_driver.errors import UserError
from openhands_driver.target import BACKENDS, Target, TargetError, create_target
from openhands_driver.target.local import LocalTarget, service_root_scenario


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class LocalTargetLifecycleTests(unittest.TestCase):
    def setUp(self) -> None:
        self.target = create_target("local", scenario_id="life", fault="stale_lockfile")
        self.addCleanup(self.target.cleanup)

    def test_start_status_exec_restart_logs_cleanup(self) -> None:
        target = self.target
        self.assertIsInstance(target, LocalTarget)
        self.assertEqual(target.status()["running"], False)
        began = time.monotonic()
        target.start()
        self.assertLess(time.monotonic() - began, 10)
        target.start()  # idempotent

        status = target.status()
        self.assertTrue(status["running"])
        self.assertEqual(status["pgid"], status["supervisor_pid"])
        self.assertTrue(targetctl.pid_alive(status["app_pid"]))
        self.assertEqual(os.getpgid(status["app_pid"]), status["pgid"])
        self.assertEqual(target.describe()["pid"], status["pgid"])

        result = target.exec(["ls", "var/lock"])
        self.assertTrue(result.ok, result)
        self.assertEqual((result.argv, result.stdout, result.timed_out), (["ls", "var/lock"], "service.lock\nsupervisor.lock\n", False))
        failing = target.exec(["sh", "-c", "echo oops >&2; exit 3"])
        self.assertEqual((failing.exit_code, failing.stderr, failing.ok), (3, "oops\n", False))
        self.assertEqual(target.exec(["no-such-command-xyz"]).exit_code, 127)
        slow = target.exec(["sleep", "5"], timeout_s=0.2)
        self.assertTrue(slow.timed_out)
        self.assertLess(slow.duration_s, 3)
        with self.assertRaises(TypeError):
            target.exec("rm -rf var")  # type: ignore[arg-type]

        target.restart()
        after = target.status()
        self.assertNotEqual(after["app_pid"], status["app_pid"])
        self.assertTrue(targetctl.pid_alive(after["app_pid"]))
        self.assertEqual(after["supervisor_pid"], status["supervisor_pid"])

        logs = target.logs(50)
        self.assertIn(f"listening on 127.0.0.1:{target.port}", logs)
        self.assertIn("restart requested (SIGHUP)", logs)
        self.assertEqual(len(target.logs(2).splitlines()), 2)

        pgid, root = status["pgid"], target.root
        target.cleanup()
        self.assertFalse(group_alive(pgid), "a process of the target group survived cleanup")
        self.assertFalse(root.exists())
        self.assertFalse(target.status()["running"])
        target.cleanup()  # idempotent
        with self.assertRaises(TargetError):
            target.start()

    def test_supervisor_restarts_a_crashed_app(self) -> None:
        self.target.start()
        old = self.target.status()["app_pid"]
        os.kill(old, signal.SIGKILL)
        new = targetctl.wait_for_app(self.target.root, old, timeout_s=5)
        self.assertIsNotNone(new, self.target.logs(20))
        self.assertIn(f"app pid {old} killed by signal 9; restarting", self.target.logs(20))

    def test_identity_control_env_and_describe(self) -> None:
        t = self.target
        self.assertEqual(t.url, f"http://127.0.0.1:{t.port}/")
        self.assertEqual((t.backend, t.scenario_id, t.fault), ("local", "life", "stale_lockfile"))
        self.assertEqual(t.control_env(), {
            "TARGETCTL_BACKEND": "local", "TARGETCTL_URL": t.url, "TARGETCTL_ROOT": str(t.root),
            "TARGETCTL_EXPECTED_PORT": str(t.port), "TARGETCTL_SERVICE": "checkout"})
        desc = t.describe()  # before start: no process group yet
        self.assertEqual({k: desc[k] for k in ("backend", "url", "root", "port", "pid")},
                         {"backend": "local", "url": t.url, "root": str(t.root), "port": t.port,
                          "pid": None})


class LocalTargetCleanupTests(unittest.TestCase):
    def test_context_manager_cleans_up_after_exception(self) -> None:
        seen: dict = {}
        with self.assertRaisesRegex(RuntimeError, "boom"):
            with create_target(scenario_id="ctx", fault=None) as target:
                seen.update(target.status(), root=target.root)
                raise RuntimeError("boom")
        self.assertTrue(seen["running"])
        self.assertFalse(group_alive(seen["pgid"]))
        self.assertFalse(seen["root"].exists())

    def test_two_targets_get_different_ports_and_roots(self) -> None:
        with create_target(scenario_id="a", fault=None) as a, create_target(scenario_id="b", fault=None) as b:
            self.assertNotEqual(a.port, b.port)
            self.assertNotEqual(a.root, b.root)
            self.assertNotEqual(a.status()["pgid"], b.status()["pgid"])
            self.assertEqual(targetctl.probe(a.url)[0], 200)
            self.assertEqual(targetctl.probe(b.url)[0], 200)

    def test_caller_root_and_keep_are_not_removed(self) -> None:
        given = Path(tempfile.mkdtemp(prefix="test-given-root-"))
        self.addCleanup(shutil.rmtree, given, True)
        with create_target(scenario_id="given", fault=None, root=given) as target:
            self.assertEqual(target.root, given)
        self.assertTrue((given / "etc/service.json").exists())
        kept = create_target(scenario_id="kept", fault=None, keep=True)
        self.addCleanup(shutil.rmtree, kept.root, True)
        with kept:
            pass
        self.assertTrue((kept.root / "var/log/service.log").exists())

    def test_start_failure_is_clear_and_leaves_nothing_running(self) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            target = create_target(scenario_id="busy", fault=None, port=port, start_timeout_s=3.0)
            self.addCleanup(target.cleanup)
            with self.assertRaises(TargetError) as caught:
                target.start()
        message = str(caught.exception)
        self.assertIn("did not come up within 3s", message)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}", message)
        self.assertFalse(group_alive(target.status()["pgid"]))


class LocalAttachTests(unittest.TestCase):
    """Attach mode: drive a service somebody else started; never stop it, never remove its root."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.owner = LocalTarget(scenario_id="attach-me", fault="stale_lockfile", keep=True)
        try:
            cls.owner.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.owner.cleanup()  # keep=True: stops the group, leaves the root
        shutil.rmtree(cls.owner.root, ignore_errors=True)

    def attach(self, **kw) -> LocalTarget:
        target = create_target("local", scenario_id="attach-me", fault="stale_lockfile",
                               root=self.owner.root, attach=True, url=self.owner.url, **kw)
        self.addCleanup(target.cleanup)
        return target

    def test_attach_lifecycle_drives_the_running_service(self) -> None:
        before = self.owner.status()
        target = self.attach()
        self.assertFalse(target.status()["running"], "not attached before start()")
        target.start()
        target.start()  # idempotent
        self.assertFalse(target.owned)
        self.assertEqual((target.url, target.port, target.root), (self.owner.url, self.owner.port,
                                                                  self.owner.root))
        status = target.status()
        self.assertEqual((status["running"], status["supervisor_pid"], status["app_pid"], status["pgid"]),
                         (True, before["supervisor_pid"], before["app_pid"], None))
        self.assertEqual(target.control_env()["TARGETCTL_ROOT"], str(self.owner.root))
        self.assertEqual(target.control_env()["TARGETCTL_EXPECTED_PORT"], str(self.owner.port))
        desc = target.describe()
        self.assertEqual({k: desc[k] for k in ("backend", "url", "root", "pid", "owned", "supervisor_pid")},
                         {"backend": "local", "url": self.owner.url, "root": str(self.owner.root),
                          "pid": None, "owned": False, "supervisor_pid": before["supervisor_pid"]})
        self.assertIsNone(desc["fault"])  # attached: it injected nothing, so it names no fault
        self.assertEqual(target.exec(["ls", "var/lock"]).stdout, "service.lock\nsupervisor.lock\n")  # nothing injected again
        target.restart()
        self.assertNotEqual(target.status()["app_pid"], before["app_pid"])
        self.assertIn("restart requested (SIGHUP)", target.logs(20))

    def test_cleanup_leaves_the_service_and_its_root_alone(self) -> None:
        supervisor = self.owner.status()["supervisor_pid"]
        with self.attach() as target:
            pass
        target.cleanup()  # idempotent
        self.assertTrue(self.owner.root.is_dir(), "an attached root is never removed")
        self.assertTrue((self.owner.root / "etc/service.json").is_file())
        self.assertTrue(targetctl.pid_alive(supervisor), "an attached service is never stopped")
        self.assertEqual(self.owner.status()["supervisor_pid"], supervisor)
        self.assertEqual(targetctl.probe(self.owner.url)[0], 503)  # still up, still broken
        with self.assertRaisesRegex(TargetError, "detached by cleanup"):
            target.restart()

    def test_scenario_comes_from_the_service_root(self) -> None:
        self.assertEqual(service_root_scenario(self.owner.root), "attach-me")

    def test_not_a_service_root_or_no_supervisor_is_a_clear_user_error(self) -> None:
        empty = Path(tempfile.mkdtemp(prefix="test-attach-empty-"))
        self.addCleanup(shutil.rmtree, empty, True)
        for root, message in ((empty, "is not a service root: .*etc/service.json is missing"),
                              (empty / "nope", "no such directory")):
            with self.subTest(root=root):
                target = create_target("local", scenario_id="x", fault=None, root=root, attach=True,
                                       url="http://127.0.0.1:9/")
                with self.assertRaisesRegex(UserError, message):
                    target.start()
                target.cleanup()
                self.assertEqual(root.exists(), root == empty)
        with self.assertRaisesRegex(UserError, "is not a service root"):
            service_root_scenario(empty)
        stopped = LocalTarget(scenario_id="stopped", fault=None, keep=True)
        self.addCleanup(shutil.rmtree, stopped.root, True)
        with stopped:
            pass  # started, then stopped: a service root whose supervisor is gone
        target = create_target("local", scenario_id="stopped", fault=None, root=stopped.root,
                               attach=True, url="http://127.0.0.1:9/")
        with self.assertRaisesRegex(UserError, "its supervisor is not running"):
            target.start()
        with self.assertRaisesRegex(UserError, "must look like http"):
            create_target("local", scenario_id="x", fault=None, root=empty, attach=True, url="ftp://x/")
        with self.assertRaisesRegex(ValueError, "needs root= .* and url="):
            create_target("local", scenario_id="x", fault=None, attach=True)


class FactoryTests(unittest.TestCase):
    def test_unknown_backend_lists_valid_ones(self) -> None:
        with self.assertRaisesRegex(ValueError, "unknown target backend 'k8s'; valid backends: local, docker"):
            create_target("k8s", scenario_id="x", fault=None)

    def test_unknown_fault(self) -> None:
        with self.assertRaisesRegex(ValueError, "unknown fault 'nope'"):
            create_target(scenario_id="x", fault="nope")

    def test_backends_are_registered_by_name(self) -> None:
        self.assertEqual(set(BACKENDS), {"local", "docker", "worker", "ssh"})

    def test_local_is_a_target(self) -> None:
        self.assertTrue(issubclass(LocalTarget, Target))


if __name__ == "__main__":
    unittest.main()
