"""Text routing measured on imported ITBench incidents: does the alert page alone pick a skill that
fits one of the incident's injected faults? Counted as right, none (the agent gets the catalog,
a valid outcome) or wrong (a misleading skill), split into the incidents of a reference set (e.g.
the sample the triggers were written beside) and the others. Stdlib only; never the SDK."""
from __future__ import annotations

from typing import Any, Iterable


def measure(records: Iterable[dict[str, Any]], reference_ids: set[int] | None = None) -> dict[str, Any]:
    """{"reference": {...}, "other": {...}, "all": {...}, "misses": [...]}: counts of right/none/wrong."""
    from openhands_driver.router import route

    groups: dict[str, dict[str, int]] = {k: {"right": 0, "none": 0, "wrong": 0, "total": 0}
                                         for k in ("reference", "other", "all")}
    misses = []
    for rec in records:
        if not rec.get("local_fault"):
            continue
        expected = {f["fault_class"].replace("_", "-") for f in rec.get("local_faults") or []} or {
            rec["local_fault"].replace("_", "-")}
        decision = route(None, rec.get("error_report") or "")
        outcome = "right" if decision.skill_id in expected else "none" if decision.skill_id is None else "wrong"
        sid = (rec.get("source") or {}).get("id")
        for key in ("reference" if reference_ids is not None and sid in reference_ids else "other", "all"):
            groups[key][outcome] += 1
            groups[key]["total"] += 1
        if outcome != "right":
            misses.append({"id": sid, "expected": sorted(expected), "routed": decision.skill_id,
                           "scores": decision.scores})
    return {**groups, "misses": misses}
