"""openhands_driver.brain.policy + findings: the deterministic runbook brain.

``decide(messages)`` is a pure function of OpenAI chat messages, so every test builds a synthetic
conversation: the incident message (a routed skill, optionally injected as <EXTRA_INFO>, or a
triage runbook in <runbook> tags), then assistant tool calls and tool results, and checks the next
decision at each step.

``SimTarget`` gives realistic tool outputs without processes or sockets: a service root with a
real fault from target_service/faults.py, the real health logic of target_service/app.py (Flask
test client), the real ``targetctl status``/``info`` formatting, and real ``ls``/``cat``/``sed``
commands run in the temporary root. Fixes the policy proposes are applied there, so the tests also
show that they heal the service.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shlex
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from openhands_driver import targetctl
from openhands_driver.brain.findings import Findings, first_json_object, shows_healthy
from openhands_driver.brain.policy import Finish, ToolCall, decide, read_transcript
from openhands_driver.skills import load_skills
from target_service import app as service_app
from target_service import faults

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = REPO / "training_data" / "strategies"
SKILLS = load_skills()
SIM_PORT = 18080  # never bound: SimTarget answers probes without sockets
SIM_SCENARIO = "sim_incident"
MAX_STEPS = 30

STALE_DIAG = "python3 .agents/skills/stale-lockfile/diagnose.py"
STALE_FIX = "python3 .agents/skills/stale-lockfile/remediate.py"
STATUS = "targetctl status"


# --- conversation building ----------------------------------------------------------------

def status_text(code: int, body: dict) -> str:
    """What `targetctl status` prints for an HTTP answer."""
    return f"HTTP {code}\n{json.dumps(body, indent=2)}\n"


HEALTHY_STATUS = status_text(200, {"status": "ok", "scenario": SIM_SCENARIO})
LOCK_REASON = "stale lock file var/lock/service.lock held by pid 4242 which is not running"
BROKEN_STATUS = status_text(500, {"status": "error", "scenario": SIM_SCENARIO, "reason": LOCK_REASON})


def extra_info(skill: str, trigger: str = "lock file") -> str:
    """The block the SDK injects into the user message when a skill trigger matches."""
    return (f"<EXTRA_INFO>\nThe following information has been included based on a keyword match "
            f"for \"{trigger}\".\nIt may or may not be relevant to the user's request.\n\n"
            f"Skill location: /x/.agents/skills/{skill}/SKILL.md\n"
            f"(Use this path to resolve relative file references in the skill content below)\n\n"
            f"{SKILLS[skill].body}\n</EXTRA_INFO>")


def skill_incident(skill: str, *, inject: bool = True, as_parts: bool = False) -> dict:
    text = ("# Incident: checkout-api down\n\nPAGE: health check failing.\n\n"
            f"Runbook skill: {skill}\n(Routing: scenario maps to skill {skill}. Load it with "
            "invoke_skill if it is not shown below.)\n")
    if not inject:
        return {"role": "user", "content": text}
    if as_parts:
        return {"role": "user", "content": [{"type": "text", "text": text},
                                             {"type": "text", "text": extra_info(skill)}]}
    return {"role": "user", "content": text + "\n" + extra_info(skill)}


def runbook_incident(name: str = "baseline_triage.md") -> dict:
    runbook = (STRATEGIES / name).read_text(encoding="utf-8").strip()
    text = ("# Incident: checkout-api\n\nALERT: checkout-api unhealthy.\n\nFollow this runbook:\n"
            f'<runbook name="{name}">\n{runbook}\n</runbook>\n')
    return {"role": "user", "content": text}


def tool_result_text(output: str, exit_code: int | None) -> str:
    text = output.rstrip("\n")
    if exit_code is not None:
        text += f"\n[The command completed with exit code {exit_code}.]"
    return text


class Conversation:
    """OpenAI chat messages, grown one tool call + tool result at a time."""

    def __init__(self, incident: dict):
        self.messages: list[dict] = [{"role": "system", "content": "You are an SRE agent."}, incident]
        self._ids = 0

    def decide(self):
        return decide(self.messages)

    def call(self, name: str, arguments: dict, output: str, exit_code: int | None = 0,
             as_parts: bool = False) -> None:
        self._ids += 1
        call_id = f"toolu_{self._ids:03d}"
        self.messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments)}}]})
        text = tool_result_text(output, exit_code) if name == "terminal" else output
        content = [{"type": "text", "text": text}] if as_parts else text
        self.messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": content})

    def run(self, command: str, output: str, exit_code: int | None = 0) -> None:
        self.call("terminal", {"command": command, "security_risk": "LOW"}, output, exit_code)

    def answer(self, decision: ToolCall, output: str, exit_code: int | None = 0) -> None:
        """Record the policy's own tool call with its result (as the SDK would)."""
        self.call(decision.name, decision.arguments, output, exit_code)


