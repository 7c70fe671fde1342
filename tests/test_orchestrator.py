"""The orchestrator (openhands_driver/orchestrator/): incidents on agent-server workers, each target
inside its worker, verified from here over the worker's bridge address.

The end-to-end classes need a Docker engine that can create a bridge network, the local base image
(scripts/docker_engine.sh base-image) and the optional extra ``remote``; they skip with the reason
when one is missing. The worker image is built once (offline) and reused while its sources match.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from openhands_driver.config import RunConfig
from openhands_driver.fanout.records import FanoutConfig, Incident
from openhands_driver.orchestrator.engine import (OrchestratorConfig, by_severity, plan_assignment,
                                                  run_orchestrated, severity)
from openhands_driver.scenarios import Scenario

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "fanout_orchestrated_remote.py"
LABEL_RUN_ID = "openhands-gepa-sre.run_id"


def _incident(index: int, level: str | None = None, runnable: bool = True) -> Incident:
    extra = {"severity": level} if level else {}
    scenario = Scenario(scenario_id=f"s{index}", local_fault="stale_lockfile" if runnable else None,
                        error_report="x", title="x", extra=extra,
                        **({} if runnable else {"unsupported_reason": "none"}))
    return Incident(index=index, scenario=scenario, arrival_s=float(index))


class SchedulingTest(unittest.TestCase):
    def test_severity_first_then_arrival(self):
        incidents = [_incident(0, "low"), _incident(1, "critical"), _incident(2), _incident(3, "P1"),
                     _incident(4, "not-a-level")]
        self.assertEqual([severity(i) for i in incidents], ["P4", "P1", "P3", "P1", "P3"])
        self.assertEqual([i.index for i in by_severity(incidents)], [1, 3, 2, 4, 0])

    def test_plan_fills_the_least_loaded_worker_in_queue_order(self):
        incidents = [_incident(0, "low"), _incident(1, "critical"), _incident(2), _incident(3, "P1"),
                     _incident(4, runnable=False)]
        plan = plan_assignment(incidents, ["w0", "w1"])
        self.assertEqual(plan, {1: "w0", 3: "w1", 2: "w0", 0: "w1"})  # 4 is not runnable: no worker

    def test_simulate_plans_without_starting_anything(self):
        env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
        proc = subprocess.run([sys.executable, str(SCRIPT), "--simulate", "--scenarios",
                               "stale_lockfile,port_mismatch,healthy", "--training-data",
                               str(REPO / "training_data" / "scenarios.json"), "--workers", "2", "--json",
                               "--no-progress"], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        report = json.loads(proc.stdout)
        self.assertEqual((report["kind"], report["dry_run_proxy"]), ("orchestrated", True))
        self.assertIsNone(report["summary"]["fixed"], "a dry run claims nothing")
        self.assertEqual([r["worker"] for r in report["rows"]], ["worker-0", "worker-1", "worker-0"])

    def test_workers_and_worker_urls_exclude_each_other(self):
        proc = subprocess.run([sys.executable, str(SCRIPT), "--workers", "2", "--worker", "http://10.0.0.1:8000"],
                              capture_output=True, text=True, timeout=60, cwd=REPO)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("not both", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


_ENGINE: dict = {}


def _engine() -> dict:
    """The engine + the worker image, once per test process; SkipTest with the reason otherwise."""
    if not _ENGINE:
        from openhands_driver.remote import LocalAgentServer

        if not LocalAgentServer.available():
            _ENGINE["skip"] = "openhands-agent-server is not installed: uv sync --locked --extra remote"
        else:
            from openhands_driver.target.docker_engine import connect, engine_problem

            problem = engine_problem()
            if problem:
                _ENGINE["skip"] = f"needs a Docker engine: {problem}"
            else:
                from docker.errors import APIError

                from openhands_driver.orchestrator.image import build_worker_image

                client = connect()
                try:  # a user-defined bridge is what the workers need: check the engine can make one
                    client.networks.create(f"sre-orch-probe-{uuid.uuid4().hex[:6]}", driver="bridge").remove()
                except APIError as exc:
                    _ENGINE["skip"] = f"the Docker engine cannot create a bridge network: {exc}"
                else:
                    try:
                        _ENGINE.update(client=client, image=build_worker_image(client)["tag"])
                    except Exception as exc:  # noqa: BLE001  (no local base image, no uv cache, ...)
                        _ENGINE["skip"] = f"the worker image cannot be built here: {exc}"
    if "skip" in _ENGINE:
        raise unittest.SkipTest(_ENGINE["skip"])
    return _ENGINE


def _config(tmp: Path, scenarios: list[str], run_id: str, workers: int = 2) -> OrchestratorConfig:
    run = RunConfig(training_data=None, trace_log=tmp / "trace.jsonl", verify_interval_s=0.3,
                    run_timeout_s=180)
    fanout = FanoutConfig(run=run, scenario_ids=scenarios, log_dir=tmp / "logs", fanout_id=run_id)
    return OrchestratorConfig(fanout=fanout, workers=workers, agent_image=_ENGINE["image"])


def _ours(client, run_id: str) -> tuple[list, list]:
    label = {"label": [f"{LABEL_RUN_ID}={run_id}"]}
    return client.containers.list(all=True, filters=label), client.networks.list(filters=label)


class OrchestratedRunTest(unittest.TestCase):
    def setUp(self):
        self.engine = _engine()
        self.tmp = Path(tempfile.mkdtemp(prefix="sre-orch-test-"))
        self.run_id = f"orch-test-{uuid.uuid4().hex[:6]}"

    def tearDown(self):
        import shutil

        for container in _ours(self.engine["client"], self.run_id)[0]:  # only after a failed test
            container.remove(force=True)
        for network in _ours(self.engine["client"], self.run_id)[1]:
            network.remove()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_four_incidents_on_two_workers_fixed_and_verified_from_here(self):
        client = self.engine["client"]
        seen: dict[str, list[str]] = {}  # worker container -> processes, read while the run goes on
        stop = threading.Event()

        def watch():
            while not stop.wait(0.5):
                for container in _ours(client, self.run_id)[0]:
                    try:
                        procs = [" ".join(p) for p in container.top(ps_args="-eo pid,args")["Processes"]]
                    except Exception:  # noqa: BLE001
                        continue
                    seen.setdefault(container.name, []).extend(p for p in procs if "supervisor.py" in p)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            report = run_orchestrated(_config(self.tmp, ["stale_lockfile", "port_mismatch",
                                                         "readiness_probe_fail", "bad_env_config"], self.run_id),
                                      stream=io.StringIO(), progress=False)
        finally:
            stop.set()
            watcher.join()
        summary, rows = report["summary"], report["rows"]
        self.assertEqual((summary["total"], summary["fixed"]), (4, 4), json.dumps(rows, default=str)[:3000])
        workers = {w["name"]: w for w in report["workers"]}
        self.assertEqual(len(workers), 2)
        self.assertEqual({r["worker"] for r in rows}, set(workers), "both workers got incidents")
        for row in rows:
            worker = workers[row["worker"]]
            target = row["target"]
            self.assertTrue(row["resolved"], row)
            self.assertEqual(target["backend"], "worker")
            # verified over the worker's bridge address, never this host's loopback
            self.assertEqual(urlsplit(target["url"]).hostname, worker["address"])
            self.assertNotIn(worker["address"], ("127.0.0.1", "localhost"))
            trace = [json.loads(line) for line in (self.tmp / "trace.jsonl").read_text().splitlines()]
            final = [t for t in trace if t["run_id"] == row["run_id"] and t["status"] != "started"][-1]
            self.assertTrue(final["verification"]["verified"])
            self.assertTrue(final["verification"]["identity"]["ok"], final["verification"]["identity"])
            # the target's supervisor ran inside that worker's container (seen by the engine)
            processes = seen.get(worker["container"], [])
            self.assertTrue(any(target["root"] in p for p in processes),
                            f"no supervisor for {target['root']} in {worker['container']}: {processes[:5]}")
            for other in set(workers) - {row["worker"]}:
                self.assertFalse(any(target["root"] in p for p in seen.get(workers[other]["container"], [])))
        containers, networks = _ours(client, self.run_id)
        self.assertEqual((containers, networks), ([], []), "workers and their network are removed")

    def test_workers_that_already_run_are_driven_by_url(self):
        """--worker URL: the same code path on an agent server started by somebody else."""
        client = self.engine["client"]
        network = client.networks.create(f"sre-orch-{self.run_id}", driver="bridge",
                                         labels={LABEL_RUN_ID: self.run_id})
        network.reload()
        gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
        key = uuid.uuid4().hex
        container = client.containers.run(self.engine["image"], name=f"sre-ext-{self.run_id}", detach=True,
                                          init=True, network=network.name, environment={"SESSION_API_KEY": key},
                                          labels={LABEL_RUN_ID: self.run_id})
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        config = _config(self.tmp, ["stale_lockfile"], self.run_id)
        config.worker_urls, config.api_key, config.brain_host = [f"http://{address}:8000"], key, gateway
        from openhands_driver.remote import health

        deadline = time.monotonic() + 120
        while health(f"http://{address}:8000") is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        report = run_orchestrated(config, stream=io.StringIO(), progress=False)
        row = report["rows"][0]
        self.assertEqual(row["status"], "fixed", row)
        self.assertEqual(urlsplit(row["target"]["url"]).hostname, address)
        container.reload()
        self.assertEqual(container.status, "running", "a worker we did not start is never removed")

    def test_a_worker_killed_mid_incident_fails_only_its_incident(self):
        client = self.engine["client"]
        victim = f"sre-worker-{self.run_id}-1"
        killed: list[str] = []
        stop = threading.Event()

        def killer():  # kill worker 1 once its agent has run a command (mid-conversation)
            while not stop.wait(0.3):
                try:
                    container = client.containers.get(victim)
                except Exception:  # noqa: BLE001  (not created yet)
                    continue
                address = container.attrs["NetworkSettings"]["Networks"].get(f"sre-orch-{self.run_id}", {}).get("IPAddress")
                logs = [p.read_text(errors="replace") for p in (self.tmp / "logs").glob("*.log")]
                if address and any(f"http://{address}:" in log and "[agent] terminal" in log for log in logs):
                    container.kill()
                    killed.append(victim)
                    return

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            report = run_orchestrated(_config(self.tmp, ["stale_lockfile", "port_mismatch", "readiness_probe_fail"],
                                              self.run_id), stream=io.StringIO(), progress=False)
        finally:
            stop.set()
            thread.join()
        self.assertEqual(killed, [victim])
        rows = report["rows"]
        on_victim = [r for r in rows if r["worker"] == "worker-1"]
        self.assertEqual(len(on_victim), 1, rows)
        self.assertEqual(on_victim[0]["status"], "error")
        self.assertIn("worker-1", on_victim[0]["error"])
        others = [r for r in rows if r["worker"] != "worker-1"]
        self.assertEqual([r["status"] for r in others], ["fixed", "fixed"], others)
        self.assertEqual({r["worker"] for r in others}, {"worker-0"})
        self.assertEqual(report["summary"]["total"], 3)
        self.assertEqual(_ours(client, self.run_id), ([], []))


class SignalTest(unittest.TestCase):
    def test_sigterm_removes_the_workers_and_their_network(self):
        import os
        import signal

        client = _engine()["client"]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.Popen([sys.executable, str(SCRIPT), "--scenarios", "stale_lockfile,port_mismatch",
                                 "--training-data", str(REPO / "training_data" / "scenarios.json"),
                                 "--workers", "2", "--agent-image", _ENGINE["image"], "--disable-trace-log",
                                 "--no-progress"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        owner = f"{proc.pid}:"

        def ours() -> list:
            found = client.containers.list(all=True, filters={"label": ["openhands-gepa-sre.role=worker"]})
            found += client.networks.list(filters={"label": ["openhands-gepa-sre.role=worker-network"]})
            return [x for x in found if (x.attrs.get("Labels") or x.attrs.get("Config", {}).get("Labels") or {})
                    .get("openhands-gepa-sre.owner", "").startswith(owner)]

        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(ours()) < 3 and proc.poll() is None:
                time.sleep(0.5)
            self.assertEqual(len(ours()), 3, "two workers and their network were started")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.assertEqual(proc.returncode, 130, err[-2000:])
        self.assertNotIn("Traceback", err)
        self.assertEqual(ours(), [], "SIGTERM removes the workers and the network")


if __name__ == "__main__":
    unittest.main()
