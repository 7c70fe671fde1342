"""The ``iterative`` optimizer: a simple refine-and-re-evaluate baseline for comparison with GEPA.

Greedy and memoryless: evaluate the current best on every training incident, refine it from *that
latest evaluation's* feedback only (the same deterministic proposer, but no mined traces, no Pareto
front, no minibatches), evaluate the refinement on every training incident, keep it when its mean
score is strictly higher. Same scoring and the same metric-call budget as the ``gepa`` optimizer.
"""

from __future__ import annotations

from statistics import mean

from openhands_driver.optimizer.candidate import COMPONENT, candidate_id
from openhands_driver.optimizer.evaluation import Evaluator
from openhands_driver.optimizer.mining import Evidence
from openhands_driver.optimizer.proposer import Proposer
from openhands_driver.optimizer.result import SearchOutcome


def run_iterative(seed: dict[str, str] | str, scenarios: list[str], evaluator: Evaluator, *,
                  max_metric_calls: int) -> SearchOutcome:
    seed = {COMPONENT: seed} if isinstance(seed, str) else dict(seed)
    outcome = SearchOutcome(engine="iterative", proposer=Proposer.name, seed_text=seed[COMPONENT],
                            best_text=seed[COMPONENT], seed_candidate=dict(seed), best_candidate=dict(seed))
    seed_id = candidate_id(seed)
    outcome.origins[seed_id], outcome.parents[seed_id] = "seed", []
    latest = evaluator.evaluate_all(seed, scenarios)
    best_score = mean(e.score.value for e in latest)
    outcome.accepted.append(seed_id)
    outcome.search_scores[seed_id] = best_score
    outcome.stop_reason = f"budget: a full evaluation ({len(scenarios)} runs) would exceed {max_metric_calls}"
    while evaluator.metric_calls + len(scenarios) <= max_metric_calls:
        feedback = Evidence()
        for evaluation in latest:
            feedback.add(evaluation.attribution)
        proposal = Proposer(feedback, scenarios, seen=evaluator.seen).next_for(outcome.best_candidate)
        if proposal is None:
            outcome.stop_reason = "converged: the latest feedback suggests nothing new"
            break
        variant, candidate = proposal
        cid = candidate_id(candidate)
        outcome.origins[cid], outcome.parents[cid] = variant, [candidate_id(outcome.best_candidate)]
        evaluations = evaluator.evaluate_all(candidate, scenarios)
        score = mean(e.score.value for e in evaluations)
        outcome.search_scores[cid] = score
        if score > best_score:
            outcome.best_candidate, outcome.best_text = candidate, candidate[COMPONENT]
            best_score, latest = score, evaluations
            outcome.accepted.append(cid)
    outcome.reported_metric_calls = evaluator.metric_calls
    return outcome
