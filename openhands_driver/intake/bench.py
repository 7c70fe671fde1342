"""The intake under webhook load: accepted alerts per second, latency, and nothing lost.

    result = run_bench(BenchConfig(duration_s=30, clients=16))   # scripts/bench_intake.py

Starts an intake on 127.0.0.1 (a free port, its own temp database) with a no-op runner (the
library's FakeRunner: every run "fixes" at once, so runs are dispatched and recorded as usual but no
agent works; ``runner="hold"`` keeps them queued instead). ``clients`` concurrent HTTP/1.1
keep-alive connections, spread over ``client_processes`` processes (so the load generator does not
share the server's interpreter lock), post generic webhooks with unique dedupe keys until
``duration_s`` or ``max_alerts``, whichever comes first. Afterwards the service is stopped and the
audit database is read: every 202 answer's execution id must be an execution, every accepted
delivery a ``deliveries`` row with its chained ``audit`` entry. Bounded: every client stops at the
deadline, every socket has a timeout, and the client processes are joined (then terminated).
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import sqlite3
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

TOKEN = "bench-intake-token-0123456789abcdef"
SOCKET_TIMEOUT_S = 10.0
JOIN_GRACE_S = 30.0
SERVICES = 50  # alerts spread over this many service names (per-service serialization stays busy)


@dataclass
class BenchConfig:
    duration_s: float = 30.0
    clients: int = 16                 # concurrent keep-alive connections
    client_processes: int = 2
    max_alerts: int = 100_000         # upper bound on alerts posted in total
    runner: str = "noop"              # noop: runs finish at once; hold: runs never start (queue only)
    http_threads: int = 8
    concurrency: int = 2              # runs at once (the intake's --concurrency)
    workdir: Path | None = None       # default: a temp dir removed afterwards


@dataclass
class BenchResult:
    accepted: int
    failed: int
    errors: dict[str, int]
    duration_s: float
    alerts_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    deliveries_in_db: int
    executions_in_db: int
    audit_delivery_entries: int
    lost: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def none_lost(self) -> bool:
        return not self.lost and self.deliveries_in_db >= self.accepted and \
            self.audit_delivery_entries >= self.accepted

    def to_dict(self) -> dict:
        return {**asdict(self), "lost": self.lost[:20], "lost_count": len(self.lost), "none_lost": self.none_lost}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def _client_thread(port: int, index: int, start_at: float, end_at: float, budget, out: dict) -> None:
    conn = None
    body_base = {"priority": "P3", "scenario": "stale_lockfile"}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    time.sleep(max(start_at - time.time(), 0))
    n = 0
    while time.time() < end_at and budget():
        n += 1
        key = f"bench-{index}-{n}"
        body = json.dumps({**body_base, "title": f"bench alert {key}", "service": f"svc-{n % SERVICES}",
                           "dedupe_key": key}).encode()
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SOCKET_TIMEOUT_S)
            conn.request("POST", "/webhook/generic", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            if response.status == 202:
                out["latencies"].append(elapsed)
                out["ids"].append(json.loads(payload)["execution_id"])
            else:
                out["errors"][f"HTTP {response.status}"] = out["errors"].get(f"HTTP {response.status}", 0) + 1
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            out["errors"][type(exc).__name__] = out["errors"].get(type(exc).__name__, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def client_process(port: int, first_index: int, threads: int, start_at: float, end_at: float, max_alerts: int,
                   pipe) -> None:
    """One load-generating process (spawned): ``threads`` connections; sends its results on ``pipe``."""
    lock = threading.Lock()
    sent = [0]

    def budget() -> bool:
        with lock:
            if sent[0] >= max_alerts:
                return False
            sent[0] += 1
            return True

    outs = [{"latencies": [], "ids": [], "errors": {}} for _ in range(threads)]
    workers = [threading.Thread(target=_client_thread, args=(port, first_index + i, start_at, end_at, budget, out),
                                daemon=True) for i, out in enumerate(outs)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(end_at - time.time(), 0) + SOCKET_TIMEOUT_S + 5)
    merged = {"latencies": [], "ids": [], "errors": {}}
    for out in outs:
        merged["latencies"] += out["latencies"]
        merged["ids"] += out["ids"]
        for name, count in out["errors"].items():
            merged["errors"][name] = merged["errors"].get(name, 0) + count
    pipe.send(merged)
    pipe.close()


def _load(port: int, config: BenchConfig) -> tuple[dict, float]:
    ctx = multiprocessing.get_context("spawn")
    processes = max(1, min(config.client_processes, config.clients))
    per = [config.clients // processes + (1 if i < config.clients % processes else 0) for i in range(processes)]
    start_at = time.time() + 1.5  # spawned interpreters start meanwhile
    end_at = start_at + config.duration_s
    children = []
    first = 0
    for i, threads in enumerate(per):
        parent, child = ctx.Pipe(duplex=False)
        process = ctx.Process(target=client_process, name=f"bench-client-{i}",
                              args=(port, first, threads, start_at, end_at, config.max_alerts // processes, child),
                              daemon=True)
        process.start()
        child.close()
        children.append((process, parent))
        first += threads
    merged = {"latencies": [], "ids": [], "errors": {}}
    try:
        for _process, parent in children:
            if parent.poll(max(end_at - time.time(), 0) + SOCKET_TIMEOUT_S + JOIN_GRACE_S):
                part = parent.recv()
                merged["latencies"] += part["latencies"]
                merged["ids"] += part["ids"]
                for name, count in part["errors"].items():
                    merged["errors"][name] = merged["errors"].get(name, 0) + count
            else:
                merged["errors"]["client process timed out"] = merged["errors"].get("client process timed out", 0) + 1
    finally:
        for process, parent in children:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
            parent.close()
    return merged, min(time.time(), end_at) - start_at


def _audit_counts(db: Path, ids: list[str]) -> tuple[int, int, int, list[str]]:
    con = sqlite3.connect(db)
    try:
        deliveries = con.execute("SELECT COUNT(*) FROM deliveries WHERE outcome='accepted'").fetchone()[0]
        audit = con.execute("SELECT COUNT(*) FROM audit WHERE kind='delivery'").fetchone()[0]
        known = {row[0] for row in con.execute("SELECT id FROM executions")}
    finally:
        con.close()
    return deliveries, len(known), audit, [i for i in ids if i not in known]


def run_bench(config: BenchConfig) -> BenchResult:
    from openhands_driver.intake.config import IntakeConfig
    from openhands_driver.intake.service import IntakeService
    from openhands_driver.intake.testing import FakeRunner

    holder = tempfile.TemporaryDirectory(prefix="bench-intake-") if config.workdir is None else None
    workdir = Path(holder.name) if holder else Path(config.workdir)
    try:
        db = workdir / "intake.db"
        intake = IntakeConfig(port=0, db=db, token=TOKEN, demo_targets=True, trace_log=workdir / "trace.jsonl",
                              concurrency=config.concurrency, http_threads=config.http_threads, sandbox="none",
                              shutdown_deadline_s=5.0, cancel_grace_s=2.0, results=(workdir,))
        runner = FakeRunner(hold=config.runner == "hold")
        service = IntakeService(intake, runner=runner).start()
        try:
            merged, elapsed = _load(service.port, config)
        finally:
            service.stop(5.0, 2.0)
        latencies = merged["latencies"]
        deliveries, executions, audit, lost = _audit_counts(db, merged["ids"])
        accepted = len(latencies)
        return BenchResult(
            accepted=accepted, failed=sum(merged["errors"].values()), errors=merged["errors"],
            duration_s=round(elapsed, 3), alerts_per_s=round(accepted / elapsed, 1) if elapsed > 0 else 0.0,
            p50_ms=_ms(percentile(latencies, 50)), p99_ms=_ms(percentile(latencies, 99)),
            max_ms=_ms(max(latencies) if latencies else None), deliveries_in_db=deliveries,
            executions_in_db=executions, audit_delivery_entries=audit, lost=lost,
            config={k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()})
    finally:
        if holder is not None:
            holder.cleanup()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
