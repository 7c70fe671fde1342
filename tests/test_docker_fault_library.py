"""The richer fault library on the Docker backend: FAULT_PARAMS, app-down starts, incidents end to end.

For each of feature_flag, chaos_schedule, scaled_to_zero, bad_release, crash_loop, bad_credential,
resource_limit, dns_misconfig, wrong_peer_address, service_routing, probe_misconfig,
ingress_policy and placement, one imported ITBench incident of training_data/atlas_sre_scenarios.json runs
in-process through run_incident(backend="docker"): a
container of the target image provisioned with the incident's fault and params, the real SDK
conversation driven by the offline runbook brain, the routed skill, the verifier with the container
identity check, and a trace row; it must end fixed with no labelled container left. Where ITBench
has several incidents of a class, the one whose params differ from the injector's defaults is used,
so passing the params into the container is what makes the symptom right.

Classes that need a Docker engine skip (with the reason) only when none can be reached; the image
is built once per process (see tests/test_target_docker.py). Measured on the dev machine (host
networking, 2 CPUs, lightly loaded): 4-5 s per incident, about 40 s for the module.
"""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from openhands_driver import targetctl
from openhands_driver.target import docker as dt
from target_service import faults
from tests.test_target_docker import _Quiet, new_run_id, require_engine

REPO = Path(__file__).resolve().parent.parent
ATLAS = REPO / "training_data" / "atlas_sre_scenarios.json"
# One imported incident per new fault class (the ITBench source id in the name).
SCENARIOS = {
    "feature_flag": "itbench_2_feature_flag_cart_failure",  # flag cartFailure (default: adFailure)
    "chaos_schedule": "itbench_19_chaos_network_partition_shipping",  # partition (default: delay)
    "scaled_to_zero": "itbench_58_scaled_to_zero_accounting",
    "bad_release": "itbench_23_unsupported_architecture_image_checkout",  # arch (default: missing)
    "crash_loop": "itbench_59_crashing_init_recommendation",
    "bad_credential": "itbench_63_corrupted_secret_credentials_email_service_secret",
    "resource_limit": "itbench_46_insufficient_resources_postgresql",
    "dns_misconfig": "itbench_43_failing_name_resolution_dns_policy_frontend",
    "wrong_peer_address": "itbench_16_modified_environment_variable_quote_addr_shipping",
    "service_routing": "itbench_30_modified_target_port_service_ad",
    "probe_misconfig": "itbench_49_misconfigured_readiness_probe_frontend",
    "ingress_policy": "itbench_47_traffic_denying_istio_gateway_authorization_policy_bookinfo",  # 403 (default: 503)
    "placement": "itbench_102_insufficient_resource_quota_ad",  # quota (default: nodeSelector)
}


class DockerFaultParamsUnitTest(unittest.TestCase):
    """No engine needed."""

    def test_fault_params_are_validated_and_described(self):
        target = dt.DockerTarget(scenario_id="ff", fault="feature_flag", run_id="r1",
                                 fault_params={"flag": "cartFailure"})
        self.assertEqual(target.describe()["fault_params"], {"flag": "cartFailure"})
        self.assertNotIn("fault_params", dt.DockerTarget(scenario_id="h", fault=None).describe())
        with self.assertRaisesRegex(ValueError, "fault_params must be a mapping"):
            dt.DockerTarget(scenario_id="ff", fault="feature_flag", fault_params=["cartFailure"])

    def test_every_new_fault_class_has_an_incident(self):
        core = {"healthy", "stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config"}
        self.assertEqual(set(SCENARIOS), set(faults.FAULTS) - core)


