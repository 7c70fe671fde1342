"""The ``gepa`` optimizer: the real ``gepa.optimize`` over real incident runs.

GEPA evaluates the seed on every scenario (the valset), then iterates: pick a parent from its Pareto
front, run it on a minibatch of scenarios with traces, build the reflective dataset, propose a child
text, run the child on the same minibatch and keep it only when it strictly improves (then score it on
the full valset; results already measured on the minibatch are reused from GEPA's evaluation cache, so
no run is repeated needlessly). Proposals come from the deterministic :class:`Proposer` when no model
is configured, or from GEPA's reflection LM (litellm) when one is.

Stops: the metric-call budget (GEPA's ``MaxMetricCallsStopper``), "the next iteration would not fit
the budget", and "the proposer has nothing new for any candidate in the pool".
"""

from __future__ import annotations

import sys
from typing import TextIO

import gepa

from openhands_driver.optimizer.adapter import IncidentAdapter
from openhands_driver.optimizer.candidate import COMPONENT, as_candidate, candidate_id
from openhands_driver.optimizer.evaluation import Evaluator
from openhands_driver.optimizer.proposer import Proposer
from openhands_driver.optimizer.result import SearchOutcome

REFLECTION_TEMPLATE = """You maintain a text an SRE agent uses during BLIND incidents: the agent is paged \
with a symptom-level alert only and the service's health body is generic, so the cause shows only in \
`targetctl logs`, configuration files and process state. The agent first runs the commands of the fenced \
bash block under '## Diagnose' of its triage runbook to gather symptoms, then ranks the runbook skills by \
the 'Signals:' phrases of their descriptions found in those outputs, tries the best skills' diagnoses \
(preferring the '## Skills' list, in order, when their signals match), remediates with the skill that \
found its fault and verifies. The runner then proves the outcome itself (health, the fault's root cause \
gone, durable across a restart, nothing else damaged): only RESOLVED runs count; among them, fewer steps \
is better.

The current text:
```
<curr_param>
```

Real runs with this text, with feedback from their traces:
```
<side_info>
```

Write the improved text. For a triage runbook keep the markdown structure: a '## Diagnose' heading with \
one ```bash block of read-only targetctl commands (one per line; keep `targetctl status` first), an \
optional '## Skills' list of skill names ('- name' lines) and the '## Verify' section; add checks that \
show the causes the feedback says were missed, drop checks that never contributed, add no '## Remediate' \
section and no <runbook> tags. Never name an incident or a fault class in the text: it is sent with \
every incident, and words in it can trigger skills. For a skill text keep its '## Diagnose', '## Remediate' and '## Verify' \
sections. Return the complete text inside one ``` block."""


class _Log:
    """GEPA's logger: quiet unless verbose; keeps the lines for the result's stop reason."""

    def __init__(self, console: TextIO | None, verbose: bool):
        self.console, self.verbose, self.lines = console or sys.stderr, verbose, []

    def log(self, message: str) -> None:
        message = str(message)
        self.lines.append(message)
        failed = "failed" in message or "Exception" in message
        if self.verbose or (failed and not message.startswith("Traceback")):
            print(f"[gepa] {message.splitlines()[0][:300]}", file=self.console, flush=True)


class _NextIterationFits:
    """Stop when one more iteration could overrun the budget: the parent's minibatch is reused (every
    parent was scored on all incidents), the child runs on the minibatch and, when accepted, on the
    remaining incidents: at most ``max(minibatch, incidents)`` runs."""

    def __init__(self, max_metric_calls: int, minibatch: int, incidents: int):
        self.max_metric_calls, self.cost, self.fired = max_metric_calls, max(minibatch, incidents), False

    def __call__(self, state) -> bool:
        self.fired = state.total_num_evals + self.cost > self.max_metric_calls
        return self.fired


class _NoProgress:
    """Stop when iterations stop costing runs: every proposal was already measured (cached) or
    skipped as perfect, so the budget would never run out and the search would spin."""

    LIMIT = 25  # iterations in a row without a single new run

    def __init__(self):
        self.last, self.idle, self.fired = -1, 0, False

    def __call__(self, state) -> bool:
        evals = state.total_num_evals
        self.idle = self.idle + 1 if evals == self.last else 0
        self.last = evals
        self.fired = self.idle >= self.LIMIT
        return self.fired


