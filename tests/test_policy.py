"""openhands_driver.brain.policy: the deterministic runbook brain on blind incidents.

``decide(messages)`` is a pure function of OpenAI chat messages, so every test builds a synthetic
conversation the way the SDK would: a system prompt with an ``<available_skills>`` block (skills with
``Signals:`` phrases), the incident message (a symptom-level alert plus a triage runbook in
``<runbook>`` tags, a routed ``Runbook skill:`` marker, or an SDK-injected ``<EXTRA_INFO>`` skill), then
assistant tool calls and tool results. ``World`` answers the policy's commands from a script (what
``targetctl status``/``logs``/``info`` and the skills' scripts print), so each test states exactly what
evidence the brain saw. The skills here are synthetic: the tests do not depend on the shipped
SKILL.md texts (those have their own tests). One class drives the brain against a real healthy
LocalTarget.
"""

from __future__ import annotations

import contextlib
import io
import json
import unittest
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from openhands_driver.brain.findings import first_json_object, shows_healthy
from openhands_driver.brain.policy import (MAX_CANDIDATES, Finish, ToolCall, decide, rank_skills,
                                           read_transcript, signals)
from openhands_driver.proof.diagnosis import parse_diagnosis

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = REPO / "training_data" / "strategies"
MAX_STEPS = 30
FENCE = "```"
STATUS = "targetctl status"
LOGS = "targetctl logs -n 60"
INFO = "targetctl info"
INSTANCE = "i-0123456789ab"

# --- a synthetic skill catalog ------------------------------------------------------------------

DESCRIPTIONS = {
    "lock-skill": "Requests fail because a lock file left by a dead process blocks the service. "
                  "Signals: cannot acquire lock; held by pid",
    "flag-skill": "Requests fail because a failure-mode flag is switched on. "
                  "Signals: evaluated to variant; flag source",
    "release-skill": "The service never starts because its current release cannot run. "
                     "Signals: exec format error; release manifest",
    "quiet-skill": "A skill without signal phrases is never ranked.",
}


def diag_cmd(skill: str) -> str:
    return f"python3 .agents/skills/{skill}/diagnose.py"


def fix_cmd(skill: str) -> str:
    return f"python3 .agents/skills/{skill}/remediate.py"


def skill_body(skill: str, *, remediate: bool = True, restart: bool = False) -> str:
    fix = [fix_cmd(skill)] + (["targetctl restart"] if restart else [])
    parts = [f"# {skill}", "", "Prose for a model.", "", "## Diagnose", f"{FENCE}bash", diag_cmd(skill),
             FENCE, ""]
    if remediate:
        parts += ["## Remediate", f"{FENCE}bash", *fix, FENCE, ""]
    parts += ["## Verify", f"{FENCE}bash", STATUS, FENCE]
    return "\n".join(parts) + "\n"


BODIES = {name: skill_body(name) for name in DESCRIPTIONS}


def system_prompt(catalog: dict[str, str] | None) -> str:
    """The SDK's system prompt, reduced to what the brain reads: the skill list."""
    if catalog is None:  # baseline: the agent gets no skills at all
        return "You are an SRE agent."
    skills = "".join(f"  <skill>\n    <name>{escape(n)}</name>\n    <description>{escape(d)}"
                     "</description>\n  </skill>\n" for n, d in catalog.items())
    return f"You are an SRE agent.\n<available_skills>\n{skills}</available_skills>\n"


def triage(diagnose: list[str], skills: list[str] | None = None) -> str:
    """A triage runbook: Diagnose commands, optionally a ``## Skills`` preference list."""
    parts = ["# Triage", "", "## Diagnose", f"{FENCE}bash", *diagnose, FENCE, ""]
    if skills is not None:
        parts += ["## Skills", *[f"- {s}" for s in skills], ""]
    parts += ["## Verify", f"{FENCE}bash", STATUS, FENCE]
    return "\n".join(parts) + "\n"


DEFAULT_TRIAGE = triage([STATUS, LOGS])


