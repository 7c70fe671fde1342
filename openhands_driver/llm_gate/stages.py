"""The gate's stages as plain SDK code: this file imports only openhands-sdk/-tools and litellm, never
the project, so it is also the body of every run's standalone reproduction script (``repro.py`` =
this source + a ``__main__`` naming the stages and the secret-free profile).

A stage is ``fn(ctx) -> str``: it returns a one-line detail on success and raises on failure.
``NotApplicable`` means the stage does not apply to this model (with the reason). ``ctx`` holds
``profile`` (the SDK's persisted LLM fields, no secret), ``api_key`` (injected at run time),
``timeout_s`` and ``usage`` (a dict the stages add tokens and cost to).

A. connectivity and a one-word completion (litellm directly)
B. an SDK conversation with no tool call
C. tool calling: the agent runs ``echo TOOL_OK`` through the terminal tool
D (opt-in): D1 streaming, D2 persistence and resume, D3 responses API vs chat completions,
   D4 image input (models that claim vision).
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import traceback
import uuid

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

# A 2x2 solid red PNG (stage D4 asks the model its colour).
RED_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==")


class NotApplicable(Exception):
    """The stage does not apply to this model; the message says why."""


def make_llm(ctx: dict, usage_id: str = "check", **overrides):
    """An SDK LLM from the profile, the key injected only now (never written anywhere)."""
    from openhands.sdk import LLM

    data = {**ctx["profile"], **overrides, "usage_id": usage_id}
    data.pop("api_key", None)
    if ctx.get("api_key"):
        data["api_key"] = ctx["api_key"]
    data.setdefault("timeout", ctx.get("timeout_s", 60))
    return LLM.from_persisted(data)


def _add_usage(ctx: dict, llm) -> None:
    usage = ctx.setdefault("usage", {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
    metrics = llm.metrics
    tokens = metrics.accumulated_token_usage
    if tokens is not None:
        usage["input_tokens"] += int(tokens.prompt_tokens or 0)
        usage["output_tokens"] += int(tokens.completion_tokens or 0)
    usage["cost_usd"] = round(usage["cost_usd"] + float(metrics.accumulated_cost or 0.0), 6)


def conversation(ctx: dict, message, *, tools: bool = False, llm=None, persistence_dir=None,
                 conversation_id=None, max_iterations: int = 6) -> dict:
    """Run one SDK conversation; return its status, final message, terminal calls and event count."""
    from openhands.sdk import Agent, Conversation, Tool
    from openhands.sdk.event import ActionEvent, MessageEvent, ObservationEvent
    from openhands.tools.terminal import TerminalTool

    llm = llm or make_llm(ctx)
    calls: dict[str, list[str]] = {}
    final: list[str] = []

    def collect(event) -> None:
        if isinstance(event, ActionEvent):
            if event.tool_name == "finish":
                final.append(str(getattr(event.action, "message", "")))
            calls[event.tool_call_id] = [str(getattr(event.action, "command", "")), ""]
        elif isinstance(event, ObservationEvent) and event.tool_call_id in calls:
            calls[event.tool_call_id][1] = getattr(event.observation, "text", "")
        elif isinstance(event, MessageEvent) and event.source == "agent":
            final.append(" ".join(getattr(c, "text", "") for c in event.llm_message.content))

    agent = Agent(llm=llm, tools=[Tool(name=TerminalTool.name, params={"terminal_type": "subprocess"})]
                  if tools else [])
    with tempfile.TemporaryDirectory(prefix="llm-check-") as workspace:
        kwargs = {}
        if persistence_dir:
            kwargs.update(persistence_dir=str(persistence_dir), conversation_id=conversation_id)
        conv = Conversation(agent=agent, workspace=workspace, callbacks=[collect],
                            max_iteration_per_run=max_iterations, visualizer=None, **kwargs)
        try:
            events_before = len(conv.state.events)
            conv.send_message(message)
            conv.run()
            status = str(getattr(conv.state.execution_status, "value", "")).lower()
        finally:
            conv.close()
            _add_usage(ctx, llm)
    return {"status": status, "final": final[-1] if final else "", "events_before": events_before,
            "terminal": [tuple(v) for v in calls.values() if v[0]]}


def _finished(outcome: dict) -> None:
    if outcome["status"] != "finished":
        raise RuntimeError(f"conversation ended with status {outcome['status']!r} (final: {outcome['final']!r})")


def stage_a(ctx: dict) -> str:
    import litellm

    litellm.suppress_debug_info = True
    profile = ctx["profile"]
    response = litellm.completion(model=profile["model"], api_key=ctx.get("api_key"),
                                  base_url=profile.get("base_url"), timeout=ctx.get("timeout_s", 60),
                                  messages=[{"role": "user", "content": "Reply with one word: pong"}],
                                  num_retries=0)
    usage = ctx.setdefault("usage", {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
    if getattr(response, "usage", None):
        usage["input_tokens"] += int(response.usage.prompt_tokens or 0)
        usage["output_tokens"] += int(response.usage.completion_tokens or 0)
    try:
        usage["cost_usd"] = round(usage["cost_usd"] + float(litellm.completion_cost(response) or 0.0), 6)
    except Exception:  # unknown prices: tokens only
        pass
    content = (response.choices[0].message.content or "").strip()
    if not content:
        raise RuntimeError("the model returned an empty completion")
    return content


def stage_b(ctx: dict) -> str:
    outcome = conversation(ctx, "Reply with the single word READY and do not use any tool.")
    _finished(outcome)
    return outcome["final"] or "finished"


def stage_c(ctx: dict) -> str:
    outcome = conversation(ctx, "Run exactly this command with the terminal tool: echo TOOL_OK "
                                "then finish, reporting its output.", tools=True)
    ran = [o for c, o in outcome["terminal"] if "TOOL_OK" in c and "TOOL_OK" in o]
    if not ran:
        raise RuntimeError(f"no terminal call ran `echo TOOL_OK` (calls: {outcome['terminal'][:3]})")
    return "terminal tool ran echo TOOL_OK"


def stage_d1_streaming(ctx: dict) -> str:
    """The same tool-calling task with streaming on and off: both must work."""
    results = []
    for stream in (True, False):
        chunks: list[str] = []
        llm = make_llm(ctx, usage_id=f"stream-{stream}", stream=stream)
        if stream:
            outcome = _streamed_conversation(ctx, llm, chunks)
        else:
            outcome = conversation(ctx, "Run exactly this command with the terminal tool: echo TOOL_OK "
                                        "then finish, reporting its output.", tools=True, llm=llm)
        if not any("TOOL_OK" in c and "TOOL_OK" in o for c, o in outcome["terminal"]):
            raise RuntimeError(f"stream={stream}: no terminal call ran `echo TOOL_OK` "
                               f"(status {outcome['status']!r}, calls {outcome['terminal'][:3]})")
        if stream and not chunks:
            raise RuntimeError("stream=True: the conversation worked but no streamed chunk arrived")
        results.append(f"stream={stream} ok" + (f" ({len(chunks)} chunks)" if stream else ""))
    return ", ".join(results)


def _streamed_conversation(ctx: dict, llm, chunks: list) -> dict:
    from openhands.sdk import Agent, Conversation, Tool
    from openhands.sdk.event import ActionEvent, ObservationEvent
    from openhands.tools.terminal import TerminalTool

    calls: dict[str, list[str]] = {}

    def collect(event) -> None:
        if isinstance(event, ActionEvent):
            calls[event.tool_call_id] = [str(getattr(event.action, "command", "")), ""]
        elif isinstance(event, ObservationEvent) and event.tool_call_id in calls:
            calls[event.tool_call_id][1] = getattr(event.observation, "text", "")

    agent = Agent(llm=llm, tools=[Tool(name=TerminalTool.name, params={"terminal_type": "subprocess"})])
    with tempfile.TemporaryDirectory(prefix="llm-check-") as workspace:
        conv = Conversation(agent=agent, workspace=workspace, callbacks=[collect], max_iteration_per_run=6,
                            visualizer=None, token_callbacks=[lambda chunk: chunks.append(chunk)])
        try:
            conv.send_message("Run exactly this command with the terminal tool: echo TOOL_OK "
                              "then finish, reporting its output.")
            conv.run()
            status = str(getattr(conv.state.execution_status, "value", "")).lower()
        finally:
            conv.close()
            _add_usage(ctx, llm)
    return {"status": status, "terminal": [tuple(v) for v in calls.values() if v[0]]}


def stage_d2_persistence(ctx: dict) -> str:
    """A conversation persisted to ``persistence_dir``, closed, resumed by id, continued."""
    with tempfile.TemporaryDirectory(prefix="llm-persist-") as store:
        conversation_id = uuid.uuid4()
        first = conversation(ctx, "Remember the word KIWI. Reply with the single word STORED.",
                             persistence_dir=store, conversation_id=conversation_id)
        _finished(first)
        second = conversation(ctx, "Which word did I ask you to remember? Reply with that word only.",
                              persistence_dir=store, conversation_id=conversation_id)
        _finished(second)
        if second["events_before"] == 0:
            raise RuntimeError("the resumed conversation had no events: persistence did not restore it")
        return (f"resumed with {second['events_before']} events; answer after resume: "
                f"{second['final'][:60]!r}")


def stage_d3_responses(ctx: dict) -> str:
    """Chat completions and the responses API, when the model has both."""
    llm = make_llm(ctx)
    claims = llm.capability_overrides.get("supports_responses_api")
    if claims is None:
        claims = llm._model_features().supports_responses_api
    if not claims:
        raise NotApplicable(f"{llm.model} does not offer the responses API (SDK model features)")
    done = []
    for mode in ("chat", "responses"):
        try:
            outcome = conversation(ctx, "Reply with the single word READY and do not use any tool.",
                                   llm=make_llm(ctx, usage_id=f"api-{mode}", api_mode=mode))
        except Exception as exc:
            raise RuntimeError(f"api_mode={mode} failed: {type(exc).__name__}: {str(exc)[:200]}") from exc
        if outcome["status"] != "finished":
            raise RuntimeError(f"api_mode={mode}: conversation ended with status {outcome['status']!r}")
        done.append(f"{mode} ok")
    return ", ".join(done)


def stage_d4_vision(ctx: dict) -> str:
    """A red image in the user message; the model must name the colour."""
    from openhands.sdk import ImageContent, Message, TextContent

    llm = make_llm(ctx)
    if not llm.vision_is_active():
        raise NotApplicable(f"{llm.model} does not claim vision (SDK model features, disable_vision)")
    url = "data:image/png;base64," + base64.b64encode(RED_PNG).decode()
    message = Message(role="user", content=[
        TextContent(text="What is the colour of this image? Reply with one word."),
        ImageContent(image_urls=[url])])
    outcome = conversation(ctx, message, llm=llm)
    _finished(outcome)
    if "red" not in outcome["final"].lower():
        raise RuntimeError(f"the model did not see the image: it answered {outcome['final'][:80]!r}")
    return f"answered {outcome['final'][:40]!r}"


STAGES = {
    "A": ("connectivity and one-word completion", stage_a),
    "B": ("conversation without tools", stage_b),
    "C": ("tool calling through the terminal", stage_c),
    "D1": ("streaming on and off", stage_d1_streaming),
    "D2": ("persistence and resume (persistence_dir)", stage_d2_persistence),
    "D3": ("responses API vs chat completions", stage_d3_responses),
    "D4": ("image input (vision)", stage_d4_vision),
}
CORE, OPT_IN = ("A", "B", "C"), ("D1", "D2", "D3", "D4")


def run_standalone(profile: dict, stages: list[str]) -> int:
    """The reproduction: run ``stages`` in order, print each outcome, exit 1 on the first failure.
    The key comes from ``LLM_API_KEY`` in the environment (never from this file)."""
    ctx = {"profile": profile, "api_key": os.environ.get("LLM_API_KEY") or "sk-no-key-required",
           "timeout_s": int(os.environ.get("LLM_TIMEOUT_S", "60"))}
    for stage in stages:
        name, fn = STAGES[stage]
        try:
            print(f"{stage} PASS {name}: {fn(ctx)}")
        except NotApplicable as exc:
            print(f"{stage} N/A  {name}: {exc}")
        except Exception:
            print(f"{stage} FAIL {name}", file=sys.stderr)
            traceback.print_exc()
            return 1
    return 0
