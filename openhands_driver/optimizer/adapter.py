"""The GEPA adapter: GEPA's ``evaluate`` / ``make_reflective_dataset`` over real blind incidents.

A data instance is an incident ``fault@seed``; a candidate is ``{"triage_runbook": text}`` plus any
``"skill:<name>": text`` components; each (candidate, incident) pair is one real run (one metric call)
through the shared :class:`Evaluator` (a pair measured before in the same search is reused, not run
again, and is no metric call). Trajectories are the :class:`Evaluation` records; the reflective
dataset carries, per run, the feedback text built from its trace plus the structured attribution the
deterministic proposer learns from, for every component GEPA asks about. ``propose_new_texts`` stays
None: proposals come from ``custom_candidate_proposer`` (deterministic) or GEPA's reflection LM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gepa import EvaluationBatch

from openhands_driver.optimizer.candidate import COMPONENT, candidate_id, check_text
from openhands_driver.optimizer.evaluation import Evaluation, Evaluator


class IncidentAdapter:
    propose_new_texts = None

    def __init__(self, evaluator: Evaluator, incident_texts: Mapping[str, str] | None = None, *,
                 structured: bool = True):
        self.evaluator = evaluator
        self.incident_texts = dict(incident_texts or {})
        self.structured = structured  # carry the attribution (for the deterministic proposer)

    def evaluate(self, batch: list[str], candidate: dict[str, str],
                 capture_traces: bool = False) -> EvaluationBatch:
        problem = check_text(candidate[COMPONENT])
        if problem:  # not a usable strategy (e.g. a malformed model proposal): scored 0, nothing runs
            self.evaluator.invalid.setdefault(candidate_id(candidate), {"problem": problem,
                                                                      "candidate": dict(candidate)})
            return EvaluationBatch(outputs=[{"invalid": problem}] * len(batch), scores=[0.0] * len(batch),
                                   trajectories=[None] * len(batch) if capture_traces else None,
                                   num_metric_calls=0)
        # A (candidate, incident) pair already measured in this search is not run again (GEPA asks
        # for the parent's traces on a minibatch it has scored already): only fresh runs are metric calls.
        cid, evaluations, fresh = candidate_id(candidate), [], 0
        for incident in batch:
            known = self.evaluator.measured(cid, incident)
            if known is None:
                known, fresh = self.evaluator.evaluate(candidate, incident), fresh + 1
            evaluations.append(known)
        return EvaluationBatch(outputs=[e.to_dict() for e in evaluations],
                               scores=[e.score.value for e in evaluations],
                               trajectories=evaluations if capture_traces else None,
                               num_metric_calls=fresh)

    def _record(self, evaluation: Evaluation) -> dict[str, Any]:
        record = {
            "Inputs": {"incident": evaluation.incident or evaluation.scenario,
                       "alert": self.incident_texts.get(evaluation.scenario,
                                                        "a symptom-level alert (blind incident)")},
            "Generated Outputs": "\n".join(evaluation.actions) or "(no actions)",
            "Feedback": evaluation.feedback,
            "score": evaluation.score.value,
            "run_id": evaluation.run_id,
        }
        if self.structured:  # a reflection model reads the feedback text, not this
            record["evidence"] = evaluation.attribution.to_dict()
        return record

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: EvaluationBatch,
                                components_to_update: list[str]) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        records = [self._record(e) for e in eval_batch.trajectories or [] if e is not None]
        return {component: records for component in components_to_update if component in candidate}