def blind_incident(runbook: str | None = DEFAULT_TRIAGE, extra: str = "") -> dict:
    text = ("# Incident: Alert: checkout\n\ncheckout: HTTP 5xx ratio 100% for 5m\n\n"
            "Runbook skills are available (see the skill list; load one with invoke_skill once the "
            "evidence points to it).\n\n")
    if runbook is not None:
        text += f'Follow this runbook:\n<runbook name="triage.md">\n{runbook}</runbook>\n'
    return {"role": "user", "content": text + extra}


def routed_incident(skill: str) -> dict:
    return {"role": "user", "content": (
        "# Incident: checkout-api down\n\nPAGE: health check failing.\n\n"
        f"Runbook skill: {skill}\n(Routing: scenario maps to skill {skill}. Load it with "
        "invoke_skill if it is not shown below.)\n")}


def extra_info(skill: str, body: str, trigger: str = "lock") -> str:
    """The block the SDK injects into the user message when a skill trigger matches."""
    return (f"<EXTRA_INFO>\nThe following information has been included based on a keyword match "
            f"for \"{trigger}\".\nIt may or may not be relevant to the user's request.\n\n"
            f"Skill location: /ws/.agents/skills/{skill}/SKILL.md\n"
            f"(Use this path to resolve relative file references in the skill content below)\n\n"
            f"{body}\n</EXTRA_INFO>")


# --- tool outputs -------------------------------------------------------------------------------

def status_text(code: int, body: dict) -> str:
    """What `targetctl status` prints for an HTTP answer."""
    return f"HTTP {code}\n{json.dumps(body, indent=2)}\n"


BROKEN = status_text(503, {"status": "error", "instance": INSTANCE, "error": "Service Unavailable"})
HEALTHY = status_text(200, {"status": "ok", "instance": INSTANCE})
QUIET_LOGS = "2026-11-29 10:00:00 INFO quotes[812]: started, listening on 127.0.0.1:59501\n"


def log_lines(*errors: str) -> str:
    return QUIET_LOGS + "".join(f"2026-11-29 10:00:0{i} ERROR quotes[812]: {e}\n"
                                for i, e in enumerate(errors, 1))


LOCK_LOGS = log_lines("cannot acquire lock var/lock/quotes/instance.lock: held by pid 4242")
FLAG_LOGS = log_lines("flag 'cartFailure' evaluated to variant 'on' (flag source etc/flags.json)")


def diagnosis(fault_class: str, entity: str) -> dict:
    return {"fault_class": fault_class, "entity": entity, "evidence": [f"{entity} is bad"]}


def present(fault_class: str, entity: str, **details) -> str:
    return json.dumps({"fault_present": True, "diagnosis": diagnosis(fault_class, entity), **details})


def absent(**details) -> str:
    return json.dumps({"fault_present": False, **details})


def tool_result_text(output: str, exit_code: int | None) -> str:
    text = output.rstrip("\n")
    if exit_code is not None:
        text += f"\n[The command completed with exit code {exit_code}.]"
    return text


@dataclass
class World:
    """Scripted answers: command -> (output, exit code); remediation commands heal the service."""

    outputs: dict[str, tuple[str, int]] = field(default_factory=dict)
    heals: set[str] = field(default_factory=set)       # commands that fix the service
    bodies: dict[str, str] = field(default_factory=lambda: dict(BODIES))  # invoke_skill answers
    healthy: bool = False
    ran: list[str] = field(default_factory=list)

    def run(self, command: str) -> tuple[str, int]:
        self.ran.append(command)
        if command == STATUS:
            return (HEALTHY, 0) if self.healthy else (BROKEN, 1)
        if command in self.heals:
            self.healthy = True
            return json.dumps({"ok": True}), 0
        return self.outputs.get(command, ("", 0))

    def invoke(self, name: str) -> str:
        if name in self.bodies:
            return self.bodies[name]
        return f"Unknown skill '{name}'. Available skills: {', '.join(sorted(self.bodies))}."


