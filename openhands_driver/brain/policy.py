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

import json
import re
from dataclasses import dataclass, field

from openhands_driver.brain.findings import Findings, shows_healthy
from openhands_driver.brain.runbook import Runbook, parse_runbook

SKILL_MARKER = re.compile(r"^Runbook skill:\s*([a-z0-9-]+)\s*$", re.MULTILINE)
STRATEGY_BLOCK = re.compile(r"<runbook[^>]*>\n?(.*?)</runbook>", re.DOTALL)
EXIT_CODE = re.compile(r"exit code[:\s]+(-?\d+)", re.IGNORECASE)
DEFAULT_VERIFY = ("targetctl status",)


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
    steps: list[Step] = field(default_factory=list)
    injected_skills: dict[str, str] = field(default_factory=dict)  # <EXTRA_INFO> on a trigger match


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
        if role == "user":
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
    return transcript


class _Emit(Exception):
    def __init__(self, decision: ToolCall | Finish):
        self.decision = decision


class _Replay:
    """Feeds recorded tool results back into the procedure; emits the first new action."""

    def __init__(self, steps: list[Step]):
        self._steps = steps
        self._cursor = 0

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

    def run(self, command: str, summary: str) -> Step:
        return self.call("terminal", {"command": command}, summary)

    def finish(self, message: str):
        raise _Emit(Finish(message))


def _risk_label(command: str) -> str:
    """The label the policy claims, as a model would (the runner's own policy decides risk)."""
    words = command.split()
    mutating = {"rm", "touch", "sed", "mkdir", "restart", "sh", "mv", "cp", "chmod", "tee"}
    if any(word in mutating for word in words) or ">>" in command or "remediate.py" in command:
        return "MEDIUM"
    return "LOW"


def _strategy(transcript: Transcript, replay: _Replay) -> tuple[str, Runbook]:
    skill = SKILL_MARKER.search(transcript.user_text)
    if skill:
        name = skill.group(1)
        body = transcript.injected_skills.get(name)
        if body is None:
            loaded = replay.call("invoke_skill", {"name": name}, f"load the {name} runbook skill")
            if "Unknown skill" in loaded.output or not loaded.output.strip():
                replay.finish(f"Could not load the runbook skill {name!r}; escalating to a human.")
            body = loaded.output
        return f"skill {name}", parse_runbook(body)
    block = STRATEGY_BLOCK.search(transcript.user_text)
    if block:
        return "runbook in the incident message", parse_runbook(block.group(1))
    return "no runbook", Runbook(diagnose=("targetctl status",))


def _procedure(transcript: Transcript, replay: _Replay) -> None:
    source, runbook = _strategy(transcript, replay)
    findings = Findings()
    fix: list[str] = list(runbook.remediate)
    why = f"remediation steps of the {source}"
    for command in runbook.diagnose:
        step = replay.run(command, "diagnose")
        findings.update(command, step.output, step.exit_code)
        if findings.healthy:
            replay.finish("The service is healthy (HTTP 200, status ok); no fault found, no change made.")
        if findings.fault_reported_absent:
            replay.finish(f"Diagnosis with the {source} found no fault of that kind; not remediating. "
                          f"Last health reason: {findings.reason or 'unknown'}. Escalating.")
        if not runbook.remediate and findings.generic_fix():
            break
    if not fix:
        generic = findings.generic_fix()
        if generic is None:
            replay.finish("Could not determine a safe fix from the evidence "
                          f"(health reason: {findings.reason or 'unknown'}). Escalating to a human.")
        fix, why = generic
    for command in fix:
        step = replay.run(command, f"remediate: {why}")
        if step.exit_code not in (0, None):
            replay.finish(f"Remediation command failed (exit {step.exit_code}): {command}. Escalating.")
    verify = runbook.verify or DEFAULT_VERIFY
    for attempt in range(2):
        results = [replay.run(command, "verify") for command in verify]
        if any(shows_healthy(s.command, s.output, s.exit_code) for s in results):
            replay.finish(f"Fixed: applied {len(fix)} remediation step(s) ({why}); "
                          "the health check now returns HTTP 200 with status ok.")
        if attempt == 0:
            replay.run("targetctl restart", "restart once before giving up")
    replay.finish("Remediation applied but the service is still unhealthy after a restart. Escalating.")


def decide(messages: list[dict]) -> ToolCall | Finish:
    """The next action for a conversation (OpenAI chat messages)."""
    transcript = read_transcript(messages)
    replay = _Replay(transcript.steps)
    try:
        _procedure(transcript, replay)
    except _Emit as emitted:
        return emitted.decision
    return Finish("Runbook finished.")
