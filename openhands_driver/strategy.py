"""What the agent is told: the incident message and the strategy inside it.

Strategy sources:
- ``skills`` (optimized mode): the routed runbook skill, delivered by the SDK (trigger injection or
  ``invoke_skill``); the message only names it. No match: the skill catalog plus the triage runbook.
- ``manual``: the hand-tuned triage runbook ``training_data/strategies/manual_triage.md``.
- ``optimizer``: the best candidate saved by ``optimize.py`` (``--optimizer-result``), or an explicit
  candidate text (``RunConfig.strategy_text``, how the optimizer evaluates its candidates).
- baseline mode: the generic triage checklist ``training_data/strategies/baseline_triage.md``.
Runbook texts travel inside ``<runbook>`` tags so a model and the runbook policy read them the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import REPO_ROOT
from openhands_driver.router import RoutingDecision
from openhands_driver.skills import load_skills

STRATEGY_DIR = REPO_ROOT / "training_data" / "strategies"
BASELINE_RUNBOOK = STRATEGY_DIR / "baseline_triage.md"
MANUAL_RUNBOOK = STRATEGY_DIR / "manual_triage.md"
API_RUNBOOK = STRATEGY_DIR / "api_triage.md"  # the triage checklist of --toolset api
TOOLSETS = ("shell", "api")
MODES = ("baseline", "optimized")
STRATEGY_SOURCES = ("skills", "manual", "optimizer")

STANDING_ORDERS = """\
You are the on-call SRE agent for this incident. The affected service is reachable only through
`targetctl` on your terminal: `targetctl status` (health probe), `targetctl info`, `targetctl logs`,
`targetctl restart` and `targetctl exec CMD [ARGS...]` (runs CMD in the service root; relative paths
such as etc/service.json are under that root). Find the root cause from the evidence (logs, config,
process state, recent changes), apply the smallest fix, verify health with `targetctl status`, then
finish with a short report. Act only on this incident's target; change nothing you did not diagnose.
End the report with your diagnosis as one JSON block:
{"fault_class": "<the cause, named as in the runbook you used, or unknown>", "entity": "<the file,
setting, flag, release or schedule at fault>", "evidence": ["<log line or fact>", ...]}"""


API_STANDING_ORDERS = """\
You are the on-call SRE agent for this incident. You have no terminal and no file editor: the
affected service is reachable only through its platform API, with your tools `call_ops_endpoint`
(GET/POST /ops/*: status, health, metrics, config, dependencies, errors, logs, flags, experiments,
releases, deployment; POST changes), `query_logs`, `query_metrics` and `scale_service`; page a human
with `escalate_pagerduty`, and `acknowledge_alert`, `write_incident_report` when useful. Runbook
skills for this mode are the sections marked (API) with `api` blocks: `GET /path`, `POST /path
{json}`, `TOOL name {json}` lines. Find the root cause from the evidence, apply the smallest fix,
verify with GET /ops/health, then finish with a short report. Change nothing you did not diagnose.
End the report with your diagnosis as one JSON block:
{"fault_class": "<the cause, named as in the runbook you used, or unknown>", "entity": "<the file,
setting, flag, release or schedule at fault>", "evidence": ["<log line or fact>", ...]}"""


@dataclass(frozen=True)
class Strategy:
    source: str            # "skills" | "manual" | "baseline" | "optimizer"
    skill_id: str | None   # the routed skill the agent should follow, if any
    runbook_text: str | None  # a runbook the message carries, if any
    runbook_name: str | None
    load_skills: bool      # whether the agent's context gets the project skills


def describe(strategy: Strategy, routing_reason: str) -> str:
    """One line on what the agent is told, for the run's header (never a skill the agent will not get)."""
    if strategy.source == "baseline":
        return f"strategy: baseline generic triage ({strategy.runbook_name}; no skill, no catalog)"
    if strategy.skill_id:
        return f"strategy: follow skill {strategy.skill_id} ({routing_reason})"
    return f"strategy: {strategy.source} runbook {strategy.runbook_name} with the skill catalog"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def choose_strategy(mode: str, strategy_source: str, routing: RoutingDecision, *,
                    strategy_text: str | None = None, optimizer_result: Path | None = None) -> Strategy:
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}. Valid modes: {', '.join(MODES)}")
    if strategy_source not in STRATEGY_SOURCES:
        raise UserError(f"unknown strategy source {strategy_source!r}. "
                        f"Valid sources: {', '.join(STRATEGY_SOURCES)}")
    if mode == "baseline":
        return Strategy("baseline", None, _read(BASELINE_RUNBOOK), BASELINE_RUNBOOK.name, False)
    # Triage runbooks (manual, optimizer) work with the skill catalog: they say what to gather
    # first and which skills to prefer; the skills themselves hold the fixes.
    if strategy_source == "optimizer":  # an explicit candidate text, else the saved best candidate
        if strategy_text is not None:
            return Strategy("optimizer", None, strategy_text.strip(), "optimizer-candidate", True)
        from openhands_driver.optimizer.result import DEFAULT_OPTIMIZER_RESULT, load_best_strategy

        path = Path(optimizer_result or DEFAULT_OPTIMIZER_RESULT)
        return Strategy("optimizer", None, load_best_strategy(path), f"optimizer:{path.name}", True)
    if strategy_source == "manual":
        return Strategy("manual", None, _read(MANUAL_RUNBOOK), MANUAL_RUNBOOK.name, True)
    if routing.skill_id:
        return Strategy("skills", routing.skill_id, None, None, True)
    return Strategy("skills", None, _read(BASELINE_RUNBOOK), BASELINE_RUNBOOK.name, True)


def api_strategy(strategy: Strategy) -> Strategy:
    """The same strategy for --toolset api: a shell triage checklist becomes the API one."""
    if strategy.runbook_name in (BASELINE_RUNBOOK.name, MANUAL_RUNBOOK.name):
        return Strategy(strategy.source, strategy.skill_id, _read(API_RUNBOOK), API_RUNBOOK.name,
                        strategy.load_skills)
    return strategy


def incident_message(title: str, alert: str, strategy: Strategy, routing: RoutingDecision, *,
                     blind: bool = False, toolset: str = "shell") -> str:
    """The first user message. Blind: the alert and the orders only, never the routed skill (the
    SDK injects a skill itself when the alert contains one of its triggers)."""
    orders = API_STANDING_ORDERS if toolset == "api" else STANDING_ORDERS
    parts = [f"# Incident: {title}", "", alert.strip(), "", orders, ""]
    if strategy.skill_id:
        parts += [f"Runbook skill: {strategy.skill_id}",
                  f"(Routing: {routing.reason}. Load it with invoke_skill if it is not shown below.)"]
    else:
        if strategy.load_skills and (blind or strategy.source in ("manual", "optimizer")):
            parts += ["Runbook skills are available (see the skill list; load one with invoke_skill "
                      "once the evidence points to it).", ""]
        elif strategy.load_skills:
            catalog = ", ".join(f"{s.name} ({s.description.split('.')[0]})"
                                for s in load_skills().values())
            parts += [f"No runbook skill matched ({routing.reason}). Skill catalog: {catalog}.", ""]
        parts += ["Follow this runbook:", f'<runbook name="{strategy.runbook_name}">',
                  strategy.runbook_text or "", "</runbook>"]
    return "\n".join(parts) + "\n"