class Conversation:
    """OpenAI chat messages, grown one tool call + tool result at a time."""

    def __init__(self, incident: dict, catalog: dict[str, str] | None = DESCRIPTIONS):
        self.messages: list[dict] = [{"role": "system", "content": system_prompt(catalog)}, incident]
        self._ids = 0

    def decide(self):
        return decide(self.messages)

    def call(self, name: str, arguments: dict, output: str, exit_code: int | None = 0) -> None:
        self._ids += 1
        call_id = f"toolu_{self._ids:03d}"
        self.messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments)}}]})
        text = tool_result_text(output, exit_code) if name == "terminal" else output
        self.messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": text})

    def run(self, command: str, output: str, exit_code: int | None = 0) -> None:
        self.call("terminal", {"command": command, "security_risk": "LOW"}, output, exit_code)

    def answer(self, decision: ToolCall, output: str, exit_code: int | None = 0) -> None:
        """Record the policy's own tool call with its result (as the SDK would)."""
        self.call(decision.name, decision.arguments, output, exit_code)


class PolicyTestCase(unittest.TestCase):
    def drive(self, conversation: Conversation, world: World) -> tuple[list[ToolCall], Finish]:
        """Let the policy act until it finishes (bounded). Every request is also checked to be a pure
        function of the messages: deciding twice on the same history gives the same answer."""
        calls: list[ToolCall] = []
        for _ in range(MAX_STEPS):
            decision = conversation.decide()
            self.assertEqual(decision, decide(json.loads(json.dumps(conversation.messages))))
            if isinstance(decision, Finish):
                if decision.message.startswith("Fixed"):
                    self.assert_success_was_checked(conversation)
                return calls, decision
            calls.append(decision)
            if decision.name == "invoke_skill":
                conversation.answer(decision, world.invoke(decision.arguments["name"]), None)
            else:
                self.assertEqual(decision.name, "terminal", decision)
                output, code = world.run(decision.arguments["command"])
                conversation.answer(decision, output, code)
        self.fail(f"policy did not finish within {MAX_STEPS} steps: {calls}")

    def assert_success_was_checked(self, conversation: Conversation) -> None:
        """A success claim follows a healthy `targetctl status` (HTTP 200, ok, exit 0)."""
        last = read_transcript(conversation.messages).steps[-1]
        self.assertEqual((last.command, last.exit_code), (STATUS, 0))
        self.assertEqual(first_json_object(last.output)["status"], "ok")

    @staticmethod
    def trail(calls: list[ToolCall]) -> list[str]:
        """The calls as readable strings: commands, or ``invoke <name>``."""
        return [c.arguments["command"] if c.name == "terminal" else f"invoke {c.arguments['name']}"
                for c in calls]

    def assert_report(self, finish: Finish, fault_class: str, entity: str = "") -> dict:
        """The finish message ends with the JSON diagnosis block the standing orders ask for."""
        self.assertIsInstance(finish, Finish, finish)
        self.assertIn("```json", finish.message)
        block = finish.message.rsplit("```json", 1)[1]
        self.assertTrue(block.strip().endswith("```"), finish.message)
        reported = parse_diagnosis(finish.message)
        self.assertIsNotNone(reported, finish.message)
        self.assertEqual(reported["fault_class"], fault_class)
        self.assertEqual(reported["entity"], entity)
        self.assertEqual(json.loads(block.strip().removesuffix("```"))["fault_class"], fault_class)
        return reported


# --- signal ranking -----------------------------------------------------------------------------

