"""Run the gate: the stages in order against a :class:`GateTarget`, each timed and classified, logs
captured, every artifact redacted and written to the run's folder. A library call the CLI, a TUI
or a dashboard can make (``on_stage`` reports live status)."""

from __future__ import annotations

import io
import logging
import time
import traceback
from pathlib import Path
from typing import Callable

from openhands_driver.trace import redact, utc_now

from .classify import classify
from .profiles import GateTarget
from .runs import GateReport, StageResult, new_run_id, runs_dir, write_run
from .stages import CORE, OPT_IN, STAGES, NotApplicable

LOGGERS = ("", "openhands", "LiteLLM", "litellm", "httpx")


def stage_list(opt_in: list[str] | None = None) -> list[str]:
    """A, B, C plus the requested stage-D gates (``["D"]`` means all of them)."""
    extra = []
    for item in opt_in or []:
        item = item.upper()
        extra.extend(OPT_IN if item == "D" else [item])
    unknown = [s for s in extra if s not in OPT_IN]
    if unknown:
        from openhands_driver.errors import UserError

        raise UserError(f"unknown stage {', '.join(unknown)}; valid: D (all) or {', '.join(OPT_IN)}")
    return [*CORE, *dict.fromkeys(extra)]


def run_gate(target: GateTarget, stages: list[str] | None = None, *, base_dir: Path | None = None,
             on_stage: Callable[[StageResult], None] | None = None) -> GateReport:
    import os

    from openhands_driver.conversation import prepare_sdk_env

    os.environ.setdefault("LOG_LEVEL", "INFO")  # the run's raw log wants the SDK's info lines
    prepare_sdk_env()
    import openhands.sdk  # noqa: F401  (its loggers exist, with their propagation, before we attach)

    stages = stages or list(CORE)
    from openhands_driver.model import secret_values

    secrets = [*target.secrets, *secret_values()]  # every key this process knows, not only the run's
    report = GateReport(new_run_id(target.config.model or "model"), target.config.model or "",
                        target.config.base_url, target.profile_name, utc_now())
    ctx = {"profile": dict(target.profile), "api_key": target.config.api_key,
           "timeout_s": target.config.timeout_s,
           "usage": {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}}
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # the root logger, plus the named ones that do not propagate to it (else each line twice)
    attached = [logging.getLogger(name) for name in LOGGERS
                if not name or not logging.getLogger(name).propagate]
    # the run's log gets INFO; the console keeps showing errors only
    quieted = [(h, h.level) for logger in attached for h in logger.handlers]
    for h, _ in quieted:
        h.setLevel(max(h.level, logging.ERROR))
    for logger in attached:
        logger.addHandler(handler)
    try:
        blocked = False
        for stage in stages:
            name, fn = STAGES[stage]
            if blocked:
                result = StageResult(stage, name, "skipped", detail="skipped: an earlier stage failed")
            else:
                buffer.write(f"==== stage {stage}: {name} ({utc_now()})\n")
                result = _run_stage(stage, name, fn, ctx, secrets, buffer)
                blocked = result.status == "fail" and stage in CORE
            report.stages.append(result)
            if on_stage:
                on_stage(result)
    finally:
        for logger in attached:
            logger.removeHandler(handler)
        for h, level in quieted:
            h.setLevel(level)
    report.finished_at = utc_now()
    report.usage = ctx["usage"]
    run_dir = runs_dir(base_dir) / report.run_id
    report.run_dir = str(run_dir)
    write_run(run_dir, report, target.profile, stages, buffer.getvalue(), secrets)
    return report


def _run_stage(stage: str, name: str, fn, ctx: dict, secrets: list[str], log: io.StringIO) -> StageResult:
    started = time.monotonic()
    try:
        detail = fn(ctx)
        result = StageResult(stage, name, "pass", detail=redact(str(detail)[:300], secrets))
    except NotApplicable as exc:
        result = StageResult(stage, name, "n/a", detail=redact(str(exc)[:300], secrets))
    except Exception as exc:  # every failure is recorded, classified and redacted
        verdict = classify(exc)
        log.write("".join(traceback.format_exception(exc)))
        result = StageResult(stage, name, "fail", category=verdict.category, kind=verdict.kind,
                             error=redact(f"{type(exc).__name__}: {str(exc)[:300]}", secrets),
                             evidence=redact(verdict.evidence, secrets), where=verdict.where)
    result.duration_s = round(time.monotonic() - started, 3)
    log.write(f"---- stage {stage}: {result.status} in {result.duration_s}s {result.detail or result.error}\n")
    return result