class PolicyTestCase(unittest.TestCase):
    def assert_terminal(self, decision, command: str, risk: str | None = None) -> ToolCall:
        self.assertIsInstance(decision, ToolCall, decision)
        self.assertEqual(decision.name, "terminal")
        self.assertEqual(decision.arguments["command"], command)
        self.assertTrue(decision.arguments.get("summary"))
        if risk is not None:
            self.assertEqual(decision.arguments["security_risk"], risk, command)
        return decision

    def assert_finish(self, decision, *fragments: str) -> Finish:
        self.assertIsInstance(decision, Finish, decision)
        for fragment in fragments:
            self.assertIn(fragment, decision.message)
        return decision


# --- a simulated target with the real app's health logic -----------------------------------

class SimTarget:
    """A fault-injected service root answering the commands the policy issues."""

    def __init__(self, fault: str | None):
        self._tmp = tempfile.TemporaryDirectory(prefix="policy-sim-")
        self.root = Path(self._tmp.name)
        faults.inject(self.root, fault, scenario_id=SIM_SCENARIO, listen_port=SIM_PORT)
        self.env = {targetctl.ENV_BACKEND: "local", targetctl.ENV_URL: f"http://127.0.0.1:{SIM_PORT}/",
                    targetctl.ENV_ROOT: str(self.root), targetctl.ENV_EXPECTED_PORT: str(SIM_PORT),
                    targetctl.ENV_SCENARIO: SIM_SCENARIO}
        self.restarts = 0
        self._start_app()

    def close(self) -> None:
        self._tmp.cleanup()

    def _start_app(self) -> None:  # what a restart does: re-read the config
        self.config = service_app.load_config(self.root)
        self.client = service_app.create_app(self.root, self.config).test_client()

    def health_reason(self) -> str | None:
        return service_app.health(self.root, self.config)

    def _probe(self, url: str, timeout_s: float = 2.0):
        if self.config.listen_port != SIM_PORT:  # listening elsewhere: the probe port is closed
            return None, "", "[Errno 111] Connection refused"
        response = self.client.get("/", headers={"Accept": "application/json"})
        return response.status_code, response.get_data(as_text=True), None

    def run(self, command: str) -> tuple[str, int]:
        for name, value in self.env.items():  # the agent's shell expands $TARGETCTL_* variables
            command = command.replace("$" + name, value)
        argv = shlex.split(command)
        if argv[:1] != ["targetctl"] or len(argv) < 2:
            return f"bash: {argv[0] if argv else ''}: not simulated", 127
        sub = argv[1]
        if sub in ("status", "info"):
            out = io.StringIO()
            with mock.patch.object(targetctl, "probe", self._probe), contextlib.redirect_stdout(out):
                code = targetctl.main(argv[1:], env=self.env)
            return out.getvalue(), code
        if sub == "restart":
            self.restarts += 1
            self._start_app()
            return f"restarted: app pid {1000 + self.restarts} (was {999 + self.restarts})\n", 0
        if sub == "logs":
            return "2024-01-01 app[999] INFO listening\n", 0
        if sub == "exec":
            proc = subprocess.run(argv[2:], cwd=self.root, capture_output=True, text=True, timeout=10)
            return proc.stdout + proc.stderr, proc.returncode
        return f"targetctl: unknown command {sub}", 2


