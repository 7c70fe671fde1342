"""Remote agent servers: a REAL ``openhands.agent_server`` process on 127.0.0.1 runs the incidents'
conversations (RemoteWorkspace), each in its own server-side workspace, with its own local target.

Needs the optional extra ``remote`` (``uv sync --locked --extra remote``; CI installs it).
"""

from __future__ import annotations

import glob
import io
import os
import tempfile
import time
import unittest
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.remote import LocalAgentServer, check_hosts, parse_hosts
from openhands_driver.trace import read_rows
from tests.support.runs import pg_alive as _pg_alive

HAVE_SERVER = LocalAgentServer.available()
SKIP_REASON = ("openhands-agent-server is not installed: run `uv sync --locked --extra remote` "
               "(the optional extra `remote`)")


class HostOptionTest(unittest.TestCase):
    def test_hosts_are_repeatable_and_comma_separated(self):
        self.assertEqual(parse_hosts(["127.0.0.1:8010,http://127.0.0.1:8011/", "127.0.0.1:8010"]),
                         ["http://127.0.0.1:8010", "http://127.0.0.1:8011"])

    def test_unreachable_server_is_a_user_error_with_the_fix(self):
        from openhands_driver.target.local import free_ports

        with self.assertRaises(UserError) as caught:
            check_hosts([f"http://127.0.0.1:{free_ports(1)[0]}"])
        self.assertIn("openhands.agent_server", str(caught.exception))


@unittest.skipUnless(HAVE_SERVER, SKIP_REASON)
class AgentServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.server = LocalAgentServer()
        cls.addClassCleanup(cls.server.stop)  # runs even when start() or a test fails
        began = time.monotonic()
        cls.server.start()
        cls.server_start_s = time.monotonic() - began

    def test_remote_session_carries_skills_and_targetctl(self):
        from openhands_driver.conversation import prepare_sdk_env

        prepare_sdk_env()
        from openhands_driver.remote import open_session

        with tempfile.TemporaryDirectory(prefix="sre-incident-remote-test-") as local:
            local = Path(local)
            (local / ".agents").symlink_to(Path(__file__).resolve().parent.parent / ".agents")
            session = open_session(self.server.url, local, {"TARGETCTL_URL": "http://127.0.0.1:9/",
                                                            "PATH": "/client/only"})
            try:
                self.assertNotIn("PATH", session.terminal_env, "the client's PATH is not the server's")
                self.assertTrue(session.terminal_env["INPUTRC"].startswith(session.base_dir))
                self.assertIn("stale-lockfile", [s.name for s in session.skills])
                result = session.workspace.execute_command(
                    "ls .agents/skills && command -v targetctl", cwd=session.working_dir, timeout=20)
                self.assertEqual(result.exit_code, 0, result.stderr)
                self.assertIn("stale-lockfile", result.stdout)
                self.assertIn("bin/targetctl", result.stdout)
            finally:
                session.close()
            self.assertFalse(os.path.exists(session.base_dir), "the server-side workspace is removed")

    def test_isolated_incidents_run_on_the_agent_server_and_are_verified(self):
        from openhands_driver.fanout.engine import run_fanout
        from openhands_driver.fanout.records import FanoutConfig

        trace = Path(self.tmp.name) / "trace.jsonl"
        run = RunConfig(training_data=None, trace_log=trace, verify_interval_s=0.3)
        config = FanoutConfig(run=run, scenario_ids=["stale_lockfile", "port_mismatch"], concurrency=2,
                              remote_hosts=[self.server.url], log_dir=Path(self.tmp.name) / "logs")
        report = run_fanout(config, stream=io.StringIO())
        summary = report["summary"]
        self.assertEqual((summary["total"], summary["fixed"]), (2, 2), report["rows"])
        for row in report["rows"]:
            self.assertEqual(row["remote_host"], self.server.url)
            self.assertTrue(row["service_up"])
            trace_row = [r for r in read_rows(trace) if r["run_id"] == row["run_id"]][0]
            self.assertTrue(trace_row["verification"]["verified"])
            self.assertFalse(_pg_alive(trace_row["target"]["pid"]))
            self.assertIn("targetctl status", " ".join(a["command"] for a in trace_row["actions"]))
            self.assertEqual(glob.glob(f"/tmp/sre-remote-sre-incident-{row['run_id']}-*"), [],
                             "each incident's server-side workspace is removed")

    def test_safety_gate_holds_on_the_agent_server(self):
        """A HIGH-risk command the model labels LOW never runs on the server; the run goes on."""
        from openhands_driver.runner import run_incident
        from tests.support.scripted_llm import ScriptedModel, tool

        canary = Path(self.tmp.name) / "canary-written-by-the-remote-agent"
        script = [tool("terminal", command=f"touch {canary}", security_risk="LOW", summary="harmless?"),
                  tool("terminal", command="python3 .agents/skills/stale-lockfile/remediate.py",
                       security_risk="LOW", summary="remove stale lock"),
                  tool("terminal", command="targetctl status", security_risk="LOW", summary="verify"),
                  tool("finish", message="Removed the stale lock; health is ok.")]
        with ScriptedModel(script) as model:
            config = RunConfig(scenario="stale_lockfile", model="openai/scripted-sre", llm_base_url=model.base_url,
                               trace_log=Path(self.tmp.name) / "gates.jsonl", verify_interval_s=0.3,
                               max_iterations=12, remote_host=self.server.url)
            result = run_incident(config, console=io.StringIO())
        self.assertFalse(canary.exists(), "a HIGH-risk command mislabelled LOW ran on the agent server")
        self.assertEqual((result.actions[0].policy_risk, result.actions[0].gate), ("HIGH", "rejected"))
        self.assertEqual(result.status, "fixed", result.to_dict())
        self.assertEqual([a.gate for a in result.actions[1:]], ["allowed"] * (len(result.actions) - 1))

    def test_run_demo_remote_host_flag(self):
        from openhands_driver.cli import config_from_args, build_parser
        from openhands_driver.runner import run_incident

        trace = Path(self.tmp.name) / "demo-trace.jsonl"
        args = build_parser().parse_args(["--scenario", "readiness_probe_fail", "--remote-host",
                                          self.server.url.removeprefix("http://"), "--trace-log", str(trace),
                                          "--verify-interval-s", "0.3"])
        config = config_from_args(args)
        self.assertEqual(config.remote_host, self.server.url)
        result = run_incident(config, console=io.StringIO())
        self.assertEqual(result.status, "fixed", result.to_dict())


