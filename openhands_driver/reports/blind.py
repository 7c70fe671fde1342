"""The blind benchmark's report: the metrics the field uses, per fault class and overall.

Rows are fan-out rows of blind runs (each carries ``ground_truth``, ``diagnosis``, ``mitigation``,
``durability``, ``collateral``, ``resolved``). pass@1 is over the runs that were attempted (one
attempt per incident), so an error or a timeout counts as a failure, never as a missing value.
"""

from __future__ import annotations

from statistics import mean
from typing import Iterable

from openhands_driver.reports.stats import percentile


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _metrics(rows: list[dict]) -> dict:
    attempted = [r for r in rows if r.get("status") != "unsupported"]
    n = len(attempted)
    diagnosed = [r for r in attempted if (r.get("diagnosis") or {}).get("correct")]
    resolved = [r for r in attempted if r.get("resolved")]
    recovered = [r for r in attempted if r.get("service_up")]
    mttd = [r["mttd_s"] for r in diagnosed if r.get("mttd_s") is not None]
    mttr = [r["mttr_s"] for r in resolved if r.get("mttr_s") is not None]
    collateral = [r for r in attempted if r.get("collateral") and not r["collateral"].get("passed")]
    tokens = [sum((r.get("tokens") or {}).values()) for r in attempted]
    return {
        "runs": n,
        "diagnosis_pass_at_1": _round(len(diagnosed) / n) if n else None,
        "mitigation_pass_at_1": _round(len(resolved) / n) if n else None,
        "service_up_rate": _round(len(recovered) / n) if n else None,
        "mttd_p50_s": _round(percentile(mttd, 50)), "mttd_p95_s": _round(percentile(mttd, 95)),
        "mttr_p50_s": _round(percentile(mttr, 50)), "mttr_p95_s": _round(percentile(mttr, 95)),
        "mean_steps": _round(mean(r.get("step_count") or 0 for r in attempted)) if n else None,
        "tokens": sum(tokens), "cost_usd": _round(sum(r.get("cost_usd") or 0.0 for r in attempted), 6),
        "collateral_incidents": len(collateral),
        "recovered_not_resolved": len(recovered) - len([r for r in recovered if r.get("resolved")]),
        "errors": sum(1 for r in attempted if r.get("status") in ("error", "timeout")),
    }


def summarize(rows: Iterable[dict]) -> dict:
    """{overall metrics..., by_fault: {class: metrics}}."""
    rows = list(rows)
    by_fault: dict[str, list[dict]] = {}
    for row in rows:
        fault = (row.get("ground_truth") or {}).get("fault_class") or row.get("local_fault") or "?"
        by_fault.setdefault(fault, []).append(row)
    return {**_metrics(rows), "by_fault": {name: _metrics(group) for name, group in sorted(by_fault.items())}}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown(summary: dict, title: str = "Blind benchmark") -> str:
    columns = ("runs", "diagnosis_pass_at_1", "mitigation_pass_at_1", "mttd_p50_s", "mttr_p50_s",
               "mttr_p95_s", "mean_steps", "tokens", "collateral_incidents")
    header = ("fault class", "runs", "diagnosis pass@1", "mitigation pass@1", "MTTD p50 s",
              "MTTR p50 s", "MTTR p95 s", "steps", "tokens", "collateral")
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for name, metrics in summary["by_fault"].items():
        lines.append("| " + " | ".join([name] + [_cell(metrics[c]) for c in columns]) + " |")
    lines.append("| **all** | " + " | ".join(_cell(summary[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def itbench_summary(rows: Iterable[dict], records: list[dict], *, repeats: int = 1) -> dict:
    """The imported ITBench set: overall, by complexity (low/medium/high), by fault class (every
    injected class of a multi-injection incident counts it), pass@1 per repeat (variance), and the
    unsupported incidents with their reasons."""
    rows = list(rows)
    meta = {r["scenario_id"]: r for r in records}
    by_complexity: dict[str, list[dict]] = {}
    by_fault: dict[str, list[dict]] = {}
    by_repeat: dict[str, list[dict]] = {}
    for row in rows:
        rec = meta.get(row.get("scenario_id"), {})
        by_complexity.setdefault(rec.get("complexity") or "unknown", []).append(row)
        classes = [f["fault_class"] for f in rec.get("local_faults") or []] or [rec.get("local_fault") or "?"]
        for name in dict.fromkeys(classes):
            by_fault.setdefault(name, []).append(row)
        by_repeat.setdefault(str(row.get("variant_seed")), []).append(row)
    unsupported = [r for r in records if not r.get("local_fault")]
    multi = [r for r in records if len(r.get("local_faults") or []) > 1]
    per_repeat = {seed: _metrics(group) for seed, group in sorted(by_repeat.items())}
    diag = [m["diagnosis_pass_at_1"] for m in per_repeat.values() if m["diagnosis_pass_at_1"] is not None]
    miti = [m["mitigation_pass_at_1"] for m in per_repeat.values() if m["mitigation_pass_at_1"] is not None]
    return {**_metrics(rows), "repeats": repeats,
            "by_complexity": {k: _metrics(v) for k, v in sorted(by_complexity.items())},
            "by_fault": {k: _metrics(v) for k, v in sorted(by_fault.items())},
            "by_repeat": per_repeat,
            "pass_at_1_range": {"diagnosis": [min(diag), max(diag)] if diag else None,
                                "mitigation": [min(miti), max(miti)] if miti else None},
            "supported": len(records) - len(unsupported), "multi_injection_supported": len(multi),
            "unsupported": len(unsupported),
            "unsupported_reasons": [{"id": (r.get("source") or {}).get("id"), "name": r.get("name"),
                                     "reason": r.get("unsupported_reason")} for r in unsupported]}


def itbench_markdown(summary: dict, title: str) -> str:
    columns = ("runs", "diagnosis_pass_at_1", "mitigation_pass_at_1", "mttd_p50_s", "mttr_p50_s",
               "mttr_p95_s", "collateral_incidents")
    header = ("", "runs", "diagnosis pass@1", "mitigation pass@1", "MTTD p50 s", "MTTR p50 s",
              "MTTR p95 s", "collateral")
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, group in (("complexity", summary["by_complexity"]), ("fault class", summary["by_fault"])):
        for name, metrics in group.items():
            lines.append("| " + " | ".join([f"{label}: {name}"] + [_cell(metrics[c]) for c in columns]) + " |")
    lines.append("| **all** | " + " | ".join(_cell(summary[c]) for c in columns) + " |")
    rng = summary["pass_at_1_range"]
    lines += ["", f"{summary['supported']} incidents run ({summary['multi_injection_supported']} with several "
              f"injections, all applied together); {summary['repeats']} repeat(s); pass@1 range over repeats: "
              f"diagnosis {rng['diagnosis']}, mitigation {rng['mitigation']}.",
              f"{summary['unsupported']} unsupported (refused, not run):"]
    lines += [f"- ITBench {u['id']} {u['name']}: {u['reason']}" for u in summary["unsupported_reasons"]]
    return "\n".join(lines) + "\n"