class SimTestCase(PolicyTestCase):
    def sim(self, fault: str | None) -> SimTarget:
        sim = SimTarget(fault)
        self.addCleanup(sim.close)
        return sim

    def drive(self, conversation: Conversation, sim: SimTarget) -> tuple[list[ToolCall], Finish]:
        """Let the policy act on the simulated target until it finishes (bounded)."""
        calls: list[ToolCall] = []
        for _ in range(MAX_STEPS):
            decision = conversation.decide()
            if isinstance(decision, Finish):
                if decision.message.startswith("Fixed"):
                    self._assert_success_was_checked(conversation)
                return calls, decision
            calls.append(decision)
            self.assertEqual(decision.name, "terminal", decision)
            output, code = sim.run(decision.arguments["command"])
            conversation.answer(decision, output, code)
        self.fail(f"policy did not finish within {MAX_STEPS} steps: {calls}")

    def _assert_success_was_checked(self, conversation: Conversation) -> None:
        """A success claim follows a healthy `targetctl status` (HTTP 200, ok, exit 0)."""
        transcript = read_transcript(conversation.messages)
        last = transcript.steps[-1]
        self.assertEqual(last.command, STATUS)
        self.assertEqual(last.exit_code, 0)
        self.assertIn("HTTP 200", last.output)
        self.assertEqual(first_json_object(last.output)["status"], "ok")

    @staticmethod
    def commands(calls: list[ToolCall]) -> list[str]:
        return [c.arguments["command"] for c in calls]

    def assert_risk_labels(self, calls: list[ToolCall], changing: set[str]) -> None:
        for call in calls:
            command = call.arguments["command"]
            with self.subTest(command=command):
                self.assertEqual(call.arguments["security_risk"],
                                 "MEDIUM" if command in changing else "LOW")


# --- skill runbooks -----------------------------------------------------------------------