class SignalTests(unittest.TestCase):
    def test_signals_are_the_phrases_after_the_marker(self) -> None:
        self.assertEqual(signals(DESCRIPTIONS["lock-skill"]), ["cannot acquire lock", "held by pid"])
        self.assertEqual(signals("No marker here; a; b"), [])
        self.assertEqual(signals("Text. Signals: one; two.; ; three."), ["one", "two", "three"])

    def test_rank_by_hits_then_length_then_name(self) -> None:
        catalog = {"a": "x. Signals: alpha; beta", "b": "x. Signals: alpha", "c": "x. Signals: gamma",
                   "d": "x. Signals: alphabet"}
        evidence = "ALPHA beta alphabet"  # case-insensitive substrings
        self.assertEqual(rank_skills(catalog, evidence),
                         [("a", ["alpha", "beta"]), ("d", ["alphabet"]), ("b", ["alpha"])])
        self.assertEqual(rank_skills(catalog, "nothing relevant"), [])

    def test_ties_are_broken_by_name_deterministically(self) -> None:
        catalog = {"zeta": "x. Signals: boom", "alpha": "x. Signals: bang"}
        self.assertEqual([n for n, _ in rank_skills(catalog, "boom bang")], ["alpha", "zeta"])
        reversed_catalog = dict(reversed(list(catalog.items())))
        self.assertEqual(rank_skills(catalog, "boom bang"), rank_skills(reversed_catalog, "boom bang"))

    def test_catalog_is_read_from_the_system_prompt(self) -> None:
        transcript = read_transcript([{"role": "system", "content": system_prompt(
            {"a-b": "Uses <tags> & ampersands. Signals: x < y"})}])
        self.assertEqual(transcript.catalog(), {"a-b": "Uses <tags> & ampersands. Signals: x < y"})
        self.assertEqual(read_transcript([{"role": "system", "content": "no skills"}]).catalog(), {})


