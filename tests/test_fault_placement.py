"""placement: generator, blind symptom, every variant injected (Pending, oracle false) and fixed
(oracle true, decoys untouched), the workarounds the oracle refuses, several injections sharing
one cluster, and the placement skill (all eight variants, local; one on Docker)."""

from __future__ import annotations

import json
import shutil
import tempfile
import unittest
from pathlib import Path

from target_service import scheduler
from target_service.fault_placement import LAST_APPLIED, VARIANTS, Placement
from tests.support import service_faults as sf

# One seed per variant (see faults.make_variant("placement", seed)["params"]["variant"]).
SEED_OF = {"quota": 0, "cordoned": 2, "anti_affinity": 3, "preemption": 8, "cluster_loss": 9,
           "volume_claim": 11, "node_selector": 17, "capacity": 21}


def _fix(root: Path, params: dict) -> None:
    """The correct fix, by hand: the broken field from the annotation, the incident's nodes
    uncordoned, or the quota's last applied values."""
    p = Placement._p(params)
    if p["variant"] == "quota":
        path = root / p["quota_file"]
        doc = json.loads(path.read_text())
        doc["spec"]["hard"] = json.loads(doc["metadata"]["annotations"][LAST_APPLIED])["spec"]["hard"]
        path.write_text(json.dumps(doc))
    elif p["cordon"]:
        for node in p["cordon"]:
            path = root / Placement.node_file(p, node)
            doc = json.loads(path.read_text())
            doc["spec"].pop("unschedulable")
            path.write_text(json.dumps(doc))
    else:
        path = root / p["workload_file"]
        doc = json.loads(path.read_text())
        doc["template"] = json.loads(doc["metadata"]["annotations"][LAST_APPLIED])["template"]
        path.write_text(json.dumps(doc))


