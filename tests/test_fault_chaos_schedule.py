"""Fault class chaos_schedule (target_service/fault_chaos_schedule.py) and its skill chaos-schedule."""

from __future__ import annotations

import json
import time
import unittest
from pathlib import Path

from openhands_driver.target.local import LocalTarget
from target_service import app as service_app
from target_service import faults
from tests.support.traffic_dependency_cases import FaultClassChecks, http_get

# ITBench scheduleSpecs (scenarios 17, 19, 21, 26, 27) as the importer passes them.
DELAY = {"type": "NetworkChaos", "networkChaos": {"action": "delay", "delay": {"latency": "20000ms"},
                                                  "mode": "all"}}
PARTITION = {"type": "NetworkChaos", "networkChaos": {
    "action": "partition", "direction": "to", "mode": "all",
    "target": {"mode": "all", "selector": {"labelSelectors": {"app.kubernetes.io/component": "quote"}}}}}
MEMORY_STRESS = {"type": "StressChaos", "stressChaos": {"duration": "55s", "mode": "all",
                                                        "stressors": {"memory": {"size": "100%"}}}}
HTTP_PATCH = {"type": "HTTPChaos", "httpChaos": {"method": "POST", "patch": {"body": {"type": "JSON"}},
                                                 "target": "Request"}}
HTTP_ABORT = {"type": "HTTPChaos", "httpChaos": {"abort": True, "method": "POST", "target": "Request"}}


class ChaosScheduleTest(FaultClassChecks, unittest.TestCase):
    FAULT = "chaos_schedule"
    SKILL = "chaos-schedule"

    def fix(self, root: Path, variant: dict) -> None:  # delete the schedule
        (root / variant["may_change"][0]).unlink()

    def workaround(self, root: Path, variant: dict) -> None:  # watch an empty directory instead
        config = json.loads((root / faults.SERVICE_JSON).read_text())
        config["chaos_dir"] = "srv/empty-schedules"
        (root / "srv/empty-schedules").mkdir(parents=True, exist_ok=True)
        (root / faults.SERVICE_JSON).write_text(json.dumps(config))

    def damage_decoy(self, root: Path, variant: dict) -> None:  # "delete every schedule"
        for rel in variant["decoys"]:
            (root / rel).unlink()

    def test_pausing_is_an_equivalent_fix(self) -> None:
        v = self.variant(2)
        root = self.root_for(v)
        path = root / v["may_change"][0]
        manifest = json.loads(path.read_text())
        manifest["metadata"]["annotations"] = {"experiment.chaos-mesh.org/pause": "true"}
        path.write_text(json.dumps(manifest))
        self.assertTrue(self.oracle(root, v)["passed"])
        self.assertEqual(service_app.chaos_disruptions(root), [])

    def test_each_decoy_alone_fails_the_oracle(self) -> None:
        v = self.variant(4)
        for rel in v["decoys"]:
            with self.subTest(decoy=rel):
                root = self.root_for(v)
                self.fix(root, v)
                (root / rel).unlink()
                self.assertFalse(self.oracle(root, v)["passed"])

    def test_itbench_params_keep_working(self) -> None:
        cases = {
            "partition": (PARTITION, "upstream quote: network is unreachable", 0),
            "stress": (MEMORY_STRESS, "allocation failed: MemoryError", 0),
            "patch": (HTTP_PATCH, "POST request body rewritten", 0),
            "abort": (HTTP_ABORT, "POST request aborted before a response", 0),
            "delay": (DELAY, None, 20000),
            "chaos-schedule": (DELAY, None, 20000),  # importer's fallback name
        }
        for name, (spec, reason, delay_ms) in cases.items():
            with self.subTest(experiment=name):
                root = self.root_for({"params": {"name": name, "schedule_spec": spec}})
                [effect] = service_app.chaos_disruptions(root)
                self.assertEqual(effect.delay_ms, delay_ms)
                if reason is None:
                    self.assertIsNone(effect.reason)
                else:
                    self.assertIn(reason, service_app.health(root, service_app.load_config(root)))
                self.assertNotIn("chaos-schedule", effect.source)
                rel = "etc/chaos/%s.json" % ("recurring-experiment" if name == "chaos-schedule" else name)
                self.assertIn(f"from experiment schedule '{rel[10:-5]}' ({rel})", effect.source)

    def test_latency_is_real_and_bounded(self) -> None:
        spec = {"type": "NetworkChaos", "networkChaos": {"action": "delay", "delay": {"latency": "20s"}}}
        with LocalTarget(scenario_id="delay", fault="chaos_schedule",
                         fault_params={"name": "slow", "schedule_spec": spec}) as target:
            began = time.monotonic()
            self.assertEqual(http_get(target.url, timeout=10)[0], 200)  # late, but right
            took = time.monotonic() - began
            self.assertGreaterEqual(took, 4.5)
            self.assertLess(took, 8.0)  # capped well below the configured 20 s
            self.assertIsNone(http_get(target.url, timeout=2.0)[0])
            self.assertIn("request affected by NetworkChaos delay from experiment schedule 'slow' "
                          "(etc/chaos/slow.json): request delayed 5000ms", target.logs(20))
            (target.root / "etc/chaos/slow.json").unlink()
            self.assertEqual(http_get(target.url, timeout=1.0)[0], 200)


if __name__ == "__main__":
    unittest.main()
