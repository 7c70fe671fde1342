"""Workers: OpenHands agent servers the orchestrator sends incidents to.

Either started here (``start_pool``): a user-defined bridge network of its own and N containers of
the worker image on it, each in its own network namespace, no published ports, no host networking,
so the orchestrator reaches a worker only by its bridge address, as it would a separate machine;
or given (``external_workers``): agent servers that already run elsewhere (``--worker URL``).

Crash safety: the network and every container carry the project's labels (``managed``, ``run_id`` =
the orchestration id, ``owner`` = this process's owner token); ``WorkerPool.close()`` removes them
(normal exit, error, Ctrl-C, SIGTERM, SIGHUP: the caller holds it in a ``finally``), and after a
crash ``janitor.py`` removes the containers and then the network of a dead owner.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from openhands_driver.errors import UserError

AGENT_PORT = 8000
LABEL_ROLE = "openhands-gepa-sre.role"  # "worker" | "worker-network"
WORKER_START_TIMEOUT_S = 120.0


@dataclass
class Worker:
    """One agent server: its URL (what the SDK and the provisioning talk to) and the address its
    targets are verified at."""

    name: str
    url: str
    address: str
    container: str | None = None        # started here: the container's name
    container_id: str | None = None
    incidents: list[str] = field(default_factory=list)
    alive: bool = True
    memory_samples_mb: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        samples = self.memory_samples_mb
        return {"name": self.name, "url": self.url, "address": self.address, "container": self.container,
                "container_id": (self.container_id or "")[:12] or None, "incidents": len(self.incidents),
                "alive": self.alive,
                "memory_mb": ({"peak": round(max(samples), 1), "mean": round(sum(samples) / len(samples), 1),
                               "samples": len(samples)} if samples else None)}


def external_workers(urls: list[str]) -> list[Worker]:
    """Workers that already run (``--worker URL,...``): their address is the URL's host."""
    workers = []
    for index, url in enumerate(urls):
        host = urlsplit(url).hostname
        if not host:
            raise UserError(f"--worker {url!r}: use http://HOST:PORT of an agent server")
        workers.append(Worker(name=f"worker-{index}", url=url.rstrip("/"), address=host))
    return workers