class TriageToSkillTests(PolicyTestCase):
    def test_triage_gathers_then_the_matching_skill_fixes(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0),
                               diag_cmd("lock-skill"): (present("stale_lockfile",
                                                                "var/lock/quotes/instance.lock"), 0)},
                      heals={fix_cmd("lock-skill")})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertEqual(self.trail(calls), [STATUS, LOGS, "invoke lock-skill", diag_cmd("lock-skill"),
                                             fix_cmd("lock-skill"), STATUS])
        self.assertTrue(finish.message.startswith("Fixed"), finish.message)
        self.assert_report(finish, "stale_lockfile", "var/lock/quotes/instance.lock")

    def test_risk_labels_and_summaries(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0), diag_cmd("lock-skill"): (present("c", "e"), 0)},
                      heals={fix_cmd("lock-skill")})
        calls, _ = self.drive(Conversation(blind_incident()), world)
        for call in calls:
            self.assertTrue(call.arguments.get("summary"), call)
            if call.name == "terminal":
                expected = "MEDIUM" if call.arguments["command"] == fix_cmd("lock-skill") else "LOW"
                self.assertEqual(call.arguments["security_risk"], expected, call)

    def test_the_best_ranked_skill_is_tried_first(self) -> None:
        logs = log_lines("flag 'x' evaluated to variant 'on' (flag source etc/f.json)",
                         "cannot acquire lock var/lock/a.lock")  # flag: 2 signals, lock: 1
        world = World(outputs={LOGS: (logs, 0), diag_cmd("flag-skill"): (present("feature_flag", "x"), 0)},
                      heals={fix_cmd("flag-skill")})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertEqual(self.trail(calls)[2:4], ["invoke flag-skill", diag_cmd("flag-skill")])
        self.assert_report(finish, "feature_flag", "x")

    def test_signals_only_count_from_gathered_outputs_not_the_alert(self) -> None:
        # The alert and the runbook prose name signal phrases: they are not evidence.
        runbook = triage([STATUS]).replace("# Triage", "# Triage (watch for: cannot acquire lock)")
        incident = blind_incident(runbook, extra="Note: held by pid 1 is common.\n")
        calls, finish = self.drive(Conversation(incident), World())
        self.assertEqual(self.trail(calls), [STATUS])
        self.assertIn("Escalating", finish.message)
        self.assert_report(finish, "unknown")

    def test_ranking_is_replay_deterministic_later_outputs_do_not_reorder(self) -> None:
        # The first candidate's diagnose output mentions the release skill's signals: the candidate
        # order was fixed from the triage outputs, so the next candidate is still the flag skill.
        logs = log_lines("cannot acquire lock var/lock/a.lock: held by pid 7",
                         "flag 'y' evaluated to variant 'on'")
        noisy_absent = absent(note="release manifest ok; exec format error not seen")
        world = World(outputs={LOGS: (logs, 0), diag_cmd("lock-skill"): (noisy_absent, 0),
                               diag_cmd("flag-skill"): (present("feature_flag", "y"), 0)},
                      heals={fix_cmd("flag-skill")})
        conversation = Conversation(blind_incident())
        calls, finish = self.drive(conversation, world)
        self.assertEqual(self.trail(calls), [STATUS, LOGS, "invoke lock-skill", diag_cmd("lock-skill"),
                                             "invoke flag-skill", diag_cmd("flag-skill"),
                                             fix_cmd("flag-skill"), STATUS])
        self.assert_report(finish, "feature_flag", "y")
        # Replaying any prefix of the finished conversation gives the call that followed it.
        for cut in range(2, len(conversation.messages), 2):
            decision = decide(conversation.messages[:cut])
            following = conversation.messages[cut]["tool_calls"][0]["function"]
            self.assertIsInstance(decision, ToolCall)
            self.assertEqual((decision.name, json.loads(following["arguments"])),
                             (following["name"], decision.arguments))

    def test_fault_absent_tries_the_next_candidate(self) -> None:
        logs = log_lines("cannot acquire lock var/lock/a.lock: held by pid 7",
                         "flag 'y' evaluated to variant 'on'", "release manifest r-12 unreadable")
        world = World(outputs={LOGS: (logs, 0), diag_cmd("lock-skill"): (absent(), 0),
                               diag_cmd("flag-skill"): (absent(), 0),
                               diag_cmd("release-skill"): (present("bad_release", "r-12"), 0)},
                      heals={fix_cmd("release-skill")})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertEqual([c for c in self.trail(calls) if c.startswith("invoke")],
                         ["invoke lock-skill", "invoke flag-skill", "invoke release-skill"])
        self.assertNotIn(fix_cmd("lock-skill"), world.ran)
        self.assertNotIn(fix_cmd("flag-skill"), world.ran)
        self.assert_report(finish, "bad_release", "r-12")

    def test_every_candidate_absent_escalates_without_remediation(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS + FLAG_LOGS, 0), diag_cmd("lock-skill"): (absent(), 0),
                               diag_cmd("flag-skill"): (absent(), 0)})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertFalse([c for c in world.ran if "remediate" in c or c == "targetctl restart"])
        self.assertIn("skill lock-skill", finish.message)
        self.assertIn("skill flag-skill", finish.message)
        self.assertIn("Escalating", finish.message)
        self.assert_report(finish, "unknown")

    def test_at_most_max_candidates_are_tried(self) -> None:
        catalog = {f"s{i}": f"Skill {i}. Signals: marker-{i}" for i in range(MAX_CANDIDATES + 2)}
        logs = log_lines(*[f"marker-{i}" for i in range(MAX_CANDIDATES + 2)])
        world = World(outputs={LOGS: (logs, 0), **{diag_cmd(n): (absent(), 0) for n in catalog}},
                      bodies={n: skill_body(n) for n in catalog})
        calls, _ = self.drive(Conversation(blind_incident(), catalog), world)
        self.assertEqual(len([c for c in calls if c.name == "invoke_skill"]), MAX_CANDIDATES)

    def test_skills_without_signals_are_never_candidates(self) -> None:
        world = World(outputs={LOGS: (log_lines("A skill without signal phrases is never ranked."), 0)})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertNotIn("invoke quiet-skill", self.trail(calls))
        self.assert_report(finish, "unknown")

    def test_a_runbook_without_the_logs_gathers_no_signals(self) -> None:
        # The poor seed of the optimizer: the generic body carries no cause, so nothing is ranked.
        world = World(outputs={LOGS: (LOCK_LOGS, 0), INFO: ("service: quotes\n", 0)})
        calls, finish = self.drive(Conversation(blind_incident(triage([STATUS, INFO]))), world)
        self.assertEqual(self.trail(calls), [STATUS, INFO])
        self.assertIn("No runbook I was given explains this failure", finish.message)
        self.assert_report(finish, "unknown")


