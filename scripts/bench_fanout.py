#!/usr/bin/env python3
"""Fan-out benchmark: the same incident set at several concurrency levels, in one invocation.

Each level runs as a fresh `scripts/fanout_itbench.py` process (so memory figures are per level) while
this script samples the memory of that process (peak RSS) and of everything it started (targets,
agent terminals; summed PSS, so shared pages count once). Printed per level: engine wall time, throughput, mean incident duration, mean
per-incident harness overhead (incident time outside the agent's tool calls and the verifier's
probing), peak RSS. Then the ratios against concurrency 1 and the RSS growth per extra concurrent
incident. Targets: >= 2.5x throughput at concurrency 3; <= 100 MB per extra concurrent incident.
Linux only (/proc). The machine's load (other work running) is printed with the figures; levels are
interleaved over --repeats rounds and the median round per level is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SET = "stale_lockfile,readiness_probe_fail,port_mismatch,bad_env_config,stale_lockfile,port_mismatch"
SPEEDUP_TARGET, MB_PER_INCIDENT_TARGET = 2.5, 100.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (the Python runtime of every interpreter) counted once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return _status_kb(pid, "VmRSS")


def _descendants(pid: int) -> list[int]:
    """pid and every process below it. Targets start their own sessions but stay its descendants."""
    tree, found, stack = _children(), [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(tree.get(current, []))
    return found


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, interval_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval_s = pid, interval_s
        self.peak_main_kb = self.peak_tree_kb = self.peak_processes = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            pids = _descendants(self.pid)
            self.peak_main_kb = max(self.peak_main_kb, _status_kb(self.pid, "VmHWM"))
            self.peak_tree_kb = max(self.peak_tree_kb, sum(_pss_kb(p) for p in pids))
            self.peak_processes = max(self.peak_processes, len(pids))
            self.stop_event.wait(self.interval_s)


def run_level(concurrency: int, args, tmp: Path) -> dict:
    output = tmp / f"c{concurrency}.json"
    argv = [sys.executable, str(REPO / "scripts" / "fanout_itbench.py"), "--training-data", str(args.training_data),
            "--scenarios", args.scenarios, "--concurrency", str(concurrency), "--output", str(output),
            "--no-progress", "--trace-log", str(tmp / "trace.jsonl"), "--log-dir", str(tmp / f"logs-c{concurrency}"),
            "--verify-interval-s", str(args.verify_interval_s)]
    # As `uv run` does: the environment's bin first, so `python3` in agent terminals is the venv's.
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    _, stderr = proc.communicate()
    sampler.stop_event.set()
    sampler.join()
    if proc.returncode != 0 or not output.exists():
        sys.exit(f"fan-out at concurrency {concurrency} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    report = json.loads(output.read_text())
    summary, rows = report["summary"], report["rows"]
    return {
        "concurrency": concurrency, "incidents": summary["total"], "fixed": summary["fixed"],
        "process_s": round(time.monotonic() - began, 2), "setup_s": report["setup_s"],
        "wall_s": summary["wall_s"], "throughput_per_min": summary["throughput_per_min"],
        "mean_duration_s": round(sum(r["duration_s"] for r in rows) / len(rows), 2),
        "mean_harness_overhead_s": summary["mean_harness_overhead_s"],
        "peak_rss_main_mb": round(sampler.peak_main_kb / 1024, 1),
        "peak_pss_tree_mb": round(sampler.peak_tree_kb / 1024, 1),
        "peak_processes": sampler.peak_processes, "cpu_s": report.get("cpu_s"),
        "load_1m_before": round(load_before, 2), "load_1m_after": round(os.getloadavg()[0], 2),
    }


def _median_result(runs: list[dict]) -> dict:
    """The run with the median throughput (its own figures, so they stay consistent), plus the spread."""
    ordered = sorted(runs, key=lambda r: r["throughput_per_min"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["throughput_all"] = [r["throughput_per_min"] for r in runs]
    chosen["peak_pss_tree_mb_all"] = [r["peak_pss_tree_mb"] for r in runs]
    chosen["fixed"] = min(r["fixed"] for r in runs)
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--training-data", type=Path, default=REPO / "training_data" / "scenarios.json",
                        help="scenario file the incidents come from (default: %(default)s)")
    parser.add_argument("--scenarios", default=DEFAULT_SET, help="the incident set (default: %(default)s)")
    parser.add_argument("--levels", default="1,3,4", help="concurrency levels (default: %(default)s)")
    parser.add_argument("--verify-interval-s", type=float, default=1.5,
                        help="seconds between verifier probes (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="rounds over all levels, interleaved (1,3,4,1,3,4); medians are reported, so "
                             "other load on the machine skews every level alike (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON object")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if 1 not in levels:
        levels.insert(0, 1)
    rounds: dict[int, list[dict]] = {level: [] for level in levels}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        for _ in range(max(1, args.repeats)):
            for level in levels:
                rounds[level].append(run_level(level, args, Path(tmp)))
    results = [_median_result(rounds[level]) for level in levels]
    base = results[0]
    for result in results:
        result["speedup_vs_1"] = round(result["throughput_per_min"] / base["throughput_per_min"], 2)
        extra = result["concurrency"] - 1
        result["rss_main_mb_per_extra_incident"] = (
            round((result["peak_rss_main_mb"] - base["peak_rss_main_mb"]) / extra, 1) if extra else None)
        result["pss_tree_mb_per_extra_incident"] = (
            round((result["peak_pss_tree_mb"] - base["peak_pss_tree_mb"]) / extra, 1) if extra else None)
    figures = {"incident_set": args.scenarios.split(","), "cpus": os.cpu_count(), "levels": results,
               "targets": {"speedup_at_3": SPEEDUP_TARGET, "mb_per_extra_incident": MB_PER_INCIDENT_TARGET}}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"incident set ({len(figures['incident_set'])}): {args.scenarios}; {os.cpu_count()} CPUs; "
          f"median of {max(1, args.repeats)} interleaved round(s) per level")
    header = ("conc", "wall_s", "inc/min", "speedup", "mean_inc_s", "overhead_s", "rss_main_MB", "pss_tree_MB",
              "MB/extra(main/tree)", "fixed", "load1m")
    print("  ".join(f"{h:>10}" for h in header))
    for r in results:
        per_extra = ("-" if r["rss_main_mb_per_extra_incident"] is None else
                     f"{r['rss_main_mb_per_extra_incident']}/{r['pss_tree_mb_per_extra_incident']}")
        cells = (r["concurrency"], r["wall_s"], r["throughput_per_min"], f"{r['speedup_vs_1']}x", r["mean_duration_s"],
                 r["mean_harness_overhead_s"], r["peak_rss_main_mb"], r["peak_pss_tree_mb"], per_extra,
                 f"{r['fixed']}/{r['incidents']}", f"{r['load_1m_before']}->{r['load_1m_after']}")
        print("  ".join(f"{c!s:>10}" for c in cells) + f"   all inc/min: {r['throughput_all']}, "
              f"cpu_s: {r['cpu_s']}")
    at3 = next((r for r in results if r["concurrency"] == 3), None)
    if at3:
        print(f"throughput ratio c3/c1: {at3['speedup_vs_1']}x (target >= {SPEEDUP_TARGET}x); RSS growth per extra "
              f"concurrent incident: {at3['pss_tree_mb_per_extra_incident']} MB incl. targets and terminals (PSS), "
              f"{at3['rss_main_mb_per_extra_incident']} MB in the runner process (target <= {MB_PER_INCIDENT_TARGET} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
