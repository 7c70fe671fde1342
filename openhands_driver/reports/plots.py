"""Plots of runs: success rate, steps and MTTR per group (approach, skill or fault class), as
distributions and over time. Real images from matplotlib (Agg backend, no display, no pyplot state).

    points = points_from_trace(rows, group_by=skill_group)      # or approach_group, or a run-id map
    paths = write_plots(group_points(points), Path("artifacts/plots"), prefix="leaderboard")

Figures (one file each, PNG or SVG):
- ``<prefix>_success.<fmt>``: success rate per group (bar, with the run count) and the cumulative
  success rate over time per group;
- ``<prefix>_steps.<fmt>``: steps per group as box plots with every run as a dot;
- ``<prefix>_mttr.<fmt>``: time to a verified fix per group (violin + box; fixed runs only);
- ``<prefix>_over_time.<fmt>``: steps and MTTR of every run against its finish time, per group.

MTTR is ``mttr_s`` (run start to the first probe of the proving streak) when the row has it,
otherwise ``duration_s`` of a fixed run. Runs are the rows ``reports.stats`` counts as runs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

FORMATS = ("png", "svg")
KINDS = ("success", "steps", "mttr", "over_time")


@dataclass(frozen=True)
class RunPoint:
    """One run as the plots see it."""

    group: str
    run_id: str
    finished_at: datetime | None
    fixed: bool
    steps: int
    mttr_s: float | None  # None when not fixed


def _when(text: object) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def approach_group(row: dict) -> str:
    """The approach label of a trace row (the scorecard's names)."""
    if row.get("mode") == "baseline":
        return "baseline"
    return f"optimized-{row.get('strategy_source') or 'skills'}"


def skill_group(row: dict) -> str:
    return row.get("skill_id") or f"(no skill: {row.get('strategy_source') or row.get('mode') or 'unknown'})"


def fault_group(row: dict) -> str:
    return ((row.get("ground_truth") or {}).get("fault_class") or row.get("local_fault")
            or row.get("scenario") or "?")


def _is_run(row: dict) -> bool:
    return (not row.get("simulate") and row.get("status") not in ("simulated", "interrupted", "crashed",
                                                                   "started", "unsupported"))


def point(row: dict, group: str, *, fixed_key: str = "service_up") -> RunPoint:
    fixed = bool(row.get(fixed_key))
    mttr = row.get("mttr_s")
    if mttr is None and fixed:
        mttr = row.get("duration_s")
    return RunPoint(group=group, run_id=str(row.get("run_id")),
                    finished_at=_when(row.get("finished_at") or row.get("written_at")), fixed=fixed,
                    steps=int(row.get("step_count") or 0),
                    mttr_s=float(mttr) if fixed and mttr is not None else None)


def points_from_trace(rows: Iterable[dict], group_by: Callable[[dict], str] = approach_group,
                      *, fixed_key: str = "service_up") -> list[RunPoint]:
    """Every run of ``rows`` (plans, interrupted and crashed rows excluded), grouped by ``group_by``.
    ``fixed_key`` = ``resolved`` counts the runner's whole proof instead of the verifier's."""
    return [point(r, group_by(r), fixed_key=fixed_key) for r in rows if _is_run(r)]


def points_from_run_ids(rows: Iterable[dict], run_ids: dict[str, list[str]],
                        *, fixed_key: str = "service_up") -> list[RunPoint]:
    """The runs of a scorecard: ``{approach: [run_id, ...]}`` over the trace rows."""
    by_id = {r.get("run_id"): r for r in rows}
    return [point(by_id[i], name, fixed_key=fixed_key) for name, ids in run_ids.items() for i in ids
            if i in by_id and _is_run(by_id[i])]


def group_points(points: Iterable[RunPoint]) -> dict[str, list[RunPoint]]:
    groups: dict[str, list[RunPoint]] = {}
    for item in points:
        groups.setdefault(item.group, []).append(item)
    return dict(sorted(groups.items()))


# --- figures -------------------------------------------------------------------------------------

def _figure(width: float, height: float, rows: int = 1, cols: int = 1):
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in server threads

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _width(groups: dict) -> float:
    return max(6.0, 1.1 * len(groups) + 2.5)


def _labels(ax, names: list[str]) -> None:
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30 if len(names) > 3 else 0,
                  ha="right" if len(names) > 3 else "center", fontsize=8)


