"""The run's target: the backend's create_target options and the start with retries."""

from __future__ import annotations

import time
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.incident_plan import IncidentPlan
from openhands_driver.records import RunResult


def start_with_retries(config: RunConfig, plan: IncidentPlan, target, result: RunResult, console):
    """Start the target; a TargetError (a transient start failure) is retried with a fresh target
    up to ``config.retries`` times, waiting ``retry_backoff_s`` * 2**n, each retry recorded."""
    from openhands_driver.target import TargetError, create_target

    for attempt in range(config.retries + 1):
        try:
            target.start()
            return target
        except TargetError as exc:
            if attempt >= config.retries:
                if attempt:  # a retry's own target: the caller only cleans up the first one
                    target.cleanup()
                raise
            wait = round(config.retry_backoff_s * 2 ** attempt, 3)
            result.retries.append({"what": "target", "attempt": attempt + 1, "attempts": config.retries + 1,
                                   "error": str(exc)[:300], "wait_s": wait})
            print(f"[runner] target start failed ({exc}); retry {attempt + 1} of {config.retries} in {wait}s",
                  file=console, flush=True)
            target.cleanup()
            time.sleep(wait)
            target = create_target(config.backend, scenario_id=plan.incident.instance,
                                   fault=plan.incident.fault, **target_options(config, plan))
    return target


def target_options(config: RunConfig, plan: IncidentPlan) -> dict:
    """Backend-specific create_target arguments (docker: run id labels, image, attach mode;
    local: attach mode)."""
    options = {"port": config.target_port}
    if config.backend == "docker":
        options.update(run_id=plan.run_id, image=config.runtime_image,
                       container=config.target_container, url=config.target_url)
    elif config.target_root is not None:
        options.update(root=Path(config.target_root), attach=True, url=config.target_url)
    elif config.keep_target or config.pause_after_diagnosis:  # crash safety: a kept target outlives us
        options["keep"] = True
    options.update(config.target_options or {})  # e.g. the worker backend's worker
    if config.target_root is None and config.target_container is None:
        options["fault_params"] = plan.incident.params  # the variant: which file, flag, value...
        if len(plan.incident.injections) > 1:  # every injection, applied together
            options["injections"] = plan.incident.injections
    return options