class WorkerPool:
    """Workers started for one orchestration; ``close()`` removes them and their network."""

    def __init__(self, client, *, run_id: str, image: str, count: int, api_key: str,
                 memory_limit: str | None = "1g", keep: bool = False):
        if count < 1:
            raise UserError(f"--workers must be >= 1 (got {count})")
        self.client, self.run_id, self.image, self.count = client, run_id, image, count
        self.api_key, self.memory_limit, self.keep = api_key, memory_limit, keep
        self.network_name = f"sre-orch-{run_id}"
        self.network = None
        self.gateway: str | None = None
        self.workers: list[Worker] = []
        self._closed = False

    def labels(self, role: str) -> dict[str, str]:
        from openhands_driver import ownership
        from openhands_driver.target.docker_engine import LABEL_MANAGED, LABEL_OWNER, LABEL_RUN_ID

        labels = {LABEL_MANAGED: "true", LABEL_RUN_ID: self.run_id, LABEL_ROLE: role}
        if not self.keep:  # kept workers outlive us: no owner, so the janitor leaves them
            labels[LABEL_OWNER] = ownership.token(ownership.current())
        return labels

    def start(self) -> list[Worker]:
        """Create the network and the containers, then wait (in parallel) for every /health."""
        self.network = self.client.networks.create(self.network_name, driver="bridge",
                                                   labels=self.labels("worker-network"), check_duplicate=True)
        self.network.reload()
        self.gateway = self.network.attrs["IPAM"]["Config"][0]["Gateway"]
        for index in range(self.count):
            name = f"sre-worker-{self.run_id}-{index}"
            worker = Worker(name=f"worker-{index}", url="", address="", container=name)
            self.workers.append(worker)  # before create: close() removes it whatever happens next
            kwargs = {"mem_limit": self.memory_limit} if self.memory_limit else {}
            container = self.client.containers.run(
                self.image, name=name, detach=True, init=True, network=self.network_name,
                labels=self.labels("worker"), environment={"SESSION_API_KEY": self.api_key},
                hostname=name[-63:], **kwargs)
            container.reload()
            worker.container_id = container.id
            worker.address = container.attrs["NetworkSettings"]["Networks"][self.network_name]["IPAddress"]
            worker.url = f"http://{worker.address}:{AGENT_PORT}"
        with ThreadPoolExecutor(max_workers=self.count) as pool:
            problems = [p for p in pool.map(self._wait_healthy, self.workers) if p]
        if problems:
            raise RuntimeError("workers did not start: " + "; ".join(problems))
        return self.workers

    def _wait_healthy(self, worker: Worker) -> str | None:
        from openhands_driver.orchestrator.agent_api import AgentServerClient

        api = AgentServerClient(worker.url, self.api_key)
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        reason = "not started"
        try:
            while time.monotonic() < deadline:
                reason = api.health()
                if reason is None:
                    return None
                if not self.container_running(worker):
                    return f"{worker.container} exited: {self._logs(worker)}"
                time.sleep(0.5)
        finally:
            api.close()
        return f"{worker.container} ({worker.url}) not healthy after {WORKER_START_TIMEOUT_S:.0f}s: {reason}"

    def container_running(self, worker: Worker) -> bool:
        from docker.errors import DockerException

        try:
            state = self.client.api.inspect_container(worker.container_id or worker.container)["State"]
        except DockerException:
            return False
        return bool(state.get("Running"))

    def sample_memory(self) -> None:
        """One ``docker stats`` reading per live worker (MiB), kept on the worker."""
        for worker in self.workers:
            if not worker.alive or not worker.container_id:
                continue
            try:
                stats = self.client.api.stats(worker.container_id, stream=False)
                usage = stats.get("memory_stats", {}).get("usage")
                if usage:
                    cache = (stats["memory_stats"].get("stats") or {}).get("inactive_file", 0)
                    worker.memory_samples_mb.append((usage - cache) / 2**20)
            except Exception:  # noqa: BLE001  (a worker that just died: nothing to read)
                continue

    def _logs(self, worker: Worker) -> str:
        try:
            return self.client.api.logs(worker.container_id, tail=15).decode("utf-8", "replace")
        except Exception:  # noqa: BLE001
            return "(no logs)"

    def close(self) -> list[str]:
        """Remove the containers, then the network (unless kept). Idempotent; returns what it removed."""
        if self._closed or self.keep:
            self._closed = True
            return []
        self._closed = True
        from docker.errors import DockerException, NotFound

        removed = []
        for worker in self.workers:
            try:
                self.client.api.remove_container(worker.container_id or worker.container, force=True, v=True)
                removed.append(worker.container)
            except NotFound:
                continue
            except DockerException:
                continue
        for _ in range(3):
            try:
                if self.network is not None:
                    self.network.remove()
                    removed.append(self.network_name)
                break
            except NotFound:
                break
            except DockerException:  # endpoints still detaching
                time.sleep(0.5)
        return removed


def new_api_key() -> str:
    return secrets.token_urlsafe(24)


def new_run_id() -> str:
    return f"{time.strftime('%m%d%H%M%S')}-{uuid.uuid4().hex[:4]}"


class Monitor:
    """Every ``interval_s``: marks workers whose container stopped as dead (``on_dead(worker)``: the
    orchestrator ends their conversations), and samples the workers' memory."""

    def __init__(self, pool: WorkerPool | None, interval_s: float = 1.0, on_dead=None, on_dead_again=None):
        self.pool, self.interval_s, self.on_dead, self.on_dead_again = pool, interval_s, on_dead, on_dead_again
        self._stop = threading.Event()
        self._samples = 0
        self._thread = threading.Thread(target=self._loop, name="worker-monitor", daemon=True)

    def start(self) -> "Monitor":
        if self.pool is not None:
            self._thread.start()
        return self

    def _loop(self) -> None:
        dead: list[Worker] = []
        while not self._stop.wait(self.interval_s):
            try:
                for worker in self.pool.workers:
                    if worker.alive and not self.pool.container_running(worker):
                        worker.alive = False
                        dead.append(worker)
                        if self.on_dead is not None:
                            self.on_dead(worker)
                    elif worker in dead and self.on_dead_again is not None:
                        # a conversation that opened just before the worker died registers late:
                        # every pass ends what still runs on a dead worker
                        self.on_dead_again(worker)
                self._samples += 1
                if self._samples % 2 == 1:  # docker stats takes ~1 s per container: every other pass
                    self.pool.sample_memory()
            except Exception as exc:  # noqa: BLE001  the monitor must outlive one bad pass
                print(f"[orchestrator] worker monitor: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
