"""The runbook policy: a deterministic stand-in for the model.

It is a pure function of the conversation it is sent (OpenAI chat messages), like a model: it
reads the incident message's strategy, the skill content the SDK delivered (trigger injection or an
``invoke_skill`` result) and every tool result so far, and returns the next tool call or the final
message. The procedure below is written as straight-line code and *replayed* against the tool
results already in the conversation, so each request resumes exactly where the last one stopped.
Nothing here knows which scenario runs; a success claim is only made after a health check it ran
came back healthy (and the runner's verifier checks independently anyway).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field

from openhands_driver.brain import api_steps
from openhands_driver.brain.findings import Findings, first_json_object, shows_healthy
from openhands_driver.brain.runbook import Runbook, parse_runbook

SKILL_MARKER = re.compile(r"^Runbook skill:\s*([a-z0-9-]+)\s*$", re.MULTILINE)
STRATEGY_BLOCK = re.compile(r"<runbook[^>]*>\n?(.*?)</runbook>", re.DOTALL)
EXIT_CODE = re.compile(r"exit code[:\s]+(-?\d+)", re.IGNORECASE)
DEFAULT_VERIFY = ("targetctl status",)
API_VERIFY = ("GET /ops/health?wait_s=10",)  # --toolset api: no terminal, the platform API only
API_RESTART = "POST /ops/restart"


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict


@dataclass(frozen=True)
class Finish:
    message: str


@dataclass
class Step:
    tool: str
    arguments: dict
    output: str = ""
    exit_code: int | None = None

    @property
    def command(self) -> str:
        return str(self.arguments.get("command", ""))


@dataclass
class Transcript:
    """What the policy can see: the incident message, injected skills and tool steps."""

    user_text: str = ""
    system_text: str = ""
    steps: list[Step] = field(default_factory=list)
    injected_skills: dict[str, str] = field(default_factory=dict)  # <EXTRA_INFO> on a trigger match
    api: bool = False  # the tools offered are the platform API's, no terminal (--toolset api)

    def catalog(self) -> dict[str, str]:
        """The skills the system prompt lists (<available_skills>): name -> description."""
        block = re.search(r"<available_skills>(.*?)</available_skills>", self.system_text, re.DOTALL)
        found = {}
        for skill in re.findall(r"<skill>(.*?)</skill>", block.group(1) if block else "", re.DOTALL):
            name = re.search(r"<name>\s*(.*?)\s*</name>", skill, re.DOTALL)
            description = re.search(r"<description>\s*(.*?)\s*</description>", skill, re.DOTALL)
            if name:
                found[html.unescape(name.group(1))] = html.unescape(description.group(1)) if description else ""
        return found




def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))


def _skill_blocks(text: str) -> dict[str, str]:
    """Skill bodies the SDK injected (<EXTRA_INFO> on a trigger match) keyed by skill folder."""
    found = {}
    for block in re.findall(r"<EXTRA_INFO>(.*?)</EXTRA_INFO>", text, re.DOTALL):
        location = re.search(r"skills/([a-z0-9-]+)/SKILL\.md", block)
        if location:
            found[location.group(1)] = block
    return found


def read_transcript(messages: list[dict]) -> Transcript:
    transcript = Transcript()
    by_id: dict[str, Step] = {}
    for message in messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role == "system":
            transcript.system_text += text + "\n"
        elif role == "user":
            transcript.user_text += text + "\n"
            transcript.injected_skills.update(_skill_blocks(text))
        elif role == "assistant":
            for call in message.get("tool_calls") or []:
                fn = call.get("function", {})
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = {}
                step = Step(tool=fn.get("name", ""), arguments=args)
                by_id[call.get("id", "")] = step
                transcript.steps.append(step)
        elif role == "tool":
            step = by_id.get(message.get("tool_call_id", ""))
            if step is None:
                continue
            step.output = text
            codes = EXIT_CODE.findall(text)
            step.exit_code = int(codes[-1]) if codes else None
            if not codes and step.tool not in ("terminal", "invoke_skill"):  # an API tool's HTTP status
                step.exit_code = api_steps.exit_code(text)
    return transcript


class _Emit(Exception):
    def __init__(self, decision: ToolCall | Finish):
        self.decision = decision


class _Replay:
    """Feeds recorded tool results back into the procedure; emits the first new action."""

    def __init__(self, steps: list[Step], api: bool = False):
        self._steps = steps
        self._cursor = 0
        self.api = api

    def call(self, name: str, arguments: dict, summary: str) -> Step:
        if self._cursor < len(self._steps):
            step = self._steps[self._cursor]
            self._cursor += 1
            if step.tool != name or (name == "terminal" and step.command != arguments["command"]):
                raise _Emit(Finish("Stopping: the conversation history does not match the runbook "
                                   f"being followed (expected {name} {arguments}, found "
                                   f"{step.tool} {step.arguments})."))
            return step
        args = dict(arguments)
        args.setdefault("summary", summary)
        if name == "terminal":
            args.setdefault("security_risk", _risk_label(arguments["command"]))
        raise _Emit(ToolCall(name, args))

    def seen_output(self) -> str:
        """The outputs of the steps replayed so far (what the procedure knows at this point)."""
        return "\n".join(step.output for step in self._steps[:self._cursor])

    def outputs(self) -> list[str]:
        return [step.output for step in self._steps[:self._cursor]]

    def run(self, command: str, summary: str) -> Step:
        if not self.api:
            return self.call("terminal", {"command": command}, summary)
        line = api_steps.resolve(command, self.outputs())
        if line is None:
            self.finish(f"Stopping: the runbook step {command!r} needs a value no output so far "
                        "has. Escalating." + _report(None))
        name, arguments = api_steps.to_call(line)
        return self.call(name, arguments, summary)

    def finish(self, message: str):
        raise _Emit(Finish(message))


def _risk_label(command: str) -> str:
    """The label the policy claims, as a model would (the runner's own policy decides risk)."""
    words = command.split()
    mutating = {"rm", "touch", "sed", "mkdir", "restart", "sh", "mv", "cp", "chmod", "tee"}
    if any(word in mutating for word in words) or ">>" in command or "remediate.py" in command:
        return "MEDIUM"
    return "LOW"


def signals(description: str) -> list[str]:
    """The phrases after ``Signals:`` in a skill description (``;``-separated)."""
    _, found, tail = description.partition("Signals:")
    return [p.strip().strip(".").strip() for p in tail.split(";") if p.strip().strip(".")] if found else []


def rank_skills(catalog: dict[str, str], evidence: str) -> list[tuple[str, list[str]]]:
    """Skills whose signals appear in the evidence, best first: (name, signals found)."""
    lowered = evidence.lower()
    ranked = []
    for name, description in catalog.items():
        hits = [sig for sig in signals(description) if sig.lower() in lowered]
        if hits:
            ranked.append((name, hits))
    return sorted(ranked, key=lambda item: (-len(item[1]), -sum(map(len, item[1])), item[0]))


def _load_skill(name: str, transcript: Transcript, replay: _Replay) -> Runbook | None:
    body = transcript.injected_skills.get(name)
    if body is None:
        loaded = replay.call("invoke_skill", {"name": name}, f"load the {name} runbook skill")
        if "Unknown skill" in loaded.output or not loaded.output.strip():
            return None
        body = loaded.output
    return parse_runbook(body, "api" if replay.api else "shell")


def _report(diagnosis: dict | None) -> str:
    """The structured diagnosis block the standing orders ask for."""
    block = diagnosis or {"fault_class": "unknown", "entity": "", "evidence": []}
    return "\n```json\n" + json.dumps(block) + "\n```"


def _reports(work: "_Work") -> str:
    """One diagnosis block per cause found (the last one is the latest diagnosis)."""
    found = [d for d in work.diagnoses if d != work.diagnosis] + ([work.diagnosis] if work.diagnosis else [])
    return "".join(_report(d) for d in found) if found else _report(None)


@dataclass
class _Work:
    """What the procedure learned so far."""

    findings: Findings = field(default_factory=Findings)
    diagnosis: dict | None = None
    absent: list[str] = field(default_factory=list)  # runbooks whose diagnosis found nothing
    fixed: list[str] = field(default_factory=list)  # runbooks whose fix was applied
    diagnoses: list[dict] = field(default_factory=list)  # every cause found, in order


def _diagnose(runbook: Runbook, source: str, work: _Work, replay: _Replay) -> bool:
    """Run a runbook's diagnose steps. False when they report that its fault is absent."""
    if replay.api and not runbook.diagnose:  # a runbook with no API steps cannot work this incident
        work.absent.append(source)
        return False
    for command in runbook.diagnose:
        if replay.api and api_steps.is_directive(command):
            outputs = replay.outputs()
            if command.startswith("report "):
                found = api_steps.report(command, outputs)
                if found:
                    work.diagnosis = found
                    if found not in work.diagnoses:
                        work.diagnoses.append(found)
                continue
            if not api_steps.check(command, outputs):
                work.absent.append(source)
                return False
            continue
        step = replay.run(command, f"diagnose ({source})")
        if replay.api and step.exit_code not in (0, None):  # the platform has no such thing here
            work.absent.append(source)
            return False
        work.findings.update(command, step.output, step.exit_code)
        body = first_json_object(step.output) or {}
        if isinstance(body.get("diagnosis"), dict):
            work.diagnosis = body["diagnosis"]
            if body["diagnosis"] not in work.diagnoses:
                work.diagnoses.append(body["diagnosis"])
        if work.findings.fault_reported_absent or body.get("fault_present") is False:
            work.findings.fault_reported_absent = False
            work.absent.append(source)
            return False
    return True


def _remediate_and_verify(runbook: Runbook, source: str, work: _Work, replay: _Replay,
                          more_to_try: bool = False) -> None:
    """Apply a runbook's fix and verify. Healthy -> finish. Still unhealthy -> finish (escalate),
    unless `more_to_try`: then return, so the caller gathers again and tries the next matching
    skill (an incident may have more than one cause)."""
    fix, why = list(runbook.remediate), f"remediation steps of the {source}"
    if not fix:  # the brain knows no fix of its own: only what a runbook it was given says
        replay.finish("No runbook I was given explains this failure, so I found no safe fix "
                      "(nothing changed). Escalating to a human." + _reports(work))
    applied = 0
    for command in fix:
        step = replay.run(command, f"remediate: {why}")
        if step.exit_code not in (0, None):
            if more_to_try and applied:  # the fix went in; what fails now (e.g. the restart) may be
                break                    # another cause: verify, then look again
            replay.finish(f"Remediation command failed (exit {step.exit_code}): {command}. "
                          "Escalating." + _reports(work))
        applied += 1
    work.fixed.append(source)
    verify = runbook.verify or (API_VERIFY if replay.api else DEFAULT_VERIFY)
    for attempt in range(2):
        results = [replay.run(command, "verify") for command in verify]
        if any(shows_healthy(c, s.output, s.exit_code) for c, s in zip(verify, results)):
            replay.finish(f"Fixed: applied the remediation of {', '.join(work.fixed)}; the health "
                          "check now returns HTTP 200 with status ok." + _reports(work))
        if attempt == 0:
            replay.run(API_RESTART if replay.api else "targetctl restart", "restart once before giving up")
    if more_to_try:
        return
    replay.finish("Remediation applied but the service is still unhealthy after a restart. "
                  "Escalating." + _reports(work))


def _follow(name: str, transcript: Transcript, work: _Work, replay: _Replay,
            more_to_try: bool = False) -> bool:
    """Load a skill and work it. Returns False when its diagnosis found its fault absent, True
    when its fix was applied but the service is still unhealthy (only with `more_to_try`)."""
    runbook = _load_skill(name, transcript, replay)
    if runbook is None:
        replay.finish(f"Could not load the runbook skill {name!r}; escalating to a human."
                      + _report(None))
    if _diagnose(runbook, f"skill {name}", work, replay):
        _remediate_and_verify(runbook, f"skill {name}", work, replay, more_to_try)
        return True
    return False


MAX_CANDIDATES = 3
MAX_ROUNDS = 3  # gather -> rank -> fix rounds: an incident may have several causes


def _gather(runbook: Runbook, work: _Work, replay: _Replay, why: str) -> str:
    """Run the triage runbook's diagnose commands; finish when the service is healthy. Returns
    what they printed (the evidence to rank skills by)."""
    outputs = []
    for command in runbook.diagnose:  # gather symptoms
        step = replay.run(command, why)
        work.findings.update(command, step.output, step.exit_code)
        outputs.append(step.output)
        if work.findings.healthy:
            if work.fixed:
                replay.finish(f"Fixed: applied the remediation of {', '.join(work.fixed)}; the "
                              "health check now returns HTTP 200 with status ok." + _reports(work))
            replay.finish("The service is healthy (HTTP 200, status ok); no fault found, no change "
                          "made." + _report({"fault_class": "healthy", "entity": "",
                                             "evidence": [line.strip() for line in step.output.splitlines()
                                                          if "HTTP" in line or '"status"' in line][:2]}))
    return "\n".join(outputs)


def _procedure(transcript: Transcript, replay: _Replay) -> None:
    work = _Work()
    tried: set[str] = set()
    marker = SKILL_MARKER.search(transcript.user_text)
    if marker:  # the runner routed a skill: follow it
        tried.add(marker.group(1))
        if not _follow(marker.group(1), transcript, work, replay, more_to_try=True):
            replay.finish(f"Diagnosis with the skill {marker.group(1)} found no fault of that kind; not "
                          f"remediating. Last health reason: {work.findings.reason or 'unknown'}. "
                          "Escalating." + _report(None))
    block = STRATEGY_BLOCK.search(transcript.user_text)
    for name in ([] if block else transcript.injected_skills):  # no checklist: the skills the SDK
        if name in tried:                                        # injected (a trigger in the alert)
            continue
        tried.add(name)
        _follow(name, transcript, work, replay, more_to_try=True)
    dialect = "api" if replay.api else "shell"
    runbook = (parse_runbook(block.group(1), dialect) if block
               else Runbook(diagnose=("GET /ops/status",) if replay.api else ("targetctl status",)))
    source = "runbook in the incident message" if block else "no runbook"
    evidence = _gather(runbook, work, replay, "triage: gather symptoms")
    first_round = not work.fixed
    for _round in range(MAX_ROUNDS):
        catalog = {name: text for name, text in transcript.catalog().items()  # injected ones: already
                   if name not in tried and (not first_round or name not in transcript.injected_skills)}
        # first round: everything seen so far (as before); later rounds: only the fresh evidence
        ranked = [name for name, _hits in rank_skills(
            catalog, replay.seen_output() if first_round else evidence)]
        preferred = [name for name in runbook.skills if name in ranked]  # the runbook's own order first
        # With a checklist, the symptoms are gathered first; injected skills are then the first
        # candidates (their trigger was in the alert).
        injected = [n for n in transcript.injected_skills if n not in tried] if first_round else []
        candidates = (injected + preferred + [n for n in ranked if n not in preferred])[:MAX_CANDIDATES]
        fixed_one = False
        for name in candidates:
            tried.add(name)
            if _follow(name, transcript, work, replay, more_to_try=True):
                fixed_one = True
                tried.discard(name)  # the same kind of cause may be there twice (e.g. two flags)
                break
        if not fixed_one:
            break
        first_round = False  # a fix left it unhealthy: look again, try the next matching skill
        evidence = _gather(runbook, work, replay, "triage: gather symptoms again after a fix")
    if work.fixed:
        replay.finish("Remediation applied (" + ", ".join(work.fixed) + ") but the service is still "
                      "unhealthy after a restart and no other runbook matches. Escalating."
                      + _reports(work))
    if work.absent:
        replay.finish("The runbooks that matched the symptoms (" + ", ".join(work.absent) + ") found "
                      "no fault of their kind; not remediating. Escalating." + _report(None))
    _remediate_and_verify(runbook, source, work, replay)


def decide(messages: list[dict], tools: list[dict] | None = None) -> ToolCall | Finish:
    """The next action for a conversation (OpenAI chat messages; ``tools``: the tools offered,
    as a model sees them: without a terminal but with call_ops_endpoint, the runbooks' API
    sections are followed)."""
    transcript = read_transcript(messages)
    names = {(t.get("function") or {}).get("name") for t in tools or [] if isinstance(t, dict)}
    transcript.api = "call_ops_endpoint" in names and "terminal" not in names
    replay = _Replay(transcript.steps, api=transcript.api)
    try:
        _procedure(transcript, replay)
    except _Emit as emitted:
        return emitted.decision
    return Finish("Runbook finished.")
