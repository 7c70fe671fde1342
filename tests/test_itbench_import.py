"""Tests for openhands_driver/itbench/ and scripts/import_itbench_sre.py.

Uses the real ITBench sample at <repo>/../shared/itbench (skipped with a reason when absent) and temporary
writable copies of it for the quirk, URL and error cases. No network; git is needed only for the URL test.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from openhands_driver.itbench import (  # noqa: E402
    FAULT_MAP, LOCAL_FAULTS, ImportConfig, Injection, ItbenchImportError, ItbenchIncident, import_itbench,
    map_fault, map_incident,
)

SAMPLE = REPO_ROOT.parent / "shared" / "itbench"
SCRIPT = REPO_ROOT / "scripts" / "import_itbench_sre.py"
SRE = Path("scenarios/sre")
INDEX = SRE / "library/indexes/scenarios"
CASES = SRE / "project/roles/scenarios/files"
NO_SAMPLE = f"ITBench sample not found at {SAMPLE} (expected <repo>/../shared/itbench)"
STAMP = "2026-01-01T00:00:00+00:00"


def writable_copy(dest: Path) -> Path:
    """Copy the (read-only) sample to dest and make it writable so tests can edit and clean it up."""
    shutil.copytree(SAMPLE, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dest


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def raw_index(root: Path) -> dict[int, dict]:
    return {int(p.stem): json.loads(p.read_text()) for p in (root / INDEX).glob("*.json")}


@unittest.skipUnless(SAMPLE.is_dir(), NO_SAMPLE)
class SampleImportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.catalog = import_itbench(ImportConfig(str(SAMPLE)), imported_at=STAMP)
        cls.records = {r["source"]["id"]: r for r in cls.catalog["scenarios"]}
        cls.raw = raw_index(SAMPLE)

    def test_counts_and_finops_exclusion(self) -> None:
        summary = self.catalog["summary"]
        sre_ids = sorted(i for i, d in self.raw.items() if d["category"] == "sre")
        self.assertEqual(summary["total_sre"], len(sre_ids))
        self.assertEqual(summary["total_sre"], 27)
        self.assertEqual(summary["finops_excluded"], 1)
        self.assertEqual(summary["finops_excluded_ids"], [38])
        self.assertNotIn(38, self.records)
        self.assertEqual(summary["supported"] + summary["unsupported"], summary["total_sre"])
        self.assertEqual(sum(summary["by_local_fault"].values()), summary["supported"])
        self.assertEqual([r["source"]["id"] for r in self.catalog["scenarios"]], sre_ids)  # ordered by source id

    def test_every_record_is_valid(self) -> None:
        self.assertEqual(self.catalog["schema_version"], 2)
        ids = [r["scenario_id"] for r in self.catalog["scenarios"]]
        self.assertEqual(len(ids), len(set(ids)))
        for sid, rec in self.records.items():
            with self.subTest(scenario=sid):
                self.assertRegex(rec["scenario_id"], rf"^itbench_{sid}_[a-z0-9_]+$")
                self.assertTrue(rec["title"] and rec["name"] and rec["error_report"])
                self.assertEqual(rec["source"], {"benchmark": "itbench", "id": sid})
                if rec["local_fault"] is None:
                    self.assertIsInstance(rec["unsupported_reason"], str)
                    self.assertTrue(rec["unsupported_reason"].strip())
                    self.assertIsNone(rec["skill_id"])
                    self.assertFalse(rec["active"])
                else:
                    self.assertIsNone(rec["unsupported_reason"])
                    self.assertIn(rec["local_fault"], LOCAL_FAULTS)
                    self.assertEqual(rec["skill_id"], rec["local_fault"].replace("_", "-"))
                    self.assertTrue(rec["active"])
                    self.assertEqual(sum(inj["primary"] for inj in rec["injections"]), 1)

    def test_injections_alerts_and_ground_truth_preserved(self) -> None:
        for sid, rec in self.records.items():
            raw = self.raw[sid]
            with self.subTest(scenario=sid):
                expected = [(i["id"], i["args"]) for d in raw["disruptions"] for i in d["injections"]]
                self.assertEqual([(i["fault_id"], i["args"]) for i in rec["injections"]], expected)
                self.assertEqual([a["name"] for a in rec["alerts"]], raw["alerts"])
                for alert in raw["alerts"]:
                    self.assertIn(alert, rec["error_report"])  # verbatim, for keyword triggers
                self.assertEqual(rec["description"], raw["description"])
                self.assertEqual(rec["tags"], raw["tags"])
                self.assertEqual(rec["complexity"], raw["complexity"])
                self.assertTrue(rec["entities"])  # every sample scenario has a groundtruth v2
                self.assertNotIn("{{", json.dumps(rec["solutions"]))
        self.assertEqual([(e["kind"], e["name"]) for e in self.records[33]["entities"]],
                         [("Deployment", "ad"), ("Deployment", "cart")])
        self.assertEqual(len(self.records[33]["injections"]), 2)

    def test_error_report_reads_like_a_page(self) -> None:
        page = self.records[30]["error_report"]
        self.assertIn("ALERT HighRequestErrorRate firing for service ad (namespace otel-demo)", page)
        self.assertIn("ITBench scenario 30", page)
        self.assertIn("targetctl", page)
        self.assertIn("No alert is firing", self.records[1]["error_report"])  # empty alerts upstream

    def test_source_commit_from_readme_note_when_not_a_git_repo(self) -> None:
        self.assertEqual(self.catalog["source"]["commit"], "8949d5b2")
        self.assertEqual(self.catalog["source"]["commit_origin"], "README.md note")
        self.assertTrue(all(r["source_commit"] == "8949d5b2" for r in self.catalog["scenarios"]))

    def test_deterministic(self) -> None:
        again = import_itbench(ImportConfig(str(SAMPLE)), imported_at=STAMP)
        self.assertEqual(json.dumps(again, sort_keys=False), json.dumps(self.catalog, sort_keys=False))

    def test_committed_catalog_matches_a_fresh_import(self) -> None:
        committed = REPO_ROOT / "training_data" / "atlas_sre_scenarios.json"
        if not committed.is_file():
            self.skipTest(f"{committed} not generated yet (run scripts/import_itbench_sre.py)")
        data = json.loads(committed.read_text())
        self.assertEqual(data["summary"], self.catalog["summary"])
        self.assertEqual(data["scenarios"], self.catalog["scenarios"])


class MappingTest(unittest.TestCase):
    EXPECTED = {
        "opentelemetry-demo-feature-flag": "feature_flag",
        "scheduled-chaos-mesh-experiment": "chaos_schedule",
        "scaled-to-zero-kubernetes-workload": "scaled_to_zero",
        "nonexistent-kubernetes-workload-container-image": "bad_release",
        "unsupported-architecture-kubernetes-workload-container-image": "bad_release",
        "invalid-kubernetes-workload-container-command": "crash_loop",
        "crashing-kubernetes-workload-init-container": "crash_loop",
        "hanging-kubernetes-workload-init-container": "crash_loop",
        "valkey-workload-out-of-memory": "crash_loop",
        "corrupted-kubernetes-secret-credentials": "bad_credential",
        "valkey-workload-changed-password": "bad_credential",
        "insufficient-kubernetes-workload-container-resources": "resource_limit",
        "failing-name-resolution-kubernetes-workload-dns-policy": "dns_misconfig",
        # issue 14: the old stand-ins were different faults; these classes model the real mechanism
        "modified-target-port-kubernetes-service": "service_routing",
        "invalid-kubernetes-service-selector": "service_routing",
        "deleted-kubernetes-service": "service_routing",
        "misconfigured-kubernetes-workload-container-readiness-probe": "probe_misconfig",
        "modified-kubernetes-workload-container-environment-variable": "wrong_peer_address",
        # the gateway's traffic policies in front of the instance (fault_ingress_policy.py)
        "ingress-port-blocking-network-policy": "ingress_policy",
        "traffic-denying-istio-gateway-authorization-policy": "ingress_policy",
        "strict-mutual-tls-istio-service-mesh-enforcement": "ingress_policy",
        "disabled-istio-ambient-mode-kubernetes-namespace": "ingress_policy",
        # control plane and monitoring: no honest local analogue
        "kubernetes-api-server-request-surge": None,
        "exhausted-etcd-database-storage": None,
        "monitoring-probe-failure": None,
        # the local cluster's scheduler/admission (target_service/scheduler.py, fault_placement.py)
        "nonexistent-kubernetes-workload-node": "placement",
        "cordoned-kubernetes-worker-node": "placement",
        "cluster-availability-loss": "placement",
        "unschedulable-kubernetes-workload-pod-anti-affinity-rule": "placement",
        "priority-kubernetes-workload-priority-preemption": "placement",
        "insufficient-kubernetes-resource-quota": "placement",
        "nonexistent-kubernetes-workload-persistent-volume-claim": "placement",
        "node-resource-exhaustion": "placement",
        "aggressive-scaledown-kubernetes-horizontal-pod-autoscaler": None,
    }

    def test_specific_faults(self) -> None:
        for fault_id, local in self.EXPECTED.items():
            with self.subTest(fault=fault_id):
                self.assertEqual(map_fault(fault_id).local_fault, local)

    def test_unknown_fault_is_unsupported_with_reason(self) -> None:
        mapping = map_fault("made-up-kubernetes-fault")
        self.assertIsNone(mapping.local_fault)
        self.assertIn("made-up-kubernetes-fault", mapping.reason)

    def test_table_is_well_formed(self) -> None:
        for fault_id, mapping in FAULT_MAP.items():
            with self.subTest(fault=fault_id):
                self.assertTrue(mapping.reason.strip())
                self.assertIn(mapping.local_fault, (*LOCAL_FAULTS, None))

    @unittest.skipUnless(SAMPLE.is_dir(), NO_SAMPLE)
    def test_table_covers_the_sample_fault_catalog(self) -> None:
        catalog_ids = {json.loads(p.read_text())["id"] for p in (SAMPLE / SRE / "library/indexes/faults").glob("*.json")}
        self.assertEqual(len(catalog_ids), 31)
        self.assertEqual(catalog_ids - set(FAULT_MAP), set())

    @staticmethod
    def incident(*fault_ids: str) -> ItbenchIncident:
        return ItbenchIncident(1, "sre", "n", "n", "d", None, [], [], [], [Injection(f, {}, 0) for f in fault_ids],
                               [], [], True, True)

    def test_multi_injection_primary_and_blocking(self) -> None:
        aggravated = map_incident(self.incident("unassigned-kubernetes-workload-container-resource-limits",
                                                "scheduled-chaos-mesh-experiment"))
        self.assertEqual((aggravated.local_fault, aggravated.primary), ("chaos_schedule", 1))
        mixed = map_incident(self.incident("exhausted-etcd-database-storage", "opentelemetry-demo-feature-flag"))
        self.assertIsNone(mixed.local_fault)
        self.assertIn("injection 1 of 2 (exhausted-etcd-database-storage)", mixed.unsupported_reason)
        both = map_incident(self.incident("opentelemetry-demo-feature-flag", "scheduled-chaos-mesh-experiment"))
        self.assertEqual((both.local_fault, both.primary), ("feature_flag", 0))
        self.assertIsNone(map_incident(self.incident()).local_fault)


@unittest.skipUnless(SAMPLE.is_dir(), NO_SAMPLE)
class QuirksAndErrorsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="itbench-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.root = writable_copy(self.tmp / "itbench")

    def test_missing_groundtruth_unknown_fault_and_new_scenario(self) -> None:
        (self.root / CASES / "scenario_63" / "groundtruth.yaml").unlink()
        (self.root / CASES / "scenario_2" / "groundtruth_v1.yaml").unlink()
        new = json.loads((self.root / INDEX / "30.json").read_text())
        new.update(id=999, index=999, alerts=[], description="This scenario simulates something new.")
        new["disruptions"][0]["injections"][0]["id"] = "brand-new-upstream-fault"
        (self.root / INDEX / "999.json").write_text(json.dumps(new))
        catalog = import_itbench(ImportConfig(str(self.root)), imported_at=STAMP)
        records = {r["source"]["id"]: r for r in catalog["scenarios"]}
        self.assertEqual(catalog["summary"]["total_sre"], 28)
        r63 = records[63]
        self.assertEqual((r63["groundtruth"], r63["entities"]), ({"v2": False, "v1": True}, []))
        self.assertIn("email-service-secret", json.dumps(r63["solutions"]))  # index templates rendered from args
        self.assertNotIn("{{", json.dumps(r63["solutions"]))
        self.assertIn("no groundtruth_v1.yaml", records[2]["quirks"])
        r999 = records[999]
        self.assertIsNone(r999["local_fault"])
        self.assertIn("brand-new-upstream-fault", r999["unsupported_reason"])
        self.assertTrue(r999["scenario_id"].startswith("itbench_999_"))

    def test_malformed_index_json_is_a_clear_error(self) -> None:
        (self.root / INDEX / "5.json").write_text('{"id": 5, "category": "sre", ')
        with self.assertRaises(ItbenchImportError) as ctx:
            import_itbench(ImportConfig(str(self.root)))
        self.assertIn("5.json", str(ctx.exception))
        result = run_cli("--source", str(self.root), "--output", str(self.tmp / "out.json"), cwd=self.tmp)
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot parse ITBench index file", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertFalse((self.tmp / "out.json").exists())

    def test_wrong_shape_is_a_clear_error(self) -> None:
        (self.root / INDEX / "7.json").write_text(json.dumps({"id": "seven", "category": "sre"}))
        with self.assertRaisesRegex(ItbenchImportError, r"7\.json.*'id' must be an integer"):
            import_itbench(ImportConfig(str(self.root)))

    @unittest.skipUnless(shutil.which("git"), "git is not installed (needed to build a file:// source repo)")
    def test_git_url_source_records_head_commit(self) -> None:
        git = ["git", "-c", "user.name=itbench-test", "-c", "user.email=itbench-test@example.invalid",
               "-c", "commit.gpgsign=false", "-C", str(self.root)]
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "ITBench sample"]):
            subprocess.run(git + args, check=True, capture_output=True, env=env)
        head = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
        url, out = self.root.resolve().as_uri(), self.tmp / "nested" / "catalog.json"
        result = run_cli("--source", url, "--output", str(out), "--json", cwd=self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr)
        summary = json.loads(result.stdout)
        self.assertEqual((summary["source"]["commit"], summary["source"]["commit_origin"]), (head, "git"))
        self.assertEqual(summary["source"]["url"], url)
        catalog = json.loads(out.read_text())
        self.assertEqual({r["source_commit"] for r in catalog["scenarios"]}, {head})
        self.assertEqual(catalog["summary"]["total_sre"], 27)
        self.assertIn("ITBench import from", result.stderr)


class CliTest(unittest.TestCase):
    def test_missing_source_exits_2_without_traceback(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_cli("--source", str(Path(tmp) / "no-such-checkout"), "--output", str(Path(tmp) / "o.json"),
                             cwd=Path(tmp))
        self.assertEqual(result.returncode, 2)
        self.assertRegex(result.stderr, re.escape("is not a directory"))
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(result.stdout, "")


if __name__ == "__main__":
    unittest.main()


def _flag(name: str) -> dict:
    return {"flag": {"name": name, "state": "on"},
            "kubernetesObject": {"kind": "ConfigMap", "metadata": {"name": "flagd-config", "namespace": "otel-demo"}}}


class MultiInjectionRecordTest(unittest.TestCase):
    """Synthetic upstream records with two injections: every injection becomes a local fault."""

    def record(self, injections: list[Injection], solutions: list | None = None) -> dict:
        from openhands_driver.itbench import build_record
        incident = ItbenchIncident(15, "sre", "n", "n", "d", "medium", [], [], [], injections, [],
                                   solutions if solutions is not None else [], True, True)
        return build_record(incident, None)

    def test_two_flags_both_reproduced_with_their_own_params(self) -> None:
        rec = self.record([Injection("opentelemetry-demo-feature-flag", _flag("paymentUnreachable"), 0),
                           Injection("opentelemetry-demo-feature-flag", _flag("adFailure"), 0)],
                          [[{"steps": [{"text": "Disable the feature flag (paymentUnreachable)"}]}]])
        self.assertEqual(rec["local_fault"], "feature_flag")
        self.assertEqual(rec["fault_params"], {"flag": "paymentUnreachable", "variant": "on"})
        self.assertEqual([(f["fault_class"], f["params"].get("flag")) for f in rec["local_faults"]],
                         [("feature_flag", "paymentUnreachable"), ("feature_flag", "adFailure")])
        warnings = " ".join(rec["source_warnings"])
        self.assertIn("'adFailure') is not mentioned by any solution", warnings)
        self.assertIn("2 injections to undo but only 1 solution group", warnings)

    def test_crash_plus_wrong_architecture(self) -> None:
        rec = self.record([Injection("crashing-kubernetes-workload-init-container", {}, 0),
                           Injection("unsupported-architecture-kubernetes-workload-container-image", {}, 1)])
        self.assertEqual([(f["fault_class"], f["params"]) for f in rec["local_faults"]],
                         [("crash_loop", {"variant": "crash"}), ("bad_release", {"variant": "arch"})])

    def test_an_injection_without_analogue_refuses_the_incident_and_is_named(self) -> None:
        rec = self.record([Injection("opentelemetry-demo-feature-flag", _flag("adFailure"), 0),
                           Injection("exhausted-etcd-database-storage", {}, 0)])
        self.assertIsNone(rec["local_fault"])
        self.assertEqual(rec["local_faults"], [])
        self.assertIn("injection 2 of 2 (exhausted-etcd-database-storage)", rec["unsupported_reason"])

    def test_scheduling_faults_keep_the_workload_and_namespace(self) -> None:
        def dep(name: str, namespace: str = "otel-demo") -> dict:
            return {"kubernetesObject": {"apiVersion": "apps/v1", "kind": "Deployment",
                                         "metadata": {"name": name, "namespace": namespace}}}

        # ITBench 33: both Deployments pinned to a node that does not exist; both reproduced
        rec = self.record([Injection("nonexistent-kubernetes-workload-node", dep("ad"), 0),
                           Injection("nonexistent-kubernetes-workload-node", dep("cart"), 1)])
        self.assertEqual(rec["local_fault"], "placement")
        self.assertEqual(rec["local_faults"], [
            {"fault_class": "placement", "injection": 0,
             "params": {"variant": "node_selector", "workload": "ad", "namespace": "otel-demo"}},
            {"fault_class": "placement", "injection": 1,
             "params": {"variant": "node_selector", "workload": "cart", "namespace": "otel-demo"}}])
        # ITBench 52: quota admission + a feature flag, together
        rec = self.record([Injection("insufficient-kubernetes-resource-quota", dep("checkout"), 0),
                           Injection("opentelemetry-demo-feature-flag", _flag("loadGeneratorFloodHomepage"), 1)])
        self.assertEqual([(f["fault_class"], f["params"]) for f in rec["local_faults"]],
                         [("placement", {"variant": "quota", "workload": "checkout", "namespace": "otel-demo"}),
                          ("feature_flag", {"flag": "loadGeneratorFloodHomepage", "variant": "on"})])
        variants = {"cordoned-kubernetes-worker-node": "cordoned", "cluster-availability-loss": "cluster_loss",
                    "priority-kubernetes-workload-priority-preemption": "preemption",
                    "unschedulable-kubernetes-workload-pod-anti-affinity-rule": "anti_affinity",
                    "nonexistent-kubernetes-workload-persistent-volume-claim": "volume_claim",
                    "node-resource-exhaustion": "capacity"}
        for fault_id, variant in variants.items():
            with self.subTest(fault=fault_id):
                rec = self.record([Injection(fault_id, dep("reviews-v3", "book-info"), 0)])
                self.assertEqual(rec["local_faults"][0]["params"],
                                 {"variant": variant, "workload": "reviews-v3", "namespace": "book-info"})
        # HPA scale-down behaviour has no local analogue yet: still refused, with the reason
        rec = self.record([Injection("aggressive-scaledown-kubernetes-horizontal-pod-autoscaler", dep("frontend"), 0)])
        self.assertIsNone(rec["local_fault"])
        self.assertIn("HorizontalPodAutoscaler", rec["unsupported_reason"])

    def test_stray_solution_object_is_a_warning(self) -> None:
        dep = {"kubernetesObject": {"kind": "Deployment", "metadata": {"name": "cart", "namespace": "otel-demo"}}}
        rec = self.record([Injection("invalid-kubernetes-workload-container-command", dep, 0)],
                          [[{"steps": [{"command": "kubectl -n otel-demo rollout undo deployment/payment"}]}]])
        self.assertTrue(any("['payment']" in w for w in rec["source_warnings"]), rec["source_warnings"])

    def test_env_variable_keeps_its_name_and_value(self) -> None:
        args = {"container": {"env": {"name": "QUOTE_ADDR", "value": "quote:0000"}, "name": "shipping"}}
        rec = self.record([Injection("modified-kubernetes-workload-container-environment-variable", args, 0)])
        self.assertEqual(rec["local_faults"], [{"fault_class": "wrong_peer_address", "injection": 0,
                                                "params": {"variable": "QUOTE_ADDR", "value": "quote:0000"}}])

    def test_target_port_keeps_the_injected_port(self) -> None:
        args = {"kubernetesObject": {"kind": "Service", "metadata": {"name": "ad"}}, "targetPort": 8080}
        rec = self.record([Injection("modified-target-port-kubernetes-service", args, 0)])
        self.assertEqual(rec["local_faults"][0]["params"], {"breakage": "target_port", "target_port": 8080})

    def test_mesh_policies_keep_their_names_namespaces_and_methods(self) -> None:
        def obj(kind: str, name: str, ns: str | None = "book-info") -> dict:
            return {"kubernetesObject": {"kind": kind, "metadata": {"name": name, **({"namespace": ns} if ns else {})}}}

        for fault_id, args, params in (
                ("ingress-port-blocking-network-policy", obj("Deployment", "frontend", "otel-demo"),
                 {"breakage": "network_policy", "network_rule": "no_source", "namespace": "otel-demo",
                  "policy_name": "frontend-ingress"}),
                ("traffic-denying-istio-gateway-authorization-policy",
                 {**obj("Gateway", "bookinfo-gateway"), "httpMethods": ["GET", "POST"]},
                 {"breakage": "authorization_deny", "namespace": "book-info", "gateway": "bookinfo-gateway",
                  "policy_name": "bookinfo-gateway-deny", "methods": ["GET", "POST"]}),
                ("disabled-istio-ambient-mode-kubernetes-namespace", obj("Namespace", "book-info", None),
                 {"breakage": "mesh_membership", "namespace": "book-info"}),
                ("strict-mutual-tls-istio-service-mesh-enforcement", obj("Deployment", "productpage-v1"),
                 {"breakage": "mtls_strict", "namespace": "book-info", "policy_name": "productpage-v1"})):
            with self.subTest(fault=fault_id):
                rec = self.record([Injection(fault_id, args, 0)])
                self.assertEqual(rec["local_faults"], [{"fault_class": "ingress_policy", "injection": 0,
                                                        "params": params}])
                self.assertEqual(rec["skill_id"], "ingress-policy")
                from target_service import faults  # the params inject: the class accepts them as they are
                self.assertTrue(faults.fault_class("ingress_policy").entity(params))

    @unittest.skipUnless(SAMPLE.is_dir(), NO_SAMPLE)
    def test_summary_counts_warnings_and_multi(self) -> None:
        summary = import_itbench(ImportConfig(str(SAMPLE)), imported_at=STAMP)["summary"]
        self.assertIn("source_warnings", summary)
        self.assertEqual(summary["multi_injection"], 1)  # scenario 33 (two nodeSelector injections)
        self.assertEqual(summary["multi_injection_supported"], 1)
