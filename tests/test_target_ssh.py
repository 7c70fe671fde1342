"""The ssh backend (openhands_driver/target/ssh.py, ssh_link.py, targetctl_ssh.py) against a real sshd.

The sshd is Debian's openssh-server in a network namespace of its own (tests/support/sshd_netns.py
says why), with a fresh host key and client key per test class; known_hosts is written from the
generated host key. The unit part (destination, argv, error classification, flags) runs anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.target.ssh_link import (
    Destination, check_identity_file, classify, parse_destination,
)
from openhands_driver.targetctl_ssh import WATCHDOG, decode, encode, serve_command, ssh_argv
from tests.support import sshd_netns

REPO = Path(__file__).resolve().parents[1]
WHY_NOT = sshd_netns.unavailable()


def _dest() -> Destination:
    return Destination("deploy", "10.0.0.5", 2222)


class DestinationAndArgvTest(unittest.TestCase):
    def test_destinations(self):
        self.assertEqual(parse_destination("deploy@10.0.0.5:2222"), Destination("deploy", "10.0.0.5", 2222))
        self.assertEqual(parse_destination("host.example"), Destination(None, "host.example", 22))
        self.assertEqual(parse_destination("u@[fd00::5]:2200"), Destination("u", "fd00::5", 2200))
        self.assertEqual(parse_destination("u@[fd00::5]:2200").url_host, "[fd00::5]")
        for bad in ("", "u@", "u@host:0", "u@host:70000", "u@host:ssh", "-oProxyCommand=x@host",
                    "u@-oProxyCommand=x", "u@ho st", "u@[zz]:22", "u;id@host"):
            with self.subTest(bad=bad), self.assertRaises(UserError) as caught:
                parse_destination(bad)
            self.assertIn("user@host[:port]", str(caught.exception))

    def test_argv_keeps_host_key_checking_on_and_passes_no_shell_string(self):
        argv = ssh_argv("deploy", "10.0.0.5", 2222, known_hosts="/k", identity_file="/id", control="/c")
        self.assertEqual(argv[0], "ssh")
        for option in ("BatchMode=yes", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/k",
                       "IdentitiesOnly=yes", "IdentityAgent=none", "ControlMaster=no"):
            self.assertIn(option, argv)
        self.assertEqual(argv[-2:], ["--", "10.0.0.5"])  # the host can never be read as an option
        self.assertNotIn("StrictHostKeyChecking=no", argv)
        # the remote command: our path and a base64 token only (no argument the agent chose is parsed)
        hostile = ["exec", "--", "sh", "-c", "echo $(id); rm -rf 'x' `y`"]
        command = serve_command("python3", "/tmp/sre-ssh-abc", {"argv": hostile, "root": "/r", "port": "1"})
        token = command.split()[-1]
        self.assertRegex(token, r"^[A-Za-z0-9+/=]+$")
        self.assertEqual(decode(token)["argv"], hostile)
        self.assertEqual(decode(encode({"a": [1]})), {"a": [1]})
        compile(WATCHDOG, "watchdog", "exec")

    def test_classify_names_the_problem_and_the_fix(self):
        cases = {
            "ssh: connect to host 10.0.0.5 port 2222: Connection refused": "unreachable host",
            "ssh: connect to host 10.0.0.5 port 2222: Connection timed out": "unreachable host",
            "No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict checking.\n"
            "Host key verification failed.": "host key unknown",
            "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification "
            "failed.": "host key changed",
            "deploy@10.0.0.5: Permission denied (publickey).": "permission denied",
            'Load key "/x": invalid format': "bad identity file",
        }
        for stderr, expected in cases.items():
            with self.subTest(expected=expected):
                message = str(classify(stderr, _dest(), "/k"))
                self.assertTrue(message.startswith(expected), message)
                self.assertIn("deploy@10.0.0.5:2222", message)

    def test_identity_file_checks(self):
        with tempfile.TemporaryDirectory() as tmp:
            marker = f"idmarker-{uuid.uuid4().hex}"
            missing = Path(tmp) / marker
            with self.assertRaisesRegex(UserError, "bad identity file: .*does not exist"):
                check_identity_file(missing)
            missing.write_text("not a key\n")
            missing.chmod(0o644)
            with self.assertRaisesRegex(UserError, "readable by others"):
                check_identity_file(missing)
            missing.chmod(0o600)
            with self.assertRaisesRegex(UserError, "not a private key") as caught:
                check_identity_file(missing)
            self.assertNotIn(marker, str(caught.exception))  # the path is never in a message
            locked = Path(tmp) / "locked"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret-pass", "-f", str(locked)],
                           check=True)
            with self.assertRaisesRegex(UserError, "passphrase"):
                check_identity_file(locked)

    def test_flags(self):
        from openhands_driver.cli import build_parser, config_from_args

        def config(*argv):
            return config_from_args(build_parser().parse_args(["--scenario", "stale_lockfile", *argv]))

        with self.assertRaisesRegex(UserError, "--target-host needs --backend ssh"):
            config("--target-host", "u@h")
        with self.assertRaisesRegex(UserError, "needs --target-host"):
            config("--backend", "ssh", "--target-host", "u@h")
        with self.assertRaisesRegex(UserError, "not supported"):
            config("--backend", "ssh", "--target-host", "u@h", "--identity-file", "/x", "--keep-target")
        with self.assertRaisesRegex(UserError, "--toolset api is not supported"):
            config("--backend", "ssh", "--target-host", "u@h", "--identity-file", "/x", "--toolset", "api")
        with self.assertRaisesRegex(UserError, "bad identity file"):
            config("--backend", "ssh", "--target-host", "u@h", "--identity-file", "/nonexistent/key")
        simulated = config("--backend", "ssh", "--target-host", "u@h:2200", "--identity-file", "/x", "--simulate")
        self.assertEqual(simulated.target_options["host"], "u@h:2200")


@unittest.skipIf(WHY_NOT, f"ssh backend tests: {WHY_NOT}")
class SshTargetTest(unittest.TestCase):
    """One sshd for the class; each test its own target."""

    @classmethod
    def setUpClass(cls):
        cls.sshd = sshd_netns.SshdNetns().start()
        cls.sshd_pids = set(cls.sshd.pids())
        # the identity file: a marker in its path and in its key comment, looked for everywhere
        cls.marker = f"idmarker-{uuid.uuid4().hex[:12]}"
        cls.identity = cls.sshd.dir / cls.marker
        os.rename(cls.sshd.client_key, cls.identity)
        cls.key_lines = [line for line in cls.identity.read_text().splitlines()
                         if line and not line.startswith("-----")]

    @classmethod
    def tearDownClass(cls):
        cls.sshd.stop()

    def target(self, fault="stale_lockfile", **kw):
        from openhands_driver.target import create_target

        options = dict(host=self.sshd.target_host, identity_file=self.identity,
                       known_hosts=self.sshd.known_hosts)
        options.update(kw)
        return create_target("ssh", scenario_id="i-test", fault=fault, **options)

    def assert_no_leak(self, text: str, where: str):
        self.assertNotIn(self.marker, text, f"identity file path in {where}")
        for line in self.key_lines:
            self.assertNotIn(line, text, f"identity file content in {where}")

    def assert_remote_clean(self, remote_dir: str, timeout_s: float = 20.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not Path(remote_dir).exists() and set(self.sshd.pids()) <= self.sshd_pids:
                return
            time.sleep(0.1)
        self.fail(f"remote leftovers: dir exists={Path(remote_dir).exists()}, "
                  f"processes in the namespace {set(self.sshd.pids()) - self.sshd_pids}")

    def test_lifecycle_over_the_network_and_targetctl_unchanged(self):
        import urllib.request

        target = self.target()
        try:
            target.start()
            remote_dir = target.describe()["remote_dir"]
            self.assertTrue(target.url.startswith(f"http://{self.sshd.address}:"), target.url)
            with self.assertRaises(urllib.error.HTTPError) as caught:  # the fault, seen over the network
                urllib.request.urlopen(target.url, timeout=5)
            self.assertEqual(caught.exception.code, 503)
            self.assertTrue(target.identity()["ok"])
            status = target.status()
            self.assertTrue(status["running"])
            result = target.exec(["ls", "var/lock"])
            self.assertTrue(result.ok, result)
            self.assertIn("service.lock", result.stdout)
            old_app = status["app_pid"]
            target.restart()
            self.assertNotEqual(target.status()["app_pid"], old_app)
            self.assertIn("listening", target.logs(50))
            # targetctl, as the agent's terminal runs it (the broker's host side): the run's env only
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **target.control_env()}
            self.assert_no_leak(json.dumps(env), "control_env")
            self.assert_no_leak(json.dumps(target.describe()), "describe()")

            def targetctl(*args, stdin=None):
                return subprocess.run([sys.executable, str(REPO / "openhands_driver/targetctl.py"), *args],
                                      env=env, input=stdin, capture_output=True, text=True, timeout=60)

            info = targetctl("info")
            self.assertIn("backend: ssh", info.stdout)
            self.assertEqual(targetctl("status").returncode, 1)  # HTTP 503 from this machine
            literal = "a;b $(echo injected) `x` 'q' \"d\" *"
            echoed = targetctl("exec", "printf", "%s", literal)
            self.assertEqual((echoed.returncode, echoed.stdout), (0, literal), echoed.stderr)
            piped = targetctl("exec", "cat", stdin="through stdin\n")
            self.assertEqual(piped.stdout, "through stdin\n")
            self.assertEqual(targetctl("exec", "sh", "-c", "exit 7").returncode, 7)
            self.assertIn("listening", targetctl("logs", "-n", "20").stdout)
            self.assertIn("restarted: app pid", targetctl("restart").stdout)
            # nothing of the identity file on the remote side: files, command lines, environments
            for path in Path(remote_dir).rglob("*"):
                if path.is_file():
                    self.assert_no_leak(path.read_text(errors="replace"), str(path))
            for pid in set(self.sshd.pids()) - self.sshd_pids:
                for name in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{name}").read_bytes().decode(errors="replace")
                    except OSError:
                        continue
                    self.assert_no_leak(data, f"/proc/{pid}/{name}")
        finally:
            target.cleanup()
        self.assert_remote_clean(remote_dir)
        self.assertFalse(Path(target.control_socket or "/nonexistent").parent.exists())
        with self.assertRaisesRegex(subprocess.CalledProcessError, ""):  # the connection is gone
            subprocess.run([sys.executable, str(REPO / "openhands_driver/targetctl.py"), "logs"], env=env,
                           check=True, capture_output=True, timeout=30)

    def test_connection_errors_are_user_errors(self):
        other = self.sshd.keygen(f"other-{uuid.uuid4().hex[:6]}")
        empty = self.sshd.dir / "known_hosts_empty"
        empty.write_text("")
        changed = self.sshd.write_known_hosts("known_hosts_changed", key=other)
        cases = [
            ("unreachable host", dict(host=f"{self.sshd.user}@{self.sshd.address}:2223")),
            ("host key unknown", dict(known_hosts=empty)),
            ("host key changed", dict(known_hosts=changed)),
            ("permission denied", dict(identity_file=other)),
            ("permission denied", dict(host=f"nosuchuser@{self.sshd.address}:{self.sshd.port}")),
        ]
        for expected, options in cases:
            with self.subTest(expected=expected, options=list(options)):
                target = self.target(**options)
                try:
                    with self.assertRaises(UserError) as caught:
                        target.start()
                finally:
                    target.cleanup()
                self.assertTrue(str(caught.exception).startswith(expected), str(caught.exception))
                self.assert_no_leak(str(caught.exception), "the error")
        self.assertEqual(empty.read_text(), "")  # host keys are never added

    def test_janitor_ends_a_dead_runs_leftover_connection(self):
        from openhands_driver import janitor

        target = self.target()
        try:
            target.start()
            remote_dir = target.describe()["remote_dir"]
            local = Path(target.control_socket).parent
            report = janitor.SweepReport()
            janitor._end_ssh_connection(local, report)  # as for a dead owner whose master still runs
            self.assertEqual(report.ended_ssh, [f"{self.sshd.target_host}:{remote_dir}"], report.errors)
            self.assert_remote_clean(remote_dir)
            self.assert_no_leak(json.dumps(report.to_dict()) + (local / "ssh.json").read_text(), "the janitor")
        finally:
            target.cleanup()

    def test_sigkill_of_the_owner_cleans_the_remote_host(self):
        from openhands_driver import janitor

        code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from openhands_driver.target import "
                "create_target; t = create_target('ssh', scenario_id='i-k', fault='stale_lockfile', host=sys.argv[2], "
                "identity_file=sys.argv[3], known_hosts=sys.argv[4]); t.start(); "
                "print(json.dumps([t.describe()['remote_dir'], t.control_socket]), flush=True); "
                "import time; time.sleep(120)")
        tmpdir = tempfile.mkdtemp(prefix="sre-ssh-test-tmp-")  # the run's local dir lands here: swept alone
        self.addCleanup(lambda: __import__("shutil").rmtree(tmpdir, ignore_errors=True))
        proc = subprocess.Popen([sys.executable, "-c", code, str(REPO), self.sshd.target_host, str(self.identity),
                                 str(self.sshd.known_hosts)], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "TMPDIR": tmpdir})
        try:
            remote_dir, control = json.loads(proc.stdout.readline())
            self.assertTrue(Path(remote_dir, "root").is_dir())
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self.assert_remote_clean(remote_dir)  # the watchdog saw its input end
        local = Path(control).parent
        self.assertEqual(str(local.parent), tmpdir)
        deadline = time.monotonic() + 10
        while Path(control).exists() and time.monotonic() < deadline:  # the master ssh ends too
            time.sleep(0.1)
        self.assertFalse(Path(control).exists())
        report = janitor.sweep(tmp=local.parent, quiet=True)  # the dead owner's record goes
        self.assertIn(str(local), report.removed_dirs)


@unittest.skipIf(WHY_NOT, f"ssh backend tests: {WHY_NOT}")
class RunDemoOverSshTest(unittest.TestCase):
    """run_demo.py --backend ssh end to end: a blind incident fixed and verified over the network."""

    @classmethod
    def setUpClass(cls):
        cls.sshd = sshd_netns.SshdNetns().start()
        cls.sshd_pids = set(cls.sshd.pids())
        cls.marker = f"idmarker-{uuid.uuid4().hex[:12]}"
        cls.identity = cls.sshd.dir / cls.marker
        os.rename(cls.sshd.client_key, cls.identity)
        cls.key_lines = [line for line in cls.identity.read_text().splitlines()
                         if line and not line.startswith("-----")]

    @classmethod
    def tearDownClass(cls):
        cls.sshd.stop()

    def argv(self, trace: Path, *extra: str) -> list[str]:
        return [sys.executable, "run_demo.py", "--backend", "ssh", "--target-host", self.sshd.target_host,
                "--identity-file", str(self.identity), "--known-hosts", str(self.sshd.known_hosts),
                "--trace-log", str(trace), *extra]

    def remote_dirs(self) -> set[str]:
        return {str(p) for p in Path("/tmp").glob("sre-ssh-*")}

    def test_blind_incident_fixed_and_verified_over_ssh(self):
        before = self.remote_dirs()
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            proc = subprocess.run(self.argv(trace, "--blind", "--scenario", "stale_lockfile", "--variant-seed", "5",
                                            "--json"), cwd=REPO, capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            self.assertTrue(result["resolved"])
            self.assertEqual(result["target"]["backend"], "ssh")
            self.assertTrue(result["verification"]["url"].startswith(f"http://{self.sshd.address}:"))
            self.assertTrue(result["verification"]["identity"]["ok"])
            texts = {"stdout": proc.stdout, "stderr": proc.stderr}
            texts.update({str(p): p.read_text(errors="replace") for p in Path(tmp).rglob("*") if p.is_file()})
            self.assertIn("trace.jsonl", " ".join(texts))
            for where, text in texts.items():
                self.assertNotIn(self.marker, text, f"identity file path in {where}")
                for line in self.key_lines:
                    self.assertNotIn(line, text, f"identity file content in {where}")
        self.assertEqual(self.remote_dirs() - before, set())
        self.assertLessEqual(set(self.sshd.pids()), self.sshd_pids)

    def test_unknown_host_key_exits_2_and_signals_clean_up(self):
        empty = self.sshd.dir / "known_hosts_none"
        empty.write_text("")
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            argv = self.argv(trace, "--scenario", "stale_lockfile", "--sandbox", "none")
            argv[argv.index(str(self.sshd.known_hosts))] = str(empty)
            proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
            self.assertEqual(proc.returncode, 2, proc.stderr[-2000:])
            self.assertIn("host key unknown", proc.stderr)
            self.assertNotIn("Traceback", proc.stderr)
        before = self.remote_dirs()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with self.subTest(signal=sig.name), tempfile.TemporaryDirectory() as tmp:
                proc = subprocess.Popen(self.argv(Path(tmp) / "trace.jsonl", "--scenario", "stale_lockfile",
                                                  "--sandbox", "none"),
                                        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                try:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:  # the target is up on the remote host
                        line = proc.stderr.readline()
                        if not line or " up at " in line:
                            break
                    self.assertIn(" up at ", line)
                    self.assertTrue(self.remote_dirs() - before)
                    proc.send_signal(sig)
                    out, err = proc.communicate(timeout=90)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.communicate()
                self.assertEqual(proc.returncode, 130, err[-2000:])
                deadline = time.monotonic() + 20
                while self.remote_dirs() - before and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.assertEqual(self.remote_dirs() - before, set())
                self.assertLessEqual(set(self.sshd.pids()), self.sshd_pids)


@unittest.skipIf(WHY_NOT, f"ssh backend tests: {WHY_NOT}")
class IntakeOverSshTest(unittest.TestCase):
    """scripts/serve.py with a registry entry of kind ssh: a ServiceNow trigger to a verified fix on the ssh
    host, read back through the execution, hypotheses and logs endpoints."""

    def test_servicenow_trigger_to_verified_fix_over_ssh(self):
        import http.client
        import select

        token = "e2e-ssh-intake-token-0123456789abcdef"
        before = {str(p) for p in Path("/tmp").glob("sre-ssh-*")}
        with sshd_netns.SshdNetns() as sshd, tempfile.TemporaryDirectory(prefix="intake-ssh-") as tmp_name:
            tmp = Path(tmp_name)
            key_lines = [line for line in sshd.client_key.read_text().splitlines()
                         if line and not line.startswith("-----")]
            registry = tmp / "services.json"
            registry.write_text(json.dumps({"schema_version": 1, "services": {"payments": {
                "backend": "ssh", "host": sshd.target_host, "identity_file": str(sshd.client_key),
                "known_hosts": str(sshd.known_hosts), "scenario": "stale_lockfile"}}}))
            env = {**os.environ, "SRE_INTAKE_TOKEN": token}
            env.pop("SRE_ESCALATION_URL", None)
            with open(tmp / "service.err", "wb") as stderr:
                proc = subprocess.Popen([sys.executable, "scripts/serve.py", "--port", "0", "--services", str(registry),
                                         "--db", str(tmp / "intake.db"), "--trace-log", str(tmp / "trace.jsonl"),
                                         "--concurrency", "1", "--shutdown-deadline-s", "1"],
                                        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                        start_new_session=True)
            try:
                ready, _, _ = select.select([proc.stdout], [], [], 30)
                self.assertTrue(ready, (tmp / "service.err").read_text(errors="replace")[-2000:])
                port = int(json.loads(proc.stdout.readline())["url"].rsplit(":", 1)[1])

                def call(method, path, body=None):
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    try:
                        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                        response = conn.getresponse()
                        return response.status, json.loads(response.read())
                    finally:
                        conn.close()

                # a ServiceNow incident names the registry entry: its run gets a fresh target on the ssh host
                status, accepted = call("POST", "/api/v1/incident/trigger-agent", {
                    "incident_number": "INC0020001", "short_description": "payments API answers 503",
                    "description": "Monitoring: the payments health probe fails since 02:10.",
                    "priority": "2 - High", "category": "Software", "assignment_group": "SRE On-Call",
                    "state": "New", "target": {"ip_address": sshd.address, "hostname": "payments-1",
                                               "service": "payments"}})
                self.assertEqual(status, 202, accepted)
                self.assertEqual((accepted["incident_number"], accepted["status"]), ("INC0020001", "queued"))
                execution_id = accepted["execution_id"]
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    status, data = call("GET", f"/executions/{execution_id}")
                    if data["status"] in ("fixed", "failed", "escalated"):
                        break
                    time.sleep(0.5)
                self.assertEqual(data["status"], "fixed", (tmp / "service.err").read_text(errors="replace")[-3000:])
                self.assertTrue(data["verification"]["verified"])
                self.assertTrue(data["verification"]["url"].startswith(f"http://{sshd.address}:"))
                self.assertEqual(data["run"]["target"]["backend"], "ssh")
                # the ServiceNow view of the same execution: timeline, hypotheses and logs of the run
                status, execution = call("GET", f"/api/v1/incident/execution/{execution_id}")
                self.assertEqual(status, 200, execution)
                self.assertEqual((execution["incident_number"], execution["status"]), ("INC0020001", "fixed"))
                self.assertTrue(execution["timeline"])
                self.assertEqual([t["step_number"] for t in execution["timeline"]],
                                 list(range(1, len(execution["timeline"]) + 1)))
                self.assertIn("remediate", [t["action_type"] for t in execution["timeline"]])
                diagnosis = [h for h in execution["hypotheses"] if h.get("source") == "diagnosis"]
                self.assertEqual([(h["status"], h["fault_class"]) for h in diagnosis],
                                 [("validated", "stale_lockfile")], execution["hypotheses"])
                self.assertIn(("verifier", True), {(c["kind"], c["passed"]) for c in execution["verifications"]})
                status, logs = call("GET", f"/api/v1/incident/execution/{execution_id}/logs")
                self.assertEqual(status, 200, logs)
                self.assertEqual(len(logs["logs"]), len(execution["timeline"]))
                self.assertTrue(any("remediate" in e["command_executed"] and e["status"] == "completed"
                                    for e in logs["logs"] if e["action_type"] == "remediate"), logs["logs"])
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait(10)
                proc.stdout.close()
            self.assertEqual(before, {str(p) for p in Path("/tmp").glob("sre-ssh-*")})  # the run's remote dir is gone
            for path in tmp.rglob("*"):  # the key's content nowhere; its path nowhere but the registry/plan
                if not path.is_file():
                    continue
                text = path.read_bytes().decode(errors="replace")
                for line in key_lines:
                    self.assertNotIn(line, text, f"identity file content in {path}")
                if path.suffix in (".jsonl", ".log", ".md", ".err"):
                    self.assertNotIn(str(sshd.client_key), text, f"identity file path in {path}")


if __name__ == "__main__":
    unittest.main()