class DockerAppDownStartTest(unittest.TestCase):
    """start() returns once the supervisor has decided, for faults that keep the app down."""

    @classmethod
    def setUpClass(cls):
        cls.client = require_engine()["client"]

    def setUp(self):
        self.run_id = new_run_id("appdown")
        self.addCleanup(dt.remove_run_containers, self.run_id, self.client)

    def test_app_down_faults_start_without_an_app_and_params_reach_the_container(self):
        for fault, params, state, needle in (
                ("scaled_to_zero", None, "config_error", "0 desired replicas"),
                ("bad_release", {"variant": "arch"}, "release_error", "exec format error"),
                ("placement", {"variant": "quota"}, "pending", "exceeded quota")):
            with self.subTest(fault=fault):
                target = dt.DockerTarget(scenario_id="down", fault=fault, run_id=self.run_id,
                                         client=self.client, fault_params=params)
                self.addCleanup(target.cleanup)
                target.start()  # used to wait for an app pid that never comes, then time out
                status = target.status()
                self.assertTrue(status["running"])
                self.assertIsNone(status["app_pid"])
                recorded = json.loads(target.exec(["cat", targetctl.SUPERVISOR_STATE]).stdout)
                self.assertEqual(recorded["state"], state)
                self.assertIn(needle, recorded["detail"])  # "arch": only with FAULT_PARAMS
                # The params travel in a provisioning file that start.sh deletes, never in the env.
                env = self.client.api.inspect_container(target.container_name)["Config"]["Env"]
                self.assertEqual([e for e in env if e.startswith(("FAULT", "SCENARIO"))], [])
                self.assertFalse(target.exec(["test", "-e", "/run/provision.json"]).ok)
                self.assertTrue(target.identity()["ok"], target.identity())


@unittest.skipUnless(ATLAS.is_file(), f"{ATLAS} not generated (run scripts/import_itbench_sre.py)")
class DockerItbenchEndToEndTest(unittest.TestCase):
    """run_incident(backend="docker") in-process on imported ITBench incidents."""

    @classmethod
    def setUpClass(cls):
        cls.client = require_engine()["client"]
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = Path(cls.tmp.name) / "trace.jsonl"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_fault(self, fault: str):
        from openhands_driver.config import RunConfig
        from openhands_driver.runner import run_incident
        from openhands_driver.scenarios import load_catalog
        from openhands_driver.trace import read_rows

        scenario = load_catalog(ATLAS).get(SCENARIOS[fault])
        self.assertEqual(scenario.local_fault, fault)
        run_id = new_run_id(fault.replace("_", "-"))
        self.addCleanup(dt.remove_run_containers, run_id, self.client)
        config = RunConfig(backend="docker", training_data=ATLAS, scenario=scenario.scenario_id,
                           verify_interval_s=0.3, trace_log=self.trace, run_id=run_id)
        result = run_incident(config, console=_Quiet())
        self.assertEqual(result.status, "fixed", json.dumps(result.to_dict(), default=str))
        self.assertEqual(result.backend, "docker")
        self.assertTrue(result.verification["verified"])
        self.assertTrue(result.verification["identity"]["ok"], result.verification["identity"])
        self.assertEqual(result.skill_id, scenario.skill_id)
        given = {k: v for k, v in result.target.get("fault_params", {}).items() if k != "service"}
        self.assertEqual(given, scenario.extra.get("fault_params") or {})  # + the service's name
        self.assertEqual(dt.managed_containers(run_id, self.client), [],
                         f"labelled containers left behind by {run_id}")
        rows = [r for r in read_rows(self.trace) if r["run_id"] == run_id]
        self.assertEqual(len(rows), 1)
        self.assertTrue(rows[0]["service_up"])
        return " ".join(a.output_excerpt for a in result.actions)

    def test_feature_flag(self):
        self.assertIn("flag 'cartFailure' evaluated to variant 'on'", self.run_fault("feature_flag"))

    def test_chaos_schedule(self):
        self.assertIn("fraud-detection-kafka-network-partition", self.run_fault("chaos_schedule"))

    def test_scaled_to_zero(self):
        self.run_fault("scaled_to_zero")

    def test_bad_release(self):
        # the "arch" variant (the default is a missing release): built for the other architecture
        self.assertIn('"current_problem": "built for linux/', self.run_fault("bad_release"))

    def test_crash_loop(self):
        self.run_fault("crash_loop")

    def test_bad_credential(self):
        self.run_fault("bad_credential")

    def test_resource_limit(self):
        self.run_fault("resource_limit")

    def test_dns_misconfig(self):
        self.run_fault("dns_misconfig")

    def test_wrong_peer_address(self):
        self.assertIn("QUOTE_ADDR=quote:0000", self.run_fault("wrong_peer_address"))

    def test_service_routing(self):
        self.run_fault("service_routing")

    def test_probe_misconfig(self):
        self.run_fault("probe_misconfig")

    def test_ingress_policy(self):
        # the gateway and policy names of the incident reach the container: the log names them
        self.assertIn("policy[bookinfo-gateway-deny]", self.run_fault("ingress_policy"))

    def test_placement(self):
        self.assertIn("exceeded quota: memory", self.run_fault("placement"))  # ITBench 102's quota


if __name__ == "__main__":
    unittest.main()