def figure_success(groups: dict[str, list[RunPoint]], title: str = ""):
    fig, axes = _figure(_width(groups) + 5, 4.2, 1, 2)
    bars, timeline = axes[0]
    names = list(groups)
    if not names:
        _empty(bars, "runs")
        _empty(timeline, "runs")
        return fig
    rates = [sum(p.fixed for p in groups[n]) / len(groups[n]) for n in names]
    drawn = bars.bar(range(1, len(names) + 1), rates, color="#4C72B0")
    for bar, name in zip(drawn, names):
        fixed = sum(p.fixed for p in groups[name])
        bars.annotate(f"{fixed}/{len(groups[name])}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8)
    bars.set_ylim(0, 1.12)
    bars.set_ylabel("success rate")
    bars.set_title("success rate per group")
    _labels(bars, names)
    for name in names:
        timed = sorted((p for p in groups[name] if p.finished_at), key=lambda p: p.finished_at)
        if not timed:
            continue
        fixed, xs, ys = 0, [], []
        for n, item in enumerate(timed, 1):
            fixed += item.fixed
            xs.append(item.finished_at)
            ys.append(fixed / n)
        timeline.plot(xs, ys, marker="o", markersize=3, label=name)
    timeline.set_ylim(-0.05, 1.05)
    timeline.set_ylabel("cumulative success rate")
    timeline.set_title("success rate over time")
    if timeline.lines:
        timeline.legend(fontsize=7)
        fig.autofmt_xdate()
    else:
        _empty(timeline, "timestamped runs")
    if title:
        fig.suptitle(title)
    return fig


def figure_steps(groups: dict[str, list[RunPoint]], title: str = ""):
    fig, axes = _figure(_width(groups), 4.2)
    ax = axes[0][0]
    names = [n for n in groups if groups[n]]
    if not names:
        _empty(ax, "runs")
        return fig
    data = [[p.steps for p in groups[n]] for n in names]
    ax.boxplot(data, showmeans=True)
    for i, values in enumerate(data, 1):
        ax.scatter([i + 0.08 * ((k % 5) - 2) for k in range(len(values))], values, s=10, alpha=0.6,
                   color="#DD8452", zorder=3)
    ax.set_ylabel("steps (agent actions)")
    ax.set_title(title or "steps per run (box = quartiles, triangle = mean, dots = runs)")
    _labels(ax, names)
    return fig


def figure_mttr(groups: dict[str, list[RunPoint]], title: str = ""):
    fig, axes = _figure(_width(groups), 4.2)
    ax = axes[0][0]
    names = [n for n in groups if any(p.mttr_s is not None for p in groups[n])]
    if not names:
        _empty(ax, "fixed runs")
        return fig
    data = [[p.mttr_s for p in groups[n] if p.mttr_s is not None] for n in names]
    positions = list(range(1, len(names) + 1))
    spread = [(pos, d) for pos, d in zip(positions, data) if len(d) > 1]
    if spread:
        ax.violinplot([d for _, d in spread], positions=[pos for pos, _ in spread], showextrema=False)
    ax.boxplot(data, positions=positions, widths=0.15, showfliers=True)
    ax.set_ylabel("MTTR s (to a verified fix)")
    ax.set_title(title or "MTTR per run, fixed runs only (violin = distribution)")
    _labels(ax, names)
    return fig


def figure_over_time(groups: dict[str, list[RunPoint]], title: str = ""):
    fig, axes = _figure(9, 5.5, 2, 1)
    steps, mttr = axes[0][0], axes[1][0]
    drawn = False
    for name, items in groups.items():
        timed = sorted((p for p in items if p.finished_at), key=lambda p: p.finished_at)
        if not timed:
            continue
        drawn = True
        steps.plot([p.finished_at for p in timed], [p.steps for p in timed], marker="o", markersize=3,
                   linewidth=0.8, label=name)
        fixed = [p for p in timed if p.mttr_s is not None]
        mttr.plot([p.finished_at for p in fixed], [p.mttr_s for p in fixed], marker="o", markersize=3,
                  linewidth=0.8, label=name)
    if not drawn:
        _empty(steps, "timestamped runs")
        _empty(mttr, "timestamped runs")
        return fig
    steps.set_ylabel("steps")
    mttr.set_ylabel("MTTR s")
    steps.set_title(title or "steps and MTTR of each run over time")
    steps.legend(fontsize=7)
    fig.autofmt_xdate()
    return fig


FIGURES = {"success": figure_success, "steps": figure_steps, "mttr": figure_mttr,
           "over_time": figure_over_time}
assert set(FIGURES) == set(KINDS)


def render(kind: str, groups: dict[str, list[RunPoint]], fmt: str = "png", title: str = "") -> bytes:
    """One figure as image bytes (the dashboard serves these)."""
    if kind not in FIGURES:
        raise ValueError(f"unknown plot {kind!r}; valid: {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}; valid: {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    FIGURES[kind](groups, title).savefig(buffer, format=fmt)
    return buffer.getvalue()


def write_plots(groups: dict[str, list[RunPoint]], directory: Path, *, prefix: str, fmt: str = "png",
                title: str = "") -> list[Path]:
    """Every figure of ``groups`` into ``directory`` as ``<prefix>_<kind>.<fmt>``; the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in KINDS:
        path = directory / f"{prefix}_{kind}.{fmt}"
        path.write_bytes(render(kind, groups, fmt, title))
        paths.append(path)
    return paths


def _with_finish_times(rows: list[dict], trace_log: str | None) -> list[dict]:
    """Fan-out rows carry offsets, not times: take each run's ``finished_at`` from its trace row."""
    if not trace_log or not Path(trace_log).exists():
        return rows
    from openhands_driver.trace import read_rows

    finished = {r.get("run_id"): r.get("finished_at") for r in read_rows(trace_log)}
    return [{**r, "finished_at": r.get("finished_at") or finished.get(r.get("run_id"))} for r in rows]


def bench_plots(report: dict, output: Path, fmt: str = "png") -> list[Path]:
    """The plots of a bench_blind / bench_itbench JSON report, beside it (``<stem>_<kind>.<fmt>``):
    per fault class, resolved (the runner's whole proof) as success."""
    output = Path(output)
    rows = _with_finish_times(report.get("rows") or [],
                              (report.get("config") or {}).get("trace_log") or report.get("trace_log"))
    groups = group_points(points_from_trace(rows, fault_group, fixed_key="resolved"))
    return write_plots(groups, output.parent, prefix=output.stem, fmt=fmt,
                       title=f"{report.get('kind', 'benchmark')} {report.get('bench_id', '')}".strip())


def scorecard_plots(card: dict, rows: Iterable[dict], directory: Path, fmt: str = "png") -> list[Path]:
    """The plots of an approach scorecard: its approaches' runs (by run id) over ``rows``."""
    run_ids = {a["name"]: a.get("run_ids") or [] for a in card.get("approaches") or []}
    fixed_key = "resolved" if card.get("blind") else "service_up"
    groups = group_points(points_from_run_ids(rows, run_ids, fixed_key=fixed_key))
    return write_plots(groups, directory, prefix="scorecard", fmt=fmt, title="approach scorecard")


def leaderboard_plots(rows: Iterable[dict], directory: Path, fmt: str = "png") -> list[Path]:
    """The plots of the skill leaderboard: every run of the trace log, per skill."""
    return write_plots(group_points(points_from_trace(rows, skill_group)), directory, prefix="leaderboard",
                       fmt=fmt, title="skill leaderboard")
