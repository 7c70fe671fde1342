"""Local attach mode end to end: a broken service that is already running (started here, as
somebody else would), fixed in-process by the runbook brain through a real SDK conversation,
verified by the real verifier; the run must leave that service running and its root in place.

Also the flags: ``run_demo.py --backend local --target-root DIR --target-url URL``.
"""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

from openhands_driver import cli, targetctl
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.runner import run_incident
from openhands_driver.target.local import LocalTarget
from openhands_driver.trace import read_rows
from tests.support.runs import NullConsole as _Quiet


class AttachLocalEndToEndTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="test-attach-local-"))
        self.trace = self.tmp / "trace.jsonl"
        self.services: list[LocalTarget] = []

    def tearDown(self) -> None:
        for service in self.services:
            service.cleanup()  # keep=True: stops its process group, leaves the root
            shutil.rmtree(service.root, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_broken_service(self, scenario: str) -> LocalTarget:
        service = LocalTarget(scenario_id=scenario, fault=scenario, keep=True)
        self.services.append(service)
        service.start()
        self.assertEqual(targetctl.probe(service.url)[0], 503, "the service must start broken")
        return service

    def run_attached(self, service: LocalTarget, scenario: str | None):
        config = RunConfig(backend="local", target_root=service.root, target_url=service.url,
                           scenario=scenario, verify_interval_s=0.3, trace_log=self.trace)
        return run_incident(config, console=_Quiet())

    def assert_fixed_and_still_running(self, result, service: LocalTarget, supervisor: int) -> None:
        self.assertEqual(result.status, "fixed", result.to_dict())
        self.assertTrue(result.service_up)
        self.assertEqual((result.target["owned"], result.target["root"], result.target["url"]),
                         (False, str(service.root), service.url))
        self.assertGreater(result.step_count, 0)
        after = service.status()
        self.assertTrue(after["running"], "the attached service must still run after the run")
        self.assertEqual(after["supervisor_pid"], supervisor, "the same supervisor, never restarted")
        self.assertTrue((service.root / "etc/service.json").is_file(), "the root must still exist")
        self.assertEqual(targetctl.probe(service.url)[0], 200, "and it stays fixed")
        rows = [r for r in read_rows(self.trace) if r["run_id"] == result.run_id]
        self.assertEqual(len(rows), 1)
        self.assertTrue(rows[0]["service_up"])

    def test_fixes_a_running_service_it_did_not_start_and_leaves_it_running(self) -> None:
        service = self.start_broken_service("stale_lockfile")
        supervisor = service.status()["supervisor_pid"]
        result = self.run_attached(service, "stale_lockfile")
        self.assert_fixed_and_still_running(result, service, supervisor)
        self.assertEqual(result.skill_id, "stale-lockfile")

    def test_scenario_comes_from_the_service_root_when_not_given(self) -> None:
        service = self.start_broken_service("readiness_probe_fail")
        supervisor = service.status()["supervisor_pid"]
        result = self.run_attached(service, None)
        self.assertEqual(result.scenario, "readiness_probe_fail")
        self.assert_fixed_and_still_running(result, service, supervisor)

    def test_stopped_service_is_a_user_error_and_nothing_is_removed(self) -> None:
        service = self.start_broken_service("stale_lockfile")
        service.cleanup()  # stopped; the root stays (keep=True)
        with self.assertRaisesRegex(UserError, "its supervisor is not running"):
            self.run_attached(service, "stale_lockfile")
        self.assertTrue((service.root / "etc/service.json").is_file())
        rows = read_rows(self.trace)
        self.assertEqual([r["status"] for r in rows], ["error"])


class AttachLocalFlagsTest(unittest.TestCase):
    def config(self, *argv: str) -> RunConfig:
        return cli.config_from_args(cli.build_parser().parse_args(list(argv)))

    def test_flags_map_to_an_attach_config(self) -> None:
        config = self.config("--backend", "local", "--target-root", "/srv/svc",
                             "--target-url", "http://127.0.0.1:8080/")
        self.assertEqual((config.backend, config.target_root, config.target_url, config.scenario),
                         ("local", Path("/srv/svc"), "http://127.0.0.1:8080/", None))
        self.assertEqual(self.config().scenario, cli.DEFAULT_SCENARIO)
        given = self.config("--target-root", "/srv/svc", "--target-url", "http://127.0.0.1:1/",
                            "--scenario", "port_mismatch")
        self.assertEqual(given.scenario, "port_mismatch")

    def test_bad_combinations_are_user_errors(self) -> None:
        cases = {("--target-root", "/srv/svc"): "needs --target-url URL",
                 ("--backend", "docker", "--target-root", "/srv/svc", "--target-url", "http://h:1/"):
                     "--target-root needs --backend local",
                 ("--target-url", "http://127.0.0.1:1/"): "goes with --target-container NAME .* --target-root DIR"}
        for argv, message in cases.items():
            with self.subTest(argv=argv), self.assertRaisesRegex(UserError, message):
                self.config(*argv)

    def test_dry_run_reads_the_scenario_and_a_non_root_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            with self.assertRaisesRegex(UserError, "is not a service root"):
                run_incident(RunConfig(backend="local", target_root=root, target_url="http://127.0.0.1:9/",
                                       scenario=None, simulate=True, disable_trace_log=True))
            (root / "etc").mkdir()
            (root / "etc/service.json").write_text('{"scenario": "port_mismatch", "listen_port": 9}')
            result = run_incident(RunConfig(backend="local", target_root=root, target_url="http://127.0.0.1:9/",
                                            scenario=None, simulate=True, disable_trace_log=True))
            self.assertEqual((result.scenario, result.skill_id, result.service_up),
                             ("port_mismatch", "port-mismatch", None))
        with self.assertRaisesRegex(UserError, "no scenario given"):
            run_incident(RunConfig(scenario=None, simulate=True, disable_trace_log=True))


if __name__ == "__main__":
    unittest.main()
