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