class SkillFlowTests(PolicyTestCase):
    def test_injected_skill_starts_with_its_diagnose_command(self) -> None:
        for as_parts in (False, True):
            with self.subTest(content_as_parts=as_parts):
                decision = decide([skill_incident("stale-lockfile", as_parts=as_parts)])
                self.assert_terminal(decision, STALE_DIAG, "LOW")
                self.assertEqual(decision.arguments["summary"], "diagnose")

    def test_without_injection_the_skill_is_invoked_first(self) -> None:
        decision = decide([skill_incident("stale-lockfile", inject=False)])
        self.assertIsInstance(decision, ToolCall)
        self.assertEqual(decision.name, "invoke_skill")
        self.assertEqual(decision.arguments["name"], "stale-lockfile")
        self.assertTrue(decision.arguments["summary"])
        self.assertNotIn("security_risk", decision.arguments)

    def test_invoked_skill_is_then_followed(self) -> None:
        # BUG (policy.py _strategy): once the invoke_skill result is in the history, its body is
        # found in transcript.skill_bodies, so the invoke_skill step is never replayed; the
        # procedure then meets that step where it expects the diagnose command and stops with
        # "the conversation history does not match the runbook".
        conv = Conversation(skill_incident("stale-lockfile", inject=False))
        conv.answer(conv.decide(), SKILLS["stale-lockfile"].body)
        self.assert_terminal(conv.decide(), STALE_DIAG, "LOW")

    def test_injection_of_another_skill_does_not_count(self) -> None:
        incident = skill_incident("stale-lockfile", inject=False)
        incident["content"] += "\n" + extra_info("port-mismatch", "connection refused")
        decision = decide([incident])
        self.assertEqual((decision.name, decision.arguments["name"]), ("invoke_skill", "stale-lockfile"))

    def test_unknown_skill_escalates(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile", inject=False))
        conv.answer(conv.decide(), "Unknown skill 'stale-lockfile'. Available skills: none")
        self.assert_finish(conv.decide(), "Could not load the runbook skill", "stale-lockfile")

    def test_full_fix_and_verify(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        diag = self.assert_terminal(conv.decide(), STALE_DIAG, "LOW")
        conv.answer(diag, json.dumps({"check": "stale-lockfile", "healthy": False, "health": "HTTP 500",
                                      "locks": [{"path": "var/lock/service.lock", "owner_pid": 4242,
                                                 "owner_alive": False, "stale": True}],
                                      "fault_present": True}, indent=2), 0)
        fix = self.assert_terminal(conv.decide(), STALE_FIX, "MEDIUM")
        self.assertTrue(fix.arguments["summary"].startswith("remediate"))
        conv.answer(fix, json.dumps({"removed": ["var/lock/service.lock"], "ok": True}), 0)
        verify = self.assert_terminal(conv.decide(), STATUS, "LOW")
        self.assertEqual(verify.arguments["summary"], "verify")
        conv.answer(verify, HEALTHY_STATUS, 0)
        self.assert_finish(conv.decide(), "Fixed", "HTTP 200")

    def test_fault_absent_finishes_without_remediation(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "locks": [], "fault_present": False}), 0)
        finish = self.assert_finish(conv.decide(), "no fault", "not remediating", "Escalating")
        self.assertNotIn("Fixed", finish.message)
        commands = [s.command for s in read_transcript(conv.messages).steps]
        self.assertEqual(commands, [STALE_DIAG])

    def test_healthy_diagnosis_finishes_with_no_change(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": True, "locks": [], "fault_present": False}), 0)
        self.assert_finish(conv.decide(), "healthy", "no change made")

    def test_failing_remediation_escalates(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
        fix = self.assert_terminal(conv.decide(), STALE_FIX, "MEDIUM")
        conv.answer(fix, json.dumps({"errors": ["var/lock/service.lock"], "ok": False}), 1)
        finish = self.assert_finish(conv.decide(), "Remediation command failed (exit 1)", STALE_FIX,
                                    "Escalating")
        self.assertFalse(finish.message.startswith("Fixed"))

    def test_unhealthy_verify_restarts_once_then_gives_up(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
        conv.answer(conv.decide(), json.dumps({"ok": True}), 0)
        verify = self.assert_terminal(conv.decide(), STATUS, "LOW")
        conv.answer(verify, BROKEN_STATUS, 1)
        restart = self.assert_terminal(conv.decide(), "targetctl restart", "MEDIUM")
        conv.answer(restart, "restarted: app pid 12 (was 11)", 0)
        verify = self.assert_terminal(conv.decide(), STATUS, "LOW")
        conv.answer(verify, BROKEN_STATUS, 1)
        # an incident may have another cause: it looks again before giving up
        again = self.assert_terminal(conv.decide(), STATUS, "LOW")
        conv.answer(again, BROKEN_STATUS, 1)
        finish = self.assert_finish(conv.decide(), "still unhealthy after a restart", "Escalating")
        self.assertFalse(finish.message.startswith("Fixed"))

    def test_restart_then_healthy_is_success(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
        conv.answer(conv.decide(), json.dumps({"ok": True}), 0)
        conv.answer(conv.decide(), "connection failed: [Errno 111] Connection refused", 1)
        conv.answer(self.assert_terminal(conv.decide(), "targetctl restart"), "restarted", 0)
        conv.answer(self.assert_terminal(conv.decide(), STATUS), HEALTHY_STATUS, 0)
        self.assert_finish(conv.decide(), "Fixed")

    def test_success_needs_http_200_ok_and_exit_code_0(self) -> None:
        not_healthy = {
            "exit code 1": (HEALTHY_STATUS, 1),
            "no exit code reported": (HEALTHY_STATUS, None),
            "HTTP 500": (BROKEN_STATUS, 1),
            "status not ok": (status_text(200, {"status": "degraded", "scenario": SIM_SCENARIO}), 0),
            "no JSON body": ("HTTP 200\n<html>ok</html>", 0),
        }
        for label, (output, code) in not_healthy.items():
            with self.subTest(label):
                conv = Conversation(skill_incident("stale-lockfile"))
                conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
                conv.answer(conv.decide(), json.dumps({"ok": True}), 0)
                conv.answer(conv.decide(), output, code)
                self.assert_terminal(conv.decide(), "targetctl restart", "MEDIUM")

    def test_port_mismatch_skill_runs_diagnose_then_both_fix_steps(self) -> None:
        conv = Conversation(skill_incident("port-mismatch"))
        decision = self.assert_terminal(conv.decide(), "python3 .agents/skills/port-mismatch/diagnose.py", "LOW")
        conv.answer(decision, json.dumps({"healthy": False, "fault_present": True}), 0)
        fix = self.assert_terminal(conv.decide(), "python3 .agents/skills/port-mismatch/remediate.py", "MEDIUM")
        conv.answer(fix, json.dumps({"ok": True}), 0)
        self.assert_terminal(conv.decide(), "targetctl restart", "MEDIUM")

    def test_readiness_remediate_script_is_labelled_medium(self) -> None:
        conv = Conversation(skill_incident("readiness-probe-fail"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
        self.assert_terminal(conv.decide(), "python3 .agents/skills/readiness-probe-fail/remediate.py",
                             "MEDIUM")

    def test_tool_results_as_content_parts(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        decision = conv.decide()
        conv.call(decision.name, decision.arguments,
                  tool_result_text(json.dumps({"healthy": True}), 0), as_parts=True)
        self.assert_finish(conv.decide(), "healthy")


class ReplayTests(PolicyTestCase):
    def test_decide_is_pure(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
        before = copy.deepcopy(conv.messages)
        first, second = conv.decide(), conv.decide()
        self.assertEqual(first, second)
        self.assertEqual(conv.messages, before)

    def test_history_that_diverges_from_the_runbook_stops(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.run("targetctl exec rm -rf var", "", 0)  # not what the runbook says
        finish = self.assert_finish(conv.decide(), "does not match the runbook", STALE_DIAG,
                                    "targetctl exec rm -rf var")
        self.assertFalse(finish.message.startswith("Fixed"))

    def test_history_with_another_tool_stops(self) -> None:
        conv = Conversation(runbook_incident())
        conv.call("file_editor", {"command": "view", "path": "/etc"}, "listing", None)
        self.assert_finish(conv.decide(), "does not match", "file_editor")

    def test_divergence_later_in_the_history(self) -> None:
        conv = Conversation(skill_incident("stale-lockfile"))
        conv.answer(conv.decide(), json.dumps({"healthy": False, "fault_present": True}), 0)
        conv.run("targetctl restart", "restarted", 0)
        self.assert_finish(conv.decide(), "does not match", STALE_FIX)

    def test_results_for_unknown_call_ids_and_bad_arguments_are_tolerated(self) -> None:
        messages = [runbook_incident(),
                    {"role": "tool", "tool_call_id": "nobody", "content": "stray output"}]
        self.assert_terminal(decide(messages), STATUS, "LOW")
        messages += [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "x1", "type": "function", "function": {"name": "terminal", "arguments": "{not json"}}]}]
        self.assert_finish(decide(messages), "does not match")

    def test_last_exit_code_marker_wins(self) -> None:
        conv = Conversation(runbook_incident())
        conv.call("terminal", {"command": STATUS},
                  HEALTHY_STATUS + "note: last run ended with exit code 1\n"
                  "[The command completed with exit code 0.]", None)
        self.assertEqual(read_transcript(conv.messages).steps[0].exit_code, 0)
        self.assert_finish(conv.decide(), "healthy")

    def test_no_strategy_at_all_checks_health(self) -> None:
        decision = decide([{"role": "user", "content": "Is the service ok?"}])
        self.assert_terminal(decision, STATUS, "LOW")
        self.assert_terminal(decide([]), STATUS, "LOW")
        conv = Conversation({"role": "user", "content": "Is the service ok?"})
        conv.answer(decision, status_text(500, {"status": "error", "reason": "mystery"}), 1)
        self.assert_finish(conv.decide(), "Could not determine a safe fix", "mystery")


# --- triage runbooks against a simulated target ---------------------------------------------

class TriageTests(SimTestCase):
    BASE_DIAG = ["targetctl status", "targetctl logs -n 50", "targetctl info",
                 "targetctl exec ls -la var/lock/ var/run/", "targetctl exec cat etc/service.json",
                 "targetctl exec cat etc/service.env", "targetctl exec cat etc/service.env.example"]

    def test_stale_lock_named_in_health_reason_and_listed_is_removed(self) -> None:
        sim = self.sim("stale_lockfile")
        self.assertRegex(sim.health_reason(), r"var/lock/service\.lock")
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        fix = "targetctl exec rm -f var/lock/service.lock"
        # evidence is complete after the listing: no further diagnosis
        self.assertEqual(self.commands(calls), self.BASE_DIAG[:4] + [fix, STATUS])
        self.assertIn("stale lock var/lock/service.lock", calls[4].arguments["summary"])
        self.assert_risk_labels(calls, {fix})
        self.assert_finish(finish, "Fixed", "1 remediation step")
        self.assertIsNone(sim.health_reason())
        self.assertFalse((sim.root / "var/lock/service.lock").exists())

    def test_port_mismatch_is_fixed_with_sed_and_restart(self) -> None:
        sim = self.sim("port_mismatch")
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        commands = self.commands(calls)
        self.assertEqual(commands[:5], self.BASE_DIAG[:5])
        sed, restart = commands[5], commands[6]
        self.assertTrue(sed.startswith("targetctl exec sed -i"), sed)
        self.assertIn(str(SIM_PORT + 1), sed)
        self.assertIn(str(SIM_PORT), sed)
        self.assertEqual(restart, "targetctl restart")
        self.assertEqual(commands[7:], [STATUS])
        self.assert_risk_labels(calls, {sed, restart})
        self.assert_finish(finish, "Fixed", "2 remediation step")
        config = json.loads((sim.root / "etc/service.json").read_text(encoding="utf-8"))
        self.assertEqual(config["listen_port"], SIM_PORT)
        self.assertEqual(sim.restarts, 1)

    def test_missing_setting_is_appended_from_the_example(self) -> None:
        sim = self.sim("bad_env_config")
        self.assertRegex(sim.health_reason(), r"required setting DATABASE_URL")
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        commands = self.commands(calls)
        self.assertEqual(commands[:7], self.BASE_DIAG)
        append, restart = commands[7], commands[8]
        self.assertIn(">> etc/service.env", append)
        self.assertIn("DATABASE_URL", append)
        self.assertEqual(restart, "targetctl restart")
        self.assertEqual(commands[9:], [STATUS])
        self.assert_risk_labels(calls, {append, restart})
        self.assert_finish(finish, "Fixed")
        self.assertIn("DATABASE_URL", faults.read_env(sim.root))
        self.assertIsNone(sim.config.error)

    def test_missing_readiness_flag_is_recreated(self) -> None:
        sim = self.sim("readiness_probe_fail")
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        fix = "targetctl exec touch var/run/ready"
        self.assertEqual(self.commands(calls), self.BASE_DIAG[:4] + [fix, STATUS])
        self.assert_risk_labels(calls, {fix})
        self.assert_finish(finish, "Fixed")
        self.assertTrue((sim.root / "var/run/ready").exists())

    def test_healthy_service_is_left_alone(self) -> None:
        sim = self.sim(None)
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        self.assertEqual(self.commands(calls), [STATUS])
        self.assert_finish(finish, "healthy", "no change made")

    def test_manual_triage_fixes_the_core_faults(self) -> None:
        for fault in ("stale_lockfile", "port_mismatch", "bad_env_config", "readiness_probe_fail"):
            with self.subTest(fault=fault):
                sim = self.sim(fault)
                calls, finish = self.drive(Conversation(runbook_incident("manual_triage.md")), sim)
                self.assert_finish(finish, "Fixed")
                self.assertIsNone(sim.health_reason())
                self.assertTrue(all(c.arguments["security_risk"] in ("LOW", "MEDIUM") for c in calls))

    def test_skill_runbooks_made_of_targetctl_commands_fix_their_fault(self) -> None:
        for skill, fault in (("port-mismatch", "port_mismatch"), ("bad-env-config", "bad_env_config")):
            with self.subTest(skill=skill):
                sim = self.sim(fault)
                calls, finish = self.drive(Conversation(skill_incident(skill)), sim)
                self.assert_finish(finish, "Fixed", f"skill {skill}")
                self.assertIsNone(sim.health_reason())

    def test_no_evidence_means_no_fix(self) -> None:
        conv = Conversation(runbook_incident())
        outputs = {"targetctl status": (status_text(500, {"status": "error", "scenario": SIM_SCENARIO,
                                                          "reason": "upstream dependency timed out"}), 1),
                   "targetctl info": (f"backend: local\nexpected listen port: {SIM_PORT}\n", 0),
                   "targetctl exec cat etc/service.json":
                       (json.dumps({"listen_port": SIM_PORT}, indent=2), 0)}
        for _ in range(MAX_STEPS):
            decision = conv.decide()
            if isinstance(decision, Finish):
                break
            command = decision.arguments["command"]
            self.assertEqual(decision.arguments["security_risk"], "LOW", command)
            conv.answer(decision, *outputs.get(command, ("", 0)))
        self.assert_finish(decision, "Could not determine a safe fix",
                           "upstream dependency timed out", "Escalating")
        self.assertEqual(len(read_transcript(conv.messages).steps), len(self.BASE_DIAG))

    def test_unrecognised_config_error_is_escalated(self) -> None:
        sim = self.sim(None)
        faults.write_env(sim.root, {**faults.read_env(sim.root), "CACHE_TTL_S": "five"})
        sim.run("targetctl restart")
        self.assertIn("not a whole number", sim.health_reason())
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        self.assert_finish(finish, "Could not determine a safe fix", "CACHE_TTL_S=five")
        self.assertTrue(all(c.arguments["security_risk"] == "LOW" for c in calls))

    def test_lock_held_by_a_running_owner_is_not_removed(self) -> None:
        # BUG (findings.py Findings.generic_fix): any *.lock path in the health reason plus a
        # listing that shows it is taken as "stale lock ... confirmed", even when the app reports
        # the owner is alive ("held by pid N (another instance is running)").
        sim = self.sim("stale_lockfile")
        (sim.root / "var/lock/service.lock").write_text(f"{os.getppid()}\n", encoding="utf-8")
        self.assertIn("another instance is running", sim.health_reason())
        calls, finish = self.drive(Conversation(runbook_incident()), sim)
        self.assertNotIn("targetctl exec rm -f var/lock/service.lock", self.commands(calls))
        self.assertTrue((sim.root / "var/lock/service.lock").exists())


# --- findings against the real health reasons ------------------------------------------------

class RealHealthReasonTests(SimTestCase):
    """The findings regexes must match what target_service/app.py really says."""

    def _findings_after_status(self, sim: SimTarget) -> Findings:
        output, code = sim.run("targetctl status")
        findings = Findings()
        findings.update("targetctl status", output, code)
        return findings

    def test_fault_reasons_are_understood(self) -> None:
        expected = {"stale_lockfile": "var/lock/service.lock", "readiness_probe_fail": "var/run/ready",
                    "bad_env_config": "DATABASE_URL"}
        for fault, needle in expected.items():
            with self.subTest(fault=fault):
                sim = self.sim(fault)
                findings = self._findings_after_status(sim)
                self.assertIs(findings.healthy, False)
                self.assertEqual(findings.reason, sim.health_reason())
                self.assertIn(needle, findings.reason)
                self.assertFalse(findings.connection_failed)

    def test_port_mismatch_evidence(self) -> None:
        sim = self.sim("port_mismatch")
        findings = Findings()
        for command in ("targetctl status", "targetctl info", "targetctl exec cat etc/service.json"):
            findings.update(command, *sim.run(command))
        self.assertTrue(findings.connection_failed)
        self.assertIs(findings.healthy, False)
        self.assertEqual(findings.expected_port, SIM_PORT)
        self.assertEqual(findings.listen_port, SIM_PORT + 1)
        commands, why = findings.generic_fix()
        self.assertEqual(commands[-1], "targetctl restart")
        self.assertIn(str(SIM_PORT + 1), why)

    def test_env_files_are_read(self) -> None:
        sim = self.sim("bad_env_config")
        findings = Findings()
        for command in ("targetctl exec cat etc/service.env", "targetctl exec cat etc/service.env.example"):
            findings.update(command, *sim.run(command))
        self.assertEqual(findings.env_keys, {"CACHE_TTL_S"})
        self.assertEqual(set(findings.example_env), {"DATABASE_URL", "CACHE_TTL_S"})

    def test_healthy_status(self) -> None:
        sim = self.sim(None)
        self.assertIs(self._findings_after_status(sim).healthy, True)


class FindingsUnitTests(unittest.TestCase):
    def test_first_json_object(self) -> None:
        self.assertEqual(first_json_object('HTTP 500\n{"a": {"b": 1}} {"c": 2}'), {"a": {"b": 1}})
        self.assertEqual(first_json_object('noise {not json} then {"ok": true}'), {"ok": True})
        self.assertIsNone(first_json_object("no braces"))
        self.assertIsNone(first_json_object("{unterminated"))

    def test_shows_healthy(self) -> None:
        ok = '{"status": "ok"}'
        self.assertTrue(shows_healthy("targetctl status", "HTTP 200\n" + ok, 0))
        self.assertFalse(shows_healthy("targetctl status", "HTTP 200\n" + ok, 1))
        self.assertFalse(shows_healthy("targetctl status", "HTTP 200\n" + ok, None))
        self.assertFalse(shows_healthy("targetctl status", "connection failed", 1))
        self.assertTrue(shows_healthy("python3 diagnose.py", '{"healthy": true}', 0))
        self.assertFalse(shows_healthy("python3 diagnose.py", '{"healthy": false}', 0))
        self.assertIsNone(shows_healthy("python3 diagnose.py", '{"healthy": "yes"}', 0))
        self.assertIsNone(shows_healthy("targetctl exec cat x", ok, 0))

    def test_readiness_flag_present_in_listing_is_not_touched(self) -> None:
        findings = Findings(reason="readiness flag var/run/ready is missing; service is not ready")
        findings.update("targetctl exec ls -la var/run",
                        "total 4\n-rw-r--r-- 1 root root 6 Jan  1 00:00 ready\n", 0)
        self.assertIsNone(findings.generic_fix())

    def test_lock_not_in_listing_is_not_removed(self) -> None:
        findings = Findings(reason="stale lock file var/lock/service.lock held by pid 9 which is not running")
        self.assertIsNone(findings.generic_fix())  # no listing yet
        findings.update("targetctl exec ls -la var/lock", "total 0\n", 0)
        self.assertIsNone(findings.generic_fix())

    def test_same_ports_are_not_a_mismatch(self) -> None:
        findings = Findings(connection_failed=True, expected_port=80, listen_port=80)
        self.assertIsNone(findings.generic_fix())


if __name__ == "__main__":
    unittest.main()
