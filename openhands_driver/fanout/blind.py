"""The blind benchmark: every fault class over a range of variant seeds, blind, through the fan-out
engine, reported with the field's metrics (``reports/blind.py``).

The incident set is generated from the fault-class registry (one scenario per class, written to a
catalog file beside the report), so adding a fault class adds it to the benchmark.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.fanout.records import FanoutConfig
from openhands_driver.paths import ARTIFACTS_DIR
from openhands_driver.reports import blind as report

BENCH_DIR = ARTIFACTS_DIR / "bench_blind"


def parse_seeds(text: str) -> list[int]:
    """"100-119" or "1,2,5" or a mix ("0-3,10") -> seeds in order, no repeats."""
    seeds: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise UserError(f"--seeds takes ranges and numbers such as 100-119 or 1,2,5; got {text!r}")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low:
            raise UserError(f"--seeds range {part!r} runs backwards")
        seeds += [s for s in range(low, high + 1) if s not in seeds]
    if not seeds:
        raise UserError("--seeds is empty")
    return seeds


def fault_classes(names: str | None) -> list[str]:
    from target_service import faults

    known = sorted(name for name in faults.FAULT_CLASSES if name != faults.HEALTHY)
    if not names:
        return known
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in faults.FAULT_CLASSES]
    if unknown:
        raise UserError(f"unknown fault class(es) {', '.join(unknown)}; valid: "
                        f"{', '.join(sorted(faults.FAULT_CLASSES))}")
    return chosen


def write_catalog(classes: list[str], directory: Path) -> Path:
    """One scenario per fault class (the alert itself is drawn per seed, blind)."""
    records = [{"scenario_id": name, "title": f"blind {name}", "local_fault": name,
                "error_report": "(blind: the alert is drawn from the variant seed)"}
               for name in classes]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fault_classes.json"
    path.write_text(json.dumps({"schema_version": 1, "scenarios": records}, indent=2) + "\n",
                    encoding="utf-8")
    return path


def run_benchmark(run: RunConfig, *, classes: list[str], seeds: list[int], concurrency: int,
                  progress: bool = True, out_dir: Path | None = None) -> dict:
    """Run classes x seeds blind; {"summary", "rows", "markdown", "config"}."""
    from openhands_driver.fanout.engine import run_fanout

    bench_id = f"blind-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir = out_dir or BENCH_DIR / bench_id
    catalog = write_catalog(classes, out_dir)
    config = FanoutConfig(run=dataclasses.replace(run, training_data=catalog, blind=True),
                          scenario_ids=classes, variant_seeds=seeds, concurrency=concurrency,
                          log_dir=out_dir / "logs", fanout_id=bench_id)
    fanout = run_fanout(config, progress=progress)
    rows = fanout["rows"]
    summary = report.summarize(rows)
    title = (f"Blind benchmark — {run.mode} mode, brain {run.model or 'runbook'}, "
             f"{len(classes)} fault classes x seeds {seeds[0]}-{seeds[-1]}")
    return {"kind": "bench_blind", "bench_id": bench_id, "summary": summary, "rows": rows,
            "markdown": report.markdown(summary, title),
            "config": {"faults": classes, "seeds": seeds, "mode": run.mode,
                       "strategy_source": run.strategy_source, "model": run.model,
                       "backend": run.backend, "concurrency": concurrency, "soak_s": run.soak_s,
                       "wall_s": fanout["summary"].get("wall_s"), "trace_log": fanout["trace_log"],
                       "interrupted": fanout["interrupted"]}}


ITBENCH_DIR = ARTIFACTS_DIR / "bench_itbench"


def run_itbench(run: RunConfig, *, catalog: Path, repeats: int, concurrency: int,
                progress: bool = True, out_dir: Path | None = None, first_seed: int = 0) -> dict:
    """The imported ITBench set (every supported record, every injection together), blind, each
    incident `repeats` times (seeds first_seed..); the report by complexity and by fault class
    with the unsupported count and reasons (reports/blind.itbench_summary)."""
    from openhands_driver.fanout.engine import run_fanout

    try:
        records = json.loads(Path(catalog).read_text(encoding="utf-8"))["scenarios"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the imported ITBench catalog {catalog}: {exc}; run "
                        "scripts/import_itbench_sre.py first") from None
    ids = [r["scenario_id"] for r in records if r.get("local_fault")]
    if not ids:
        raise UserError(f"{catalog} has no supported incident to run")
    if repeats < 1:
        raise UserError(f"--repeats must be >= 1, got {repeats}")
    seeds = list(range(first_seed, first_seed + repeats))
    bench_id = f"itbench-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir = out_dir or ITBENCH_DIR / bench_id
    config = FanoutConfig(run=dataclasses.replace(run, training_data=Path(catalog), blind=True),
                          scenario_ids=ids, variant_seeds=seeds, concurrency=concurrency,
                          log_dir=out_dir / "logs", fanout_id=bench_id)
    fanout = run_fanout(config, progress=progress)
    summary = report.itbench_summary(fanout["rows"], records, repeats=repeats)
    title = (f"ITBench SRE, local analogues, blind — {run.mode} mode, brain {run.model or 'runbook'}, "
             f"{len(ids)} incidents x {repeats} repeat(s), backend {run.backend}")
    return {"kind": "bench_itbench", "bench_id": bench_id, "summary": summary, "rows": fanout["rows"],
            "markdown": report.itbench_markdown(summary, title),
            "config": {"catalog": str(catalog), "seeds": seeds, "mode": run.mode, "model": run.model,
                       "backend": run.backend, "concurrency": concurrency, "soak_s": run.soak_s,
                       "wall_s": fanout["summary"].get("wall_s"), "trace_log": fanout["trace_log"],
                       "interrupted": fanout["interrupted"]}}
