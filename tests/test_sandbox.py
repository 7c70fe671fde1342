"""The agent sandbox (openhands_driver/sandbox): choice of sandbox and its refusal, the file editor's
boundary, skills copied (never linked), targetctl through the broker with exactly targetctl's output,
`targetctl exec` confined to the service root, and the `none` opt-out warned about and recorded.

Commands below run only inside the sandbox under test (through its shell launcher), never through a
shell of this machine; the canaries they aim at are checked from outside.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from openhands_driver import cli, sandbox
from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.runner import run_incident
from openhands_driver.sandbox import bwrap, file_guard
from openhands_driver.target import create_target
from openhands_driver.trace import read_rows
from tests.support.canaries import Listener
from tests.support.scripted_llm import ScriptedModel, tool

BWRAP_PROBLEM = bwrap.unavailable_reason()
NEEDS_BWRAP = f"needs bubblewrap with user/net/pid namespaces ({BWRAP_PROBLEM}; apt-get install bubblewrap)"


class ResolveKindTest(unittest.TestCase):
    def test_modes(self):
        self.assertEqual(sandbox.resolve_kind(RunConfig(sandbox="none")), "none")
        self.assertEqual(sandbox.resolve_kind(RunConfig(remote_host="http://127.0.0.1:1")), "agent-server")
        with self.assertRaises(UserError):
            sandbox.resolve_kind(RunConfig(sandbox="bwrap", remote_host="http://127.0.0.1:1"))
        with self.assertRaises(UserError) as caught:
            sandbox.resolve_kind(RunConfig(sandbox="chroot"))
        self.assertIn("auto, bwrap, none", str(caught.exception))

    def test_missing_bwrap_stops_before_anything_starts(self):
        with mock.patch.object(bwrap, "unavailable_reason", return_value="bubblewrap (bwrap) is not installed"), \
                mock.patch("openhands_driver.target.create_target") as create:
            for mode in ("auto", "bwrap"):
                with self.assertRaises(UserError) as caught:
                    run_incident(RunConfig(sandbox=mode, disable_trace_log=True))
                message = str(caught.exception)
                self.assertIn("apt-get install bubblewrap", message)
                self.assertIn("--sandbox none", message)
            stderr = io.StringIO()
            with mock.patch.object(sys, "stderr", stderr):
                self.assertEqual(cli.main(["--disable-trace-log"]), 2)
            self.assertEqual(stderr.getvalue().count("\n"), 1, stderr.getvalue())
            self.assertIn("apt-get install bubblewrap", stderr.getvalue())
        create.assert_not_called()

    def test_flag_reaches_the_config(self):
        args = cli.build_parser().parse_args(["--sandbox", "none"])
        self.assertEqual(cli.config_from_args(args).sandbox, "none")
        self.assertEqual(cli.config_from_args(cli.build_parser().parse_args([])).sandbox, "auto")


class ManyIncidentsTest(unittest.TestCase):
    """The fan-out scripts and the intake take the same flag, and refuse before any incident starts."""

    def test_fanout_flag_and_refusal_before_anything_starts(self):
        from openhands_driver.fanout import cli as fanout_cli
        from openhands_driver.fanout.engine import FanoutEngine

        parser = fanout_cli.build_parser("fanout")
        self.assertEqual(fanout_cli.config_from_args(parser.parse_args(["--sandbox", "none"])).run.sandbox, "none")
        config = fanout_cli.config_from_args(parser.parse_args(
            ["--scenarios", "stale_lockfile", "--training-data", str(Path(__file__).resolve().parents[1]
                                                                   / "training_data" / "scenarios.json")]))
        self.assertEqual(config.run.sandbox, "auto")
        with tempfile.TemporaryDirectory() as tmp, \
                mock.patch.object(bwrap, "unavailable_reason", return_value="bubblewrap (bwrap) is not installed"), \
                mock.patch("openhands_driver.fanout.engine.warm_up") as warm_up:
            engine = FanoutEngine(config, stream=io.StringIO(), progress=False)
            engine.log_dir = Path(tmp) / "logs"
            with self.assertRaises(UserError) as caught:
                engine.run()
            self.assertIn("--sandbox none", str(caught.exception))
            warm_up.assert_not_called()
            self.assertFalse(engine.log_dir.exists())

    def test_intake_refuses_at_start_up_and_passes_the_flag_to_runs(self):
        from openhands_driver.intake.config import IntakeConfig

        with mock.patch.object(bwrap, "unavailable_reason", return_value="bubblewrap (bwrap) is not installed"):
            with self.assertRaises(UserError) as caught:
                IntakeConfig(insecure_no_auth=True).validate()
            self.assertIn("apt-get install bubblewrap", str(caught.exception))
            # the warning is a log record of the intake's config (JSON logs when serve.py configured
            # them; stderr otherwise), whatever handlers earlier code installed
            with self.assertLogs("openhands_driver.intake.config", level="WARNING") as logged:
                IntakeConfig(insecure_no_auth=True, sandbox="none").validate()
            self.assertIn("--sandbox none", "\n".join(logged.output))
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
        try:
            import serve
        finally:
            sys.path.pop(0)
        self.assertEqual(serve.build_parser().parse_args(["--sandbox", "none"]).sandbox, "none")


class FileGuardTest(unittest.TestCase):
    def test_paths_are_resolved_before_the_check(self):
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp) / "ws"
            (ws / "sub").mkdir(parents=True)
            (ws / "escape").symlink_to("/etc")
            roots = (str(ws),)
            self.assertFalse(file_guard.outside_roots(str(ws / "sub" / "new.txt"), roots))
            self.assertFalse(file_guard.outside_roots(str(ws), roots))
            for path in (str(ws / ".." / "x"), str(ws / "escape" / "passwd"), "/etc/passwd", "relative.txt",
                         str(ws) + "-sibling/x", ""):
                self.assertTrue(file_guard.outside_roots(path, roots), path)

    def test_skills_are_copied_not_linked(self):
        with tempfile.TemporaryDirectory() as tmp:
            sandbox.copy_skills(Path(tmp))
            agents = Path(tmp) / ".agents"
            self.assertTrue(agents.is_dir())
            self.assertFalse(agents.is_symlink())
            self.assertTrue((agents / "skills" / "stale-lockfile" / "SKILL.md").is_file())
            self.assertEqual([p for p in agents.rglob("*") if p.is_symlink()], [])


@unittest.skipIf(BWRAP_PROBLEM, NEEDS_BWRAP)
class BrokerAndExecTest(unittest.TestCase):
    """targetctl inside the sandbox (through the broker) against a real local target."""

    @classmethod
    def setUpClass(cls):
        cls.target = create_target("local", scenario_id="stale_lockfile", fault="stale_lockfile", port=None)
        cls.target.start()
        cls.workspace = Path(tempfile.mkdtemp(prefix="sre-sbx-test-"))
        cls.box = sandbox.open_sandbox("bwrap", cls.target, cls.workspace, console=io.StringIO())

    @classmethod
    def tearDownClass(cls):
        cls.box.close()
        cls.target.cleanup()
        subprocess.run(["rm", "-rf", "--", str(cls.workspace)], check=False)

    def inside(self, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run `command` with the sandboxed terminal's shell (the launcher the SDK runs)."""
        return subprocess.run([self.box.shell_path, "-c", command], input=stdin, capture_output=True,
                              text=True, cwd=self.workspace, timeout=60)

    def direct(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Today's targetctl, configured straight from the target's environment (no broker)."""
        env = {"PATH": os.environ["PATH"], **self.target.control_env()}
        return subprocess.run([sys.executable, str(Path(sandbox.REPO_ROOT) / "openhands_driver" / "targetctl.py"),
                               *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)

    def test_output_and_exit_codes_match_targetctl(self):
        cases = [("info",), ("status",), ("logs", "-n", "5"), ("exec", "cat", "etc/service.json"),
                 ("exec", "sh", "-c", "echo out; echo err >&2; exit 3"), ("exec", "no-such-command-xyz"),
                 ("exec",), ("bogus-verb",), ()]
        for args in cases:
            with self.subTest(args=args):
                want = self.direct(*args)
                got = self.inside("targetctl " + " ".join(f"'{a}'" for a in args))
                if args[:1] == ("logs",):  # the log grows between the two calls (health probes)
                    self.assertEqual(got.returncode, want.returncode)
                    continue
                self.assertEqual((got.returncode, got.stdout, got.stderr),
                                 (want.returncode, want.stdout, want.stderr))

    def test_stdin_reaches_exec(self):
        got = self.inside("printf 'piped line\\n' | targetctl exec cat")
        self.assertEqual((got.returncode, got.stdout), (0, "piped line\n"))

    def test_exec_is_confined_to_the_service_root(self):
        root = Path(self.target.root)
        with tempfile.TemporaryDirectory() as tmp:
            outside = Path(tmp) / "canary-exec-outside"
            listener = Listener()
            host_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            try:
                writes = self.inside(f"targetctl exec sh -c 'echo x > {outside}'")
                inside_root = self.inside("targetctl exec sh -c 'echo ok > var/lib/sbx-test && cat var/lib/sbx-test'")
                egress = self.inside(
                    "targetctl exec python3 -c 'import socket; "
                    f"socket.create_connection((\"127.0.0.1\", {listener.port}), timeout=2)'")
                kill = self.inside(f"targetctl exec kill -9 {host_process.pid}")
                procs = self.inside("targetctl exec ls /proc")
                workspace = self.inside(f"targetctl exec ls {self.workspace}")
            finally:
                alive = host_process.poll() is None
                host_process.kill()
                host_process.wait()
                listener.close()
            self.assertNotEqual(writes.returncode, 0)
            self.assertFalse(outside.exists(), "targetctl exec wrote outside the service root")
            self.assertEqual((inside_root.returncode, inside_root.stdout), (0, "ok\n"))
            self.assertEqual((root / "var/lib/sbx-test").read_text(), "ok\n")
            self.assertNotEqual(egress.returncode, 0)
            self.assertEqual(listener.connections, 0, "targetctl exec reached the host network")
            self.assertNotEqual(kill.returncode, 0)
            self.assertTrue(alive, "targetctl exec killed a host process")
            pids = [p for p in procs.stdout.split() if p.isdigit()]
            self.assertLess(len(pids), 6, f"exec sees host processes: {pids}")
            self.assertNotEqual(workspace.returncode, 0, "exec sees the agent's workspace")

    def test_terminal_sees_no_repository_home_or_keys(self):
        with mock.patch.dict(os.environ, {"SRE_SBX_TEST_SECRET": "sbx-secret-value-93f1"}):
            got = self.inside(f"env; ls {sandbox.REPO_ROOT} ~root /root; cat /proc/*/environ")
        self.assertNotIn("sbx-secret-value-93f1", got.stdout + got.stderr)
        self.assertNotIn("pyproject.toml", got.stdout)
        names = {line.split("=", 1)[0] for line in got.stdout.splitlines() if "=" in line}
        self.assertLessEqual(names - {"PWD", "SHLVL", "_", "OLDPWD"},
                             {"PATH", "HOME", "LANG", "TERM", "INPUTRC", "PS1", "PS2", "PAGER", "GIT_PAGER",
                              "TARGETCTL_BACKEND", "TARGETCTL_URL", "TARGETCTL_ROOT", "TARGETCTL_EXPECTED_PORT",
                              "TARGETCTL_SERVICE", "TARGETCTL_BROKER",
                              "TARGETCTL_PYTHON"})

    def test_sdk_terminal_runs_inside_and_ctrl_c_interrupts(self):
        from openhands_driver.conversation import prepare_sdk_env

        prepare_sdk_env()
        from openhands.tools.terminal.definition import TerminalAction
        from openhands.tools.terminal.terminal.subprocess_terminal import SubprocessTerminal
        from openhands.tools.terminal.terminal.terminal_session import TerminalSession

        session = TerminalSession(SubprocessTerminal(str(self.workspace), shell_path=self.box.shell_path, env={}),
                                  no_change_timeout_seconds=2)
        session.initialize()
        try:
            first = session.execute(TerminalAction(command="targetctl status; echo rc=$?"))
            hung = session.execute(TerminalAction(command="sleep 30"))
            interrupted = session.execute(TerminalAction(command="C-c", is_input=True))
            after = session.execute(TerminalAction(command="cd /etc && pwd"))
        finally:
            session.close()
        self.assertIn("HTTP 503", first.text)
        self.assertIn("rc=1", first.text)
        self.assertEqual(hung.exit_code, -1)
        self.assertEqual(interrupted.exit_code, 130)
        self.assertEqual((after.exit_code, after.metadata.working_dir), (0, "/etc"))

    def test_operator_edited_command_runs_inside(self):
        from openhands_driver.gates import run_edited

        told = run_edited(f"ls {sandbox.REPO_ROOT}", str(self.workspace), {}, prefix=self.box.exec_prefix)
        self.assertIn("No such file or directory", told)
        self.assertIn("service root: " + str(self.target.root),
                      run_edited("targetctl info", str(self.workspace), {}, prefix=self.box.exec_prefix))

    def test_broker_refuses_other_requests(self):
        from openhands_driver.sandbox.broker import recv_frame, send_frame

        for request in (b'{"argv": ["sh", "-c", "id"]}', b'{"argv": "status"}', b"not json"):
            with self.subTest(request=request):
                conn = socket.socket(socket.AF_UNIX)
                conn.connect(str(self.box._broker.socket_path))
                send_frame(conn, b"r", request)
                frames = []
                while (frame := recv_frame(conn)) is not None:
                    frames.append(frame)
                conn.close()
                self.assertEqual(frames[-1], (b"x", b"2"))
                self.assertIn(b"accepts only", b"".join(p for k, p in frames if k == b"2"))


class NoneOptOutTest(unittest.TestCase):
    def test_none_warns_and_is_recorded(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            console = io.StringIO()
            script = [tool("terminal", command="targetctl status", security_risk="LOW", summary="look"),
                      tool("finish", message="looked")]
            with ScriptedModel(script) as model:
                result = run_incident(RunConfig(model="openai/scripted-sre", llm_base_url=model.base_url,
                                                trace_log=trace, sandbox="none", max_iterations=4,
                                                verify_interval_s=0.1, verify_max_attempts=2,
                                                verify_consecutive_successes=1), console=console)
            self.assertIn("--sandbox none", console.getvalue())
            self.assertIn("WARNING", console.getvalue())
            self.assertEqual(result.security["sandbox"], "none")
            self.assertEqual(read_rows(trace)[-1]["security"]["sandbox"], "none")
            report = Path(read_rows(trace)[-1]["report"])  # the run's markdown report, next to the trace
            self.assertEqual(report.parent, trace.parent / "reports")
            self.assertIn("**sandbox:** none", report.read_text())
            self.assertEqual(result.actions[0].exit_code, 1)  # the stale lock: HTTP 500
            self.assertIn("HTTP 500", json.dumps(result.to_dict(with_excerpts=True)))


if __name__ == "__main__":
    unittest.main()