class SkillsPreferenceTests(PolicyTestCase):
    LOGS_BOTH = log_lines("cannot acquire lock var/lock/a.lock: held by pid 7",  # lock: 2 signals
                          "flag 'y' evaluated to variant 'on'")                  # flag: 1 signal

    def world(self) -> World:
        return World(outputs={LOGS: (self.LOGS_BOTH, 0), diag_cmd("lock-skill"): (absent(), 0),
                              diag_cmd("flag-skill"): (present("feature_flag", "y"), 0)},
                     heals={fix_cmd("flag-skill")})

    def invoked(self, runbook: str) -> list[str]:
        calls, _ = self.drive(Conversation(blind_incident(runbook)), self.world())
        return [c.arguments["name"] for c in calls if c.name == "invoke_skill"]

    def test_without_preference_the_signal_ranking_decides(self) -> None:
        self.assertEqual(self.invoked(triage([STATUS, LOGS])), ["lock-skill", "flag-skill"])

    def test_the_runbooks_skills_list_comes_first_when_its_signals_match(self) -> None:
        self.assertEqual(self.invoked(triage([STATUS, LOGS], ["flag-skill", "lock-skill"])),
                         ["flag-skill"])

    def test_a_preferred_skill_whose_signals_did_not_match_is_not_tried(self) -> None:
        self.assertEqual(self.invoked(triage([STATUS, LOGS], ["release-skill", "flag-skill"])),
                         ["flag-skill"])

    def test_preferred_names_unknown_to_the_catalog_are_ignored(self) -> None:
        self.assertEqual(self.invoked(triage([STATUS, LOGS], ["no-such-skill"])),
                         ["lock-skill", "flag-skill"])


class EscalationTests(PolicyTestCase):
    def test_baseline_without_skills_escalates_with_no_fix(self) -> None:
        runbook = (STRATEGIES / "baseline_triage.md").read_text(encoding="utf-8")
        world = World(outputs={LOGS: (LOCK_LOGS, 0)})
        calls, finish = self.drive(Conversation(blind_incident(runbook), catalog=None), world)
        self.assertTrue(all(c.name == "terminal" for c in calls))
        self.assertFalse([c for c in world.ran if not c.startswith("targetctl ")
                          or c.split()[1] not in ("status", "logs", "info", "exec")])
        self.assertFalse([c for c in world.ran if c.startswith("targetctl exec")
                          and c.split()[2] not in ("ls", "cat")])
        self.assertIn("No runbook I was given explains this failure", finish.message)
        self.assertIn("nothing changed", finish.message)
        self.assert_report(finish, "unknown")

    def test_no_runbook_at_all_checks_health_then_escalates(self) -> None:
        calls, finish = self.drive(Conversation(blind_incident(None), catalog=None), World())
        self.assertEqual(self.trail(calls), [STATUS])
        self.assert_report(finish, "unknown")

    def test_a_skill_without_remediation_escalates_with_its_diagnosis(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0), diag_cmd("lock-skill"): (present("c", "e"), 0)})
        world.bodies["lock-skill"] = skill_body("lock-skill", remediate=False)
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertEqual(self.trail(calls)[-1], diag_cmd("lock-skill"))
        self.assertIn("Escalating", finish.message)
        self.assert_report(finish, "c", "e")

    def test_failing_remediation_escalates(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0), diag_cmd("lock-skill"): (present("c", "e"), 0),
                               fix_cmd("lock-skill"): ('{"ok": false}', 1)})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertIn("Remediation command failed (exit 1)", finish.message)
        self.assertEqual(self.trail(calls)[-1], fix_cmd("lock-skill"))
        self.assert_report(finish, "c", "e")

    def test_still_unhealthy_restarts_once_then_gives_up(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0), diag_cmd("lock-skill"): (present("c", "e"), 0),
                               fix_cmd("lock-skill"): ('{"ok": true}', 0)})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        trail = self.trail(calls)
        restart = trail.index("targetctl restart")
        self.assertEqual(trail[restart - 1:restart + 2], [STATUS, "targetctl restart", STATUS])
        # another cause may be there: it gathers the symptoms again before giving up
        self.assertEqual(trail[restart + 2:restart + 4], [STATUS, LOGS])
        self.assertIn("still unhealthy", finish.message)
        self.assert_report(finish, "c", "e")

    def test_unknown_skill_escalates(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0)}, bodies={})
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertEqual(self.trail(calls), [STATUS, LOGS, "invoke lock-skill"])
        self.assertIn("Could not load the runbook skill 'lock-skill'", finish.message)
        self.assert_report(finish, "unknown")

    def test_empty_skill_answer_escalates(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0)}, bodies={"lock-skill": "   "})
        _, finish = self.drive(Conversation(blind_incident()), world)
        self.assertIn("Could not load", finish.message)