class _ProposerExhausted:
    """Stop when the deterministic proposer has nothing new for any candidate in GEPA's pool."""

    def __init__(self, proposer: Proposer):
        self.proposer, self.fired = proposer, False

    def __call__(self, state) -> bool:
        self.fired = self.proposer.exhausted([dict(c) for c in state.program_candidates])
        return self.fired


def reflection_lm(model: str, base_url: str | None = None, api_key: str | None = None):
    """GEPA's litellm LM. Key: ``api_key``, else LLM_API_KEY, else the provider's usual variable
    (litellm reads it); a local OpenAI-compatible ``base_url`` without a key gets a placeholder."""
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table download
    from gepa.lm import LM

    api_key = api_key or os.environ.get("LLM_API_KEY") or ("no-key-needed" if base_url else None)
    extra = {k: v for k, v in (("api_base", base_url), ("api_key", api_key)) if v}
    return LM(model, num_retries=1, **extra)


def run_gepa(seed: dict[str, str] | str, scenarios: list[str], evaluator: Evaluator, proposer: Proposer, *,
             max_metric_calls: int, rng_seed: int = 0, minibatch_size: int | None = None,
             incident_texts: dict[str, str] | None = None, lm_model: str | None = None,
             lm_base_url: str | None = None, lm_api_key: str | None = None,
             console: TextIO | None = None, verbose: bool = False) -> SearchOutcome:
    minibatch = max(1, min(minibatch_size or 3, len(scenarios)))
    fits = _NextIterationFits(max_metric_calls, minibatch, len(scenarios))
    idle = _NoProgress()
    stoppers: list = [fits, idle]
    kwargs: dict = {}
    if lm_model:
        kwargs.update(reflection_lm=reflection_lm(lm_model, lm_base_url, lm_api_key),
                      reflection_prompt_template=REFLECTION_TEMPLATE)
        exhausted = None
    else:
        exhausted = _ProposerExhausted(proposer)
        stoppers.append(exhausted)
        kwargs["custom_candidate_proposer"] = proposer
    log = _Log(console, verbose)
    seed_candidate = as_candidate(seed) if isinstance(seed, str) else {k: v.strip() + "\n" for k, v in seed.items()}
    # The search sees only the training incidents (GEPA's trainset and valset); the held-out
    # validation incidents are run by the session after the search.
    result = gepa.optimize(
        seed_candidate=seed_candidate, trainset=list(scenarios), valset=list(scenarios),
        adapter=IncidentAdapter(evaluator, incident_texts, structured=not lm_model),
        max_metric_calls=max_metric_calls,
        stop_callbacks=stoppers, reflection_minibatch_size=minibatch, candidate_selection_strategy="pareto",
        module_selector="all" if len(seed_candidate) > 1 else "round_robin",
        skip_perfect_score=True, perfect_score=1.0, cache_evaluation=True, seed=rng_seed, logger=log,
        display_progress_bar=False, raise_on_exception=True, **kwargs)

    ids = [candidate_id(dict(c)) for c in result.candidates]
    parents = {p["candidate_id"]: [p["parent_id"]] for p in proposer.proposed}
    parents.update({ids[i]: [ids[p] for p in ps if p is not None] for i, ps in enumerate(result.parents)})
    origins = {p["candidate_id"]: p["variant"] for p in proposer.proposed}
    if lm_model:
        origins = {cid: f"reflection_lm:{lm_model}" for cid in evaluator.texts}
    origins[ids[0]] = "seed"
    if idle.fired:
        stop = f"{_NoProgress.LIMIT} iterations in a row proposed nothing that needed a new run"
    elif exhausted is not None and exhausted.fired:
        stop = "the proposer had nothing new for any candidate in the pool"
    elif fits.fired:
        stop = f"budget: another iteration (up to {fits.cost} runs) would exceed {max_metric_calls} metric calls"
    else:
        stop = f"budget: {result.total_metric_calls} of {max_metric_calls} metric calls used"
    return SearchOutcome(
        engine="gepa.optimize",
        proposer=f"reflection_lm:{lm_model}" if lm_model else proposer.name,
        seed_text=seed_candidate[COMPONENT], best_text=result.best_candidate[COMPONENT], accepted=ids,
        seed_candidate=dict(seed_candidate), best_candidate=dict(result.best_candidate),
        parents=parents,
        origins=origins,
        search_scores={ids[i]: float(s) for i, s in enumerate(result.val_aggregate_scores)},
        stop_reason=stop, reported_metric_calls=result.total_metric_calls)
