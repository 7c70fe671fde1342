"""Does this model work with our runner? Staged gates, each with pass/fail, duration and an error
capsule (secrets redacted):

A. connectivity and a one-word completion (litellm directly);
B. an SDK conversation with no tool call (the model answers in plain text);
C. tool calling: the agent runs ``echo TOOL_OK`` through the terminal tool and reports it.

A credentials or configuration error is reported as such (``category``), distinct from an SDK or
model incompatibility. Later stages are skipped once one fails.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openhands_driver.model import ModelConfig
from openhands_driver.trace import redact, utc_now

CREDENTIALS, CONFIG, INCOMPATIBLE = "credentials", "config", "incompatibility"


@dataclass
class StageResult:
    stage: str
    name: str
    passed: bool | None  # None: skipped
    duration_s: float = 0.0
    category: str | None = None
    error: str | None = None
    detail: str = ""


@dataclass
class CheckReport:
    model: str
    base_url: str | None
    created_at: str
    stages: list[StageResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.stages)

    def to_dict(self) -> dict:
        return {"model": self.model, "base_url": self.base_url, "created_at": self.created_at,
                "passed": self.passed, "stages": [asdict(s) for s in self.stages]}


def classify(exc: BaseException) -> str:
    name = type(exc).__name__.lower()
    text = str(exc).lower()
    if "authentication" in name or "permissiondenied" in name or " 401" in text or " 403" in text \
            or "api key" in text or "api_key" in text:
        return CREDENTIALS
    if "notfound" in name or "badrequest" in name and "model" in text or "llm provider not provided" in text:
        return CONFIG
    return INCOMPATIBLE


def _capsule(exc: BaseException, secrets: list[str]) -> str:
    return redact(f"{type(exc).__name__}: {str(exc)[:300]}", secrets)


def _stage(report: CheckReport, stage: str, name: str, fn, secrets: list[str]) -> bool:
    if report.stages and not report.stages[-1].passed:
        report.stages.append(StageResult(stage, name, None, detail="skipped: an earlier stage failed"))
        return False
    started = time.monotonic()
    try:
        detail = fn()
        result = StageResult(stage, name, True, detail=redact(str(detail)[:300], secrets))
    except Exception as exc:  # every failure becomes a recorded, redacted capsule
        result = StageResult(stage, name, False, category=classify(exc), error=_capsule(exc, secrets))
    result.duration_s = round(time.monotonic() - started, 3)
    report.stages.append(result)
    return bool(result.passed)


def check_model(config: ModelConfig) -> CheckReport:
    from openhands_driver.conversation import prepare_sdk_env

    prepare_sdk_env()
    secrets = [config.api_key] if config.api_key else []
    report = CheckReport(config.model or "", config.base_url, utc_now())

    def stage_a() -> str:
        import litellm

        litellm.suppress_debug_info = True
        response = litellm.completion(model=config.model, api_key=config.api_key, base_url=config.base_url,
                                      messages=[{"role": "user", "content": "Reply with one word: pong"}],
                                      timeout=config.timeout_s, num_retries=0)
        content = (response.choices[0].message.content or "").strip()
        if not content:
            raise RuntimeError("the model returned an empty completion")
        return content

    def stage_b() -> str:
        outcome = _conversation(config, "Reply with the single word READY and do not use any tool.", [])
        if outcome["status"] != "finished":
            raise RuntimeError(f"conversation ended with status {outcome['status']}: {outcome['error']}")
        return outcome["final"] or "finished"

    def stage_c() -> str:
        outcome = _conversation(config, "Run exactly this command with the terminal tool: echo TOOL_OK "
                                        "then finish, reporting its output.", ["terminal"])
        ran = [o for c, o in outcome["terminal"] if "TOOL_OK" in c and "TOOL_OK" in o]
        if not ran:
            raise RuntimeError(f"no terminal call ran `echo TOOL_OK` (calls: {outcome['terminal'][:3]})")
        return "terminal tool ran echo TOOL_OK"

    _stage(report, "A", "connectivity and one-word completion", stage_a, secrets)
    _stage(report, "B", "conversation without tools", stage_b, secrets)
    _stage(report, "C", "tool calling through the terminal", stage_c, secrets)
    return report


def _conversation(config: ModelConfig, message: str, tools: list[str]) -> dict:
    from openhands.sdk import Agent, Conversation, Tool
    from openhands.sdk.event import ActionEvent, ObservationEvent
    from openhands.tools.terminal import TerminalTool

    from openhands_driver.llm import model_llm

    calls: dict[str, list[str]] = {}
    final: list[str] = []

    def collect(event) -> None:
        if isinstance(event, ActionEvent):
            if event.tool_name == "finish":
                final.append(str(getattr(event.action, "message", "")))
            calls[event.tool_call_id] = [str(getattr(event.action, "command", "")), ""]
        elif isinstance(event, ObservationEvent) and event.tool_call_id in calls:
            calls[event.tool_call_id][1] = getattr(event.observation, "text", "")

    agent = Agent(llm=model_llm(config, usage_id="check"),
                  tools=[Tool(name=TerminalTool.name, params={"terminal_type": "subprocess"})] if tools else [])
    with tempfile.TemporaryDirectory(prefix="llm-check-") as workspace:
        conversation = Conversation(agent=agent, workspace=workspace, callbacks=[collect],
                                    max_iteration_per_run=6, visualizer=None)
        try:
            conversation.send_message(message)
            conversation.run()
            status = str(getattr(conversation.state.execution_status, "value", "")).lower()
        finally:
            conversation.close()
    return {"status": status, "error": None, "final": final[-1] if final else "",
            "terminal": [tuple(v) for v in calls.values() if v[0]]}


def save_report(report: CheckReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"check-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report.to_dict(), indent=2))
    return path