class HealthyTests(PolicyTestCase):
    def test_healthy_service_is_left_alone(self) -> None:
        world = World(outputs={LOGS: (LOCK_LOGS, 0)}, healthy=True)
        calls, finish = self.drive(Conversation(blind_incident()), world)
        self.assertEqual(self.trail(calls), [STATUS])  # stops gathering at the first healthy check
        self.assertIn("healthy", finish.message)
        self.assertIn("no change made", finish.message)
        reported = self.assert_report(finish, "healthy")
        self.assertTrue(any("status" in e for e in reported["evidence"]))

    def test_http_200_without_status_ok_or_exit_0_is_not_healthy(self) -> None:
        self.assertTrue(shows_healthy(STATUS, HEALTHY, 0))
        self.assertFalse(shows_healthy(STATUS, HEALTHY, 1))
        self.assertFalse(shows_healthy(STATUS, status_text(200, {"status": "degraded"}), 0))
        self.assertFalse(shows_healthy(STATUS, BROKEN, 1))
        self.assertIsNone(shows_healthy(LOGS, HEALTHY, 0))
        self.assertTrue(shows_healthy("python3 x/diagnose.py", '{"healthy": true}', 0))


class RoutedAndInjectedTests(PolicyTestCase):
    def test_routed_skill_is_invoked_and_followed(self) -> None:
        world = World(outputs={diag_cmd("lock-skill"): (present("stale_lockfile", "a.lock"), 0)},
                      heals={fix_cmd("lock-skill")})
        calls, finish = self.drive(Conversation(routed_incident("lock-skill")), world)
        self.assertEqual(self.trail(calls), ["invoke lock-skill", diag_cmd("lock-skill"),
                                             fix_cmd("lock-skill"), STATUS])
        self.assert_report(finish, "stale_lockfile", "a.lock")

    def test_routed_skill_absent_escalates_without_trying_others(self) -> None:
        world = World(outputs={diag_cmd("lock-skill"): (absent(), 0)})
        calls, finish = self.drive(Conversation(routed_incident("lock-skill")), world)
        self.assertEqual(self.trail(calls), ["invoke lock-skill", diag_cmd("lock-skill")])
        self.assertIn("found no fault of that kind", finish.message)
        self.assert_report(finish, "unknown")

    def test_injected_skill_is_followed_without_invoking_it(self) -> None:
        incident = blind_incident(extra=extra_info("lock-skill", BODIES["lock-skill"]))
        world = World(outputs={diag_cmd("lock-skill"): (present("c", "e"), 0)},
                      heals={fix_cmd("lock-skill")})
        calls, finish = self.drive(Conversation(incident), world)
        # The checklist gathers the symptoms first; the injected skill is the first candidate.
        self.assertEqual(self.trail(calls), [STATUS, LOGS, diag_cmd("lock-skill"), fix_cmd("lock-skill"),
                                             STATUS])
        self.assert_report(finish, "c", "e")
        no_checklist = blind_incident(runbook=None, extra=extra_info("lock-skill", BODIES["lock-skill"]))
        calls, finish = self.drive(Conversation(no_checklist), world)
        self.assertEqual(self.trail(calls), [diag_cmd("lock-skill"), fix_cmd("lock-skill"), STATUS])

    def test_injected_skill_absent_falls_back_to_triage_and_is_not_ranked_again(self) -> None:
        incident = blind_incident(extra=extra_info("lock-skill", BODIES["lock-skill"]))
        world = World(outputs={diag_cmd("lock-skill"): (absent(), 0), LOGS: (LOCK_LOGS + FLAG_LOGS, 0),
                               diag_cmd("flag-skill"): (present("feature_flag", "y"), 0)},
                      heals={fix_cmd("flag-skill")})
        calls, finish = self.drive(Conversation(incident), world)
        self.assertEqual(self.trail(calls), [STATUS, LOGS, diag_cmd("lock-skill"), "invoke flag-skill",
                                             diag_cmd("flag-skill"), fix_cmd("flag-skill"), STATUS])
        self.assert_report(finish, "feature_flag", "y")

    def test_injection_as_content_parts(self) -> None:
        text = blind_incident()["content"]
        incident = {"role": "user", "content": [{"type": "text", "text": text}, {
            "type": "text", "text": extra_info("lock-skill", BODIES["lock-skill"])}]}
        self.assertEqual(Conversation(incident).decide().arguments["command"], STATUS)  # checklist first
        self.assertIn("lock-skill", read_transcript([incident]).injected_skills)


