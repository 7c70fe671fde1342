"""Operator handoff: pause a run after its diagnosis, resume the same conversation later.

- ``--pause-after-diagnosis``: the run keeps its target (running, still broken), its workspace and
  the SDK's persisted conversation (``persistence_dir`` + ``conversation_id``) in a state directory
  ``artifacts/runs/state/<run_id>/`` and stops before the first change the agent proposes (an
  action of risk MEDIUM or higher that the gates would allow): status ``paused``, exit code 3. The
  state directory holds :data:`PAUSE_FILE`: everything a resume needs (the incident and its ground
  truth, the target, the snapshot taken before the agent, the proposed actions).
- ``--resume-from RUN_ID|DIR`` (+ ``--note``): :func:`load_for_resume` finds that state, refuses a
  run resumed before, a different ``--scenario`` and a target that is gone (UserError, exit 2), and
  :func:`claim` marks it resumed (an exclusive file, so two resumes cannot both start). The new run
  restores the conversation, approves the proposed actions, shows the agent the operator's note,
  verifies as usual, and records ``resumed_from``; it stops the kept target at its end.

Local backend only (a Docker target would be kept the same way; not wired yet).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openhands_driver.errors import UserError
from openhands_driver.paths import ARTIFACTS_DIR

STATE_ROOT = ARTIFACTS_DIR / "runs" / "state"
PAUSE_FILE = "pause.json"
CLAIM_FILE = "resumed.json"
EXIT_PAUSED = 3


@dataclass
class PauseRecord:
    run_id: str
    scenario: str
    conversation_id: str
    state_dir: str
    workspace: str
    persistence_dir: str
    target: dict[str, Any]                    # backend, root, url, supervisor pid, instance
    incident: dict[str, Any]                  # incident.Incident as a dict (ground truth included)
    snapshot_before: dict[str, str] | None    # collateral: the service root before the agent
    started_at: str
    settings: dict[str, Any] = field(default_factory=dict)   # mode, strategy, blind, seed, brain...
    proposed: list[dict] = field(default_factory=list)       # the actions waiting for the operator
    evidence: list[dict] = field(default_factory=list)       # what the agent ran before the pause

    def to_dict(self) -> dict:
        return asdict(self)


def new_state(run_id: str, root: Path | None = None) -> tuple[Path, str]:
    """A fresh state directory for a run that may pause, and the conversation id it will use."""
    state = Path(root or STATE_ROOT) / run_id
    if state.exists():
        raise UserError(f"{state} already exists: run id {run_id!r} was used before; pass another --run-id")
    (state / "conversation").mkdir(parents=True)
    (state / "workspace").mkdir()
    return state, str(uuid.uuid4())


def write_pause(record: PauseRecord) -> Path:
    path = Path(record.state_dir) / PAUSE_FILE
    tmp = path.with_name(f".{PAUSE_FILE}.tmp")
    tmp.write_text(json.dumps(record.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def resume_command(record: PauseRecord, trace_log: str | None = None) -> str:
    """The exact command that resumes ``record`` (state and trace log where the paused run put them)."""
    import shlex

    from openhands_driver.paths import DEFAULT_TRACE_LOG

    argv = ["uv", "run", "python", "run_demo.py", "--resume-from", record.run_id]
    if Path(record.state_dir).parent.resolve() != STATE_ROOT.resolve():
        argv += ["--state-root", str(Path(record.state_dir).parent)]
    if trace_log and Path(trace_log).resolve() != DEFAULT_TRACE_LOG.resolve():
        argv += ["--trace-log", str(trace_log)]
    return shlex.join(argv) + " --note 'approved: <your note>'"


def _state_dir(ref: str, root: Path | None) -> Path:
    candidate = Path(ref).expanduser()
    if (candidate / PAUSE_FILE).is_file():
        return candidate
    by_id = Path(root or STATE_ROOT) / ref
    if (by_id / PAUSE_FILE).is_file():
        return by_id
    known = sorted(p.parent.name for p in Path(root or STATE_ROOT).glob(f"*/{PAUSE_FILE}"))
    raise UserError(f"--resume-from {ref!r}: no paused run there (no {PAUSE_FILE} in {candidate} or {by_id}). "
                    f"Paused runs: {', '.join(known) or 'none'}")


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def load_for_resume(ref: str, scenario: str | None = None, root: Path | None = None) -> PauseRecord:
    """The paused run ``ref`` (run id or state dir), checked: not resumed before, same scenario, target up."""
    state = _state_dir(ref, root)
    try:
        data = json.loads((state / PAUSE_FILE).read_text(encoding="utf-8"))
        record = PauseRecord(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"--resume-from {ref!r}: {state / PAUSE_FILE} cannot be read ({exc})") from None
    claimed = state / CLAIM_FILE
    if claimed.exists():
        try:
            by = json.loads(claimed.read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError):
            by = "another run"
        raise UserError(f"--resume-from {ref!r}: run {record.run_id} was already resumed by {by}; a paused run "
                        "resumes once. Start a new run for this incident instead")
    if scenario is not None and scenario != record.scenario:
        raise UserError(f"--resume-from {ref!r}: run {record.run_id} is scenario {record.scenario!r}, not "
                        f"{scenario!r}; drop --scenario (the paused run's scenario is used)")
    target = record.target
    root_dir = Path(str(target.get("root") or ""))
    pid = target.get("supervisor_pid") or target.get("pid")
    if not root_dir.is_dir() or not _alive(pid):
        raise UserError(f"--resume-from {ref!r}: the target of run {record.run_id} is gone (service root "
                        f"{root_dir} {'exists' if root_dir.is_dir() else 'missing'}, supervisor pid {pid} "
                        f"{'running' if _alive(pid) else 'not running'}); it cannot be resumed. Start a new run")
    if not Path(record.persistence_dir).is_dir():
        raise UserError(f"--resume-from {ref!r}: the persisted conversation {record.persistence_dir} is missing")
    return record


def claim(record: PauseRecord, run_id: str) -> None:
    """Mark the paused run resumed by ``run_id`` (exclusive: a second resume is refused)."""
    path = Path(record.state_dir) / CLAIM_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise UserError(f"--resume-from {record.run_id}: another resume started at the same time") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"run_id": run_id, "pid": os.getpid()}, handle)


def stop_kept_target(record: PauseRecord) -> None:
    """Stop the service the paused run kept (its supervisor's process group) and remove its root;
    an attached service (not started by the run) is left alone."""
    if record.target.get("owned") is False:
        return
    pid = record.target.get("pid") or record.target.get("supervisor_pid")
    try:
        os.killpg(int(pid), signal.SIGTERM)
    except (TypeError, ValueError, OSError):
        pass
    root = record.target.get("root")
    if root and Path(root).name.startswith("sre-target-"):
        shutil.rmtree(root, ignore_errors=True)


def reject(ref: str, by: str, root: Path | None = None) -> PauseRecord | None:
    """The operator rejected the proposed change: the run is never resumed, its kept target stops."""
    try:
        state = _state_dir(ref, root)
        record = PauseRecord(**json.loads((state / PAUSE_FILE).read_text(encoding="utf-8")))
    except (UserError, OSError, ValueError, TypeError):
        return None
    try:
        claim(record, f"rejected by {by}")
    except UserError:
        return record  # resumed or rejected before: leave its target to that run
    stop_kept_target(record)
    return record


def restore_incident(data: dict):
    from openhands_driver.incident import GroundTruth, Incident

    return Incident(**{**data, "ground_truth": GroundTruth(**data["ground_truth"])})


# --- the runner's side (runner.run_incident calls these at delimited points) ---------------------


def resume_config(config):
    """The resumed run's config: the paused run's incident settings; UserError when it cannot resume."""
    if config.pause_after_diagnosis:
        raise UserError("--resume-from continues a paused run to its end: drop --pause-after-diagnosis")
    record = load_for_resume(config.resume_from, config.scenario, config.state_root)
    settings = record.settings
    config = dataclasses.replace(
        config, scenario=record.scenario, blind=bool(settings.get("blind")),
        variant_seed=settings.get("variant_seed"), mode=settings.get("mode", config.mode),
        strategy_source=settings.get("strategy_source", config.strategy_source),
        skill_id=settings.get("skill_id"), backend="local", target_root=None, target_url=None,
        target_container=None, keep_target=config.keep_target)
    return config, record


def conversation_fields(config, plan, paused_run, result):
    """The conversation's handoff fields (ConversationSpec) and the state dir of a run that may pause."""
    if paused_run is not None:
        claim(paused_run, plan.run_id)  # exclusive: a second resume is refused (exit 2)
        result.resumed_from, result.conversation_id = paused_run.run_id, paused_run.conversation_id
        if paused_run.settings.get("attached"):  # a service somebody else provisioned: no ground truth
            result.ground_truth = None
        return ({"persistence_dir": Path(paused_run.persistence_dir), "conversation_id": paused_run.conversation_id,
                 "resuming": True, "operator_note": config.note}, Path(paused_run.state_dir))
    if not config.pause_after_diagnosis:
        return None, None
    if config.backend != "local" or config.remote_host:
        raise UserError("--pause-after-diagnosis keeps a local target for the operator: it needs --backend "
                        "local and no --remote-host")
    state_dir, conversation_id = new_state(plan.run_id, config.state_root)
    result.conversation_id = conversation_id
    return ({"persistence_dir": state_dir / "conversation", "conversation_id": conversation_id,
             "pause_after_diagnosis": True}, state_dir)


def record_pause(config, plan, target, result, before, outcome, workspace: Path, state_dir: Path,
                 handoff_spec: dict) -> None:
    """The paused run's result (status paused, evidence, proposed actions, how to resume) and its
    pause.json (everything a resume needs)."""
    result.status, result.service_up = "paused", None
    waiting = {p["command"] for p in outcome.proposed}
    for action in outcome.actions:
        if action.exit_code is None and action.command in waiting:
            action.gate, action.gate_reason = "paused", "awaiting the operator (--resume-from)"
    evidence = [{"command": a.command, "exit_code": a.exit_code, "output": a.output_excerpt[-400:]}
                for a in outcome.actions if a.tool == "terminal" and a.exit_code is not None][-6:]
    described = {**target.describe(), "supervisor_pid": target.status().get("supervisor_pid")}
    record = PauseRecord(
        run_id=plan.run_id, scenario=plan.scenario.scenario_id, conversation_id=handoff_spec["conversation_id"],
        state_dir=str(state_dir), workspace=str(workspace), persistence_dir=str(handoff_spec["persistence_dir"]),
        target=described, incident=dataclasses.asdict(plan.incident), snapshot_before=before,
        started_at=result.started_at, proposed=outcome.proposed, evidence=evidence,
        settings={"mode": config.mode, "strategy_source": config.strategy_source, "skill_id": config.skill_id,
                  "blind": config.blind, "variant_seed": plan.incident.ground_truth.variant_seed,
                  "routing": result.routing, "model": config.model,
                  "attached": not getattr(target, "owned", True)})
    write_pause(record)
    result.pause = {"proposed": outcome.proposed, "evidence": evidence, "state_dir": str(state_dir),
                    "resume_with": resume_command(record, result.trace_log)}
    result.target = {**described, "kept": True, "broken": True,
                     "stop_with": f"kill -TERM -- -{described.get('pid')}"}