@unittest.skipUnless(HAVE_SERVER, SKIP_REASON)
class AgentServerScriptTest(unittest.TestCase):
    """The documented start-up (scripts/agent_server.sh) works with nothing set by the caller."""

    def test_script_starts_a_server_with_the_offline_settings(self):
        import shutil
        import signal
        import subprocess

        from openhands_driver.remote import health
        from openhands_driver.target.local import free_ports

        if shutil.which("uv") is None:
            self.skipTest("uv is not on PATH (the script runs the server with uv run)")
        script = Path(__file__).resolve().parent.parent / "scripts" / "agent_server.sh"
        port = free_ports(1)[0]
        with tempfile.TemporaryDirectory(prefix="sre-agent-server-script-") as state:
            env = {k: v for k, v in os.environ.items()
                   if k not in ("LITELLM_LOCAL_MODEL_COST_MAP", "OPENHANDS_SUPPRESS_BANNER")}
            env["SRE_AGENT_SERVER_STATE"] = state
            proc = subprocess.Popen([str(script), "--port", str(port)], env=env, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline, reason = time.monotonic() + 90, "not started"
                while time.monotonic() < deadline and proc.poll() is None:
                    reason = health(f"http://127.0.0.1:{port}", timeout_s=1.0)
                    if reason is None:
                        break
                    time.sleep(0.5)
                self.assertIsNone(reason, f"scripts/agent_server.sh did not answer /health: {reason}")
                server_env = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
                self.assertIn(b"LITELLM_LOCAL_MODEL_COST_MAP=True", server_env)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


if __name__ == "__main__":
    unittest.main()