class ReplayTests(PolicyTestCase):
    def test_history_that_diverges_from_the_runbook_stops(self) -> None:
        conversation = Conversation(blind_incident())
        conversation.run("targetctl exec rm -rf var", "", 0)  # not what the runbook says: data only
        decision = conversation.decide()
        self.assertIsInstance(decision, Finish)
        self.assertIn("does not match the runbook", decision.message)

    def test_history_with_another_tool_stops(self) -> None:
        conversation = Conversation(blind_incident())
        conversation.call("file_editor", {"command": "view", "path": "/"}, "listing")
        self.assertIn("does not match", conversation.decide().message)

    def test_results_for_unknown_call_ids_and_bad_arguments_are_tolerated(self) -> None:
        messages = Conversation(blind_incident()).messages + [
            {"role": "tool", "tool_call_id": "nope", "content": "orphan"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "terminal", "arguments": "{bad"}}]}]
        self.assertEqual(len(read_transcript(messages).steps), 1)
        self.assertIsInstance(decide(messages), Finish)

    def test_last_exit_code_marker_wins(self) -> None:
        conversation = Conversation(blind_incident())
        conversation.run(STATUS, HEALTHY.rstrip() + "\n[The command completed with exit code 1.]", 0)
        step = read_transcript(conversation.messages).steps[0]
        self.assertEqual(step.exit_code, 0)

    def test_tool_results_as_content_parts(self) -> None:
        conversation = Conversation(blind_incident())
        conversation.run(STATUS, BROKEN, 1)
        conversation.messages[-1]["content"] = [{"type": "text", "text": conversation.messages[-1]["content"]}]
        self.assertEqual(conversation.decide().arguments["command"], LOGS)


class RealHealthyTargetTests(PolicyTestCase):
    """The brain against a real healthy LocalTarget: real `targetctl status` output, no change."""

    def test_healthy_local_target_is_left_alone(self) -> None:
        from openhands_driver import targetctl
        from openhands_driver.target.local import LocalTarget

        target = LocalTarget(scenario_id="inst-healthy", fault=None)
        self.addCleanup(target.cleanup)
        target.start()
        conversation = Conversation(blind_incident(
            (STRATEGIES / "baseline_triage.md").read_text(encoding="utf-8")))
        for _ in range(5):
            decision = conversation.decide()
            if isinstance(decision, Finish):
                break
            self.assertEqual(decision.name, "terminal")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = targetctl.main(decision.arguments["command"].split()[1:], env=target.control_env())
            conversation.answer(decision, out.getvalue(), code)
        self.assertIsInstance(decision, Finish)
        self.assertEqual(len(read_transcript(conversation.messages).steps), 1)
        self.assert_report(decision, "healthy")


if __name__ == "__main__":
    unittest.main()