class PlacementTest(sf.ServiceFaultCase):
    FAULT = "placement"
    SKILL = "placement"
    RESTART_AFTER_FIX = True
    SEEDS = tuple(SEED_OF[v] for v in ("quota", "cordoned", "anti_affinity", "preemption", "cluster_loss",
                                        "volume_claim", "node_selector", "capacity"))

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn("is Pending: ", logs)
        self.assertIn("nodes are available", logs)  # seed 3: anti-affinity
        self.assertIn("didn't match pod anti-affinity rules", logs)

    def root(self, params: dict) -> Path:
        root = Path(tempfile.mkdtemp(prefix="placement-"))
        self.addCleanup(shutil.rmtree, root, True)
        sf.faults.inject(root, self.FAULT, scenario_id="x", listen_port=18080, params=params)
        return root

    def test_seed_table_and_every_variant_drawn(self) -> None:
        for variant, seed in SEED_OF.items():
            self.assertEqual(self.variant(seed)["params"]["variant"], variant)
        self.assertEqual({self.variant(s)["params"]["variant"] for s in range(30)}, set(VARIANTS))

    def test_every_variant_pending_then_fixed(self) -> None:
        needles = {"node_selector": "didn't match Pod's node affinity/selector",
                   "cordoned": "3 node(s) were unschedulable", "cluster_loss": "4 node(s) were unschedulable",
                   "anti_affinity": "didn't match pod anti-affinity rules",
                   "preemption": "No preemption victims found for incoming pod (pod priority -10)",
                   "quota": "exceeded quota", "volume_claim": 'persistentvolumeclaim "',
                   "capacity": "2 Insufficient cpu, 2 Insufficient memory"}
        for variant in VARIANTS:
            with self.subTest(variant=variant):
                params = self.variant(SEED_OF[variant])["params"]
                root = self.root(params)
                before = sf.digests(root, Placement().decoys(params))
                waiting = scheduler.pending(root)
                self.assertEqual(len(waiting), 1, waiting)
                self.assertIn(needles[variant], waiting[0])
                self.assertFalse(sf.faults.run_oracle(root, self.FAULT, params)["passed"])
                _fix(root, params)
                self.assertEqual(scheduler.pending(root), [])
                result = sf.faults.run_oracle(root, self.FAULT, params)
                self.assertTrue(result["passed"], result)
                self.assertEqual(sf.digests(root, Placement().decoys(params)), before)

    def test_oracle_refuses_workarounds(self) -> None:
        def broken(variant: str) -> tuple[Path, dict, dict]:
            params = self.variant(SEED_OF[variant])["params"]
            return self.root(params), params, Placement._p(params)

        # uncordoning the node under maintenance places the pod, but damages the decoy
        root, params, p = broken("cordoned")
        path = root / Placement.node_file(p, p["maintenance"])
        doc = json.loads(path.read_text())
        doc["spec"]["unschedulable"] = False
        path.write_text(json.dumps(doc))
        self.assertEqual(scheduler.pending(root), [])
        self.assertFalse(sf.faults.run_oracle(root, self.FAULT, params)["passed"])
        # relabelling a node to match the bogus nodeSelector
        root, params, p = broken("node_selector")
        path = root / Placement.node_file(p, p["workers"][0])
        doc = json.loads(path.read_text())
        doc["metadata"]["labels"]["kubernetes.io/hostname"] = p["ghost"]
        path.write_text(json.dumps(doc))
        self.assertEqual(scheduler.pending(root), [])
        self.assertFalse(sf.faults.run_oracle(root, self.FAULT, params)["passed"])
        # deleting the higher-priority pods to make room
        root, params, p = broken("preemption")
        for pod in (root / p["cluster_dir"] / "pods").glob("nightly-reindex-*.json"):
            pod.unlink()
        self.assertEqual(scheduler.pending(root), [])
        self.assertFalse(sf.faults.run_oracle(root, self.FAULT, params)["passed"])
        # raising the nodes' capacity instead of the requests
        root, params, p = broken("capacity")
        for node in p["workers"]:
            path = root / Placement.node_file(p, node)
            doc = json.loads(path.read_text())
            doc["status"]["allocatable"] = {"cpu": "64", "memory": "256Gi", "pods": 110}
            path.write_text(json.dumps(doc))
        self.assertEqual(scheduler.pending(root), [])
        self.assertFalse(sf.faults.run_oracle(root, self.FAULT, params)["passed"])
        # dropping the workload from the schedule (the app would start unconstrained)
        root, params, p = broken("volume_claim")
        config = json.loads((root / "etc/service.json").read_text())
        config.pop("cluster_dir")
        (root / "etc/service.json").write_text(json.dumps(config))
        self.assertEqual(scheduler.pending(root), [])
        self.assertFalse(sf.faults.run_oracle(root, self.FAULT, params)["passed"])
        # deleting the quota is a fix ITBench accepts
        root, params, p = broken("quota")
        (root / p["quota_file"]).unlink()
        self.assertTrue(sf.faults.run_oracle(root, self.FAULT, params)["passed"])

    def test_two_injections_share_one_cluster(self) -> None:
        """ITBench 33: two Deployments (ad, cart) pinned to a node that does not exist."""
        specs = [{"fault": self.FAULT, "params": {"variant": "node_selector", "workload": name,
                                                   "namespace": "otel-demo"}} for name in ("ad", "cart")]
        root = Path(tempfile.mkdtemp(prefix="placement-"))
        self.addCleanup(shutil.rmtree, root, True)
        sf.faults.inject(root, None, scenario_id="x", listen_port=18080, faults=specs)
        self.assertEqual(len(scheduler.pending(root)), 2)
        one = dict(specs[0]["params"], service="checkout")
        _fix(root, one)
        self.assertEqual(len(scheduler.pending(root)), 1)
        self.assertFalse(sf.faults.run_oracles(root, specs)["passed"])
        _fix(root, dict(specs[1]["params"], service="checkout"))
        self.assertTrue(sf.faults.run_oracles(root, specs)["passed"])

    def test_a_placed_workload_is_not_reported_while_another_fault_remains(self) -> None:
        """ITBench 52: a quota plus a load flag. Once the skill fixed the quota the app runs and
        fails on the flag; the old Pending lines in the log must not make the skill act again."""
        from openhands_driver.target.local import LocalTarget

        target = LocalTarget(scenario_id="inst-x", fault=None, injections=[
            {"fault": self.FAULT, "params": {"variant": "quota", "workload": "checkout", "namespace": "otel-demo"}},
            {"fault": "feature_flag", "params": {"flag": "loadGeneratorFloodHomepage", "variant": "on"}}])
        self.addCleanup(target.cleanup)
        target.start()
        skill = sf.SKILLS / self.SKILL
        self.assertTrue(sf.run_script(target, skill / "diagnose.py")[1]["fault_present"])
        self.assertEqual(sf.run_script(target, skill / "remediate.py")[0], 0)
        self.assertEqual(sf.ctl(target, "restart")[0], 0)
        code, status = sf.ctl(target, "status")
        self.assertEqual(code, 1, status)  # the flood flag still fails every request
        _, logs = sf.ctl(target, "logs", "-n", "60")
        self.assertIn("is Pending", logs)  # the old lines are still there
        found = sf.run_script(target, skill / "diagnose.py")[1]
        self.assertFalse(found["fault_present"], found)
        self.assertEqual(sf.run_script(target, skill / "remediate.py")[0], 1)

    def test_restart_alone_does_not_help_and_a_fix_needs_no_restart(self) -> None:
        target, variant = self.target(SEED_OF["cordoned"])
        self.assertNotEqual(sf.ctl(target, "restart")[0], 0)  # still Pending after the restart
        self.assertFalse(self.oracle(target, variant)["passed"])
        _fix(target.root, variant["params"])
        import time
        for _ in range(40):  # the scheduler retries with backoff (at most 5 s)
            if sf.ctl(target, "status")[0] == 0:
                break
            time.sleep(0.25)
        self.assertEqual(sf.ctl(target, "status")[0], 0)
        _, logs = sf.ctl(target, "logs", "-n", "20")
        self.assertIn("Scheduled: assigned pod/", logs)
        self.assertTrue(self.oracle(target, variant)["passed"])


if __name__ == "__main__":
    unittest.main()
