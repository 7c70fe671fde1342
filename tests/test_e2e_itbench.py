"""End to end on imported ITBench incidents: for every local fault class, one record of
training_data/atlas_sre_scenarios.json runs through the real pipeline - local target with the
incident's injection, real SDK conversation driven by the offline runbook brain, the routed skill,
the independent verifier and a trace row - and must end verified fixed.

The SDK is imported once for the whole class (in-process runs), so each incident costs seconds.
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.itbench import Injection, local_fault_params
from openhands_driver.router import route
from openhands_driver.runner import run_incident
from openhands_driver.scenarios import load_catalog
from openhands_driver.skills import load_skills
from openhands_driver.trace import read_rows
from target_service import faults
from tests.support.runs import NullConsole as _Quiet, pg_alive as _pg_alive

REPO = Path(__file__).resolve().parent.parent
ATLAS = REPO / "training_data" / "atlas_sre_scenarios.json"
# One imported incident per local fault class (the ITBench source id in the name).
SCENARIOS = {
    "feature_flag": "itbench_5_feature_flag_ad_failure",
    "chaos_schedule": "itbench_17_chaos_network_delay_product_catalog",  # a real delay (20 s, capped at 5 s)
    "scaled_to_zero": "itbench_58_scaled_to_zero_accounting",
    "bad_release": "itbench_23_unsupported_architecture_image_checkout",
    "crash_loop": "itbench_59_crashing_init_recommendation",
    "bad_credential": "itbench_63_corrupted_secret_credentials_email_service_secret",
    "resource_limit": "itbench_46_insufficient_resources_postgresql",
    "dns_misconfig": "itbench_43_failing_name_resolution_dns_policy_frontend",
    # issue 14: the mechanisms the old stand-ins (bad_env_config, port_mismatch,
    # readiness_probe_fail) did not reproduce
    "wrong_peer_address": "itbench_16_modified_environment_variable_quote_addr_shipping",
    "service_routing": "itbench_30_modified_target_port_service_ad",
    "probe_misconfig": "itbench_49_misconfigured_readiness_probe_frontend",
    "ingress_policy": "itbench_47_traffic_denying_istio_gateway_authorization_policy_bookinfo",
    "placement": "itbench_33_nonexistent_node_ad_cart",  # two Deployments pinned to a missing node
}
NEW_FAULTS = ("feature_flag", "chaos_schedule", "scaled_to_zero", "bad_release", "crash_loop",
              "bad_credential", "resource_limit", "dns_misconfig", "wrong_peer_address", "service_routing",
              "probe_misconfig", "ingress_policy", "placement")


@unittest.skipUnless(ATLAS.is_file(), f"{ATLAS} not generated (run scripts/import_itbench_sre.py)")
class ImportedCatalogTest(unittest.TestCase):
    """Fast: every runnable imported incident has a fault class, a skill and the right route."""

    def test_every_runnable_incident_has_a_fault_and_a_skill(self) -> None:
        skills = load_skills()
        for item in load_catalog(ATLAS).scenarios:
            if not item.runnable:
                continue
            with self.subTest(scenario=item.scenario_id):
                self.assertIn(item.local_fault, faults.FAULTS)
                self.assertIn(item.skill_id, skills)
                decision = route(item, item.error_report)
                self.assertEqual((decision.skill_id, decision.method), (item.skill_id, "scenario"))

    def test_incident_text_alone_finds_the_new_skills(self) -> None:
        # Triggers name causes (issue 14), not the sample's wording: the page alone routes to the
        # incident's skill or to none (the agent gets the catalog), never to a wrong one - except
        # where the ground truth itself is wrong (a description copied from another scenario).
        for item in load_catalog(ATLAS).scenarios:
            if item.local_fault in NEW_FAULTS:
                with self.subTest(scenario=item.scenario_id):
                    decision = route(None, item.error_report)
                    if any("word for word" in w for w in item.extra.get("source_warnings") or []):
                        continue
                    self.assertIn(decision.skill_id, (item.skill_id, None), decision.reason)

    def test_fault_params_carry_the_incident_details(self) -> None:
        for item in load_catalog(ATLAS).scenarios:
            if not item.runnable:
                self.assertIsNone(item.extra["fault_params"])
                continue
            params = item.extra["fault_params"]
            args = next(i["args"] for i in item.extra["injections"] if i["primary"])
            with self.subTest(scenario=item.scenario_id):
                if item.local_fault == "feature_flag":
                    self.assertEqual(params, {"flag": args["flag"]["name"], "variant": args["flag"]["state"]})
                elif item.local_fault == "chaos_schedule":
                    self.assertEqual(params["schedule_spec"], args["scheduleSpec"])
                    self.assertEqual(params["name"], args["kubernetesObject"]["metadata"]["name"])
        by_id = {s.extra["source"]["id"]: s.extra["fault_params"] for s in load_catalog(ATLAS).scenarios}
        self.assertEqual((by_id[20], by_id[23], by_id[59]),
                         ({"variant": "missing"}, {"variant": "arch"}, {"variant": "crash"}))
        for fault_id, variant in (("hanging-kubernetes-workload-init-container", "hang"),
                                  ("invalid-kubernetes-workload-container-command", "invalid_command")):
            self.assertEqual(local_fault_params(Injection(fault_id, {}, 0)), {"variant": variant})

    def test_the_end_to_end_list_covers_every_fault_class_in_the_catalog(self) -> None:
        catalog = load_catalog(ATLAS)
        classes = {s.local_fault for s in catalog.scenarios if s.runnable}
        self.assertEqual(classes, set(SCENARIOS))
        for fault, scenario_id in SCENARIOS.items():
            self.assertEqual(catalog.get(scenario_id).local_fault, fault)


@unittest.skipUnless(ATLAS.is_file(), f"{ATLAS} not generated (run scripts/import_itbench_sre.py)")
class EndToEndItbenchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = Path(cls.tmp.name) / "trace.jsonl"
        cls.catalog = load_catalog(ATLAS)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_fault(self, fault: str):
        scenario = self.catalog.get(SCENARIOS[fault])
        config = RunConfig(training_data=ATLAS, scenario=scenario.scenario_id, trace_log=self.trace,
                           verify_interval_s=0.3)
        result = run_incident(config, console=_Quiet())
        self.assertEqual(result.status, "fixed", result.to_dict())
        self.assertTrue(result.service_up)
        self.assertTrue(result.verification["verified"])
        self.assertEqual(result.brain, "runbook")
        self.assertEqual(result.local_fault, fault)
        self.assertEqual(result.skill_id, scenario.skill_id)
        self.assertEqual(result.routing["method"], "scenario")
        given = {k: v for k, v in result.target.get("fault_params", {}).items() if k != "service"}
        self.assertEqual(given, scenario.extra.get("fault_params") or {})  # + the service's name
        self.assertFalse(_pg_alive(result.target["pid"]), "target process group must be gone")
        terminal = [a for a in result.actions if a.tool == "terminal"]
        self.assertTrue(terminal and terminal[-1].command == "targetctl status")
        self.assertTrue(all(a.exit_code == 0 for a in terminal[1:]), [a.public() for a in terminal])
        self.assertEqual(result.actions[-1].tool, "finish")
        rows = [r for r in read_rows(self.trace) if r["run_id"] == result.run_id]
        self.assertEqual(len(rows), 1)
        self.assertTrue(rows[0]["service_up"])
        return result

    def test_feature_flag(self):
        result = self.run_fault("feature_flag")
        outputs = " ".join(a.output_excerpt for a in result.actions)
        self.assertIn("flag 'adFailure' evaluated to variant 'on'", outputs)  # the incident's own flag
        self.assertIn('"flag": "adFailure"', outputs)

    def test_chaos_schedule(self):
        self.run_fault("chaos_schedule")

    def test_scaled_to_zero(self):
        self.run_fault("scaled_to_zero")

    def test_bad_release(self):
        self.run_fault("bad_release")

    def test_crash_loop(self):
        self.run_fault("crash_loop")

    def test_bad_credential(self):
        self.run_fault("bad_credential")

    def test_resource_limit(self):
        self.run_fault("resource_limit")

    def test_dns_misconfig(self):
        self.run_fault("dns_misconfig")

    def test_wrong_peer_address(self):
        result = self.run_fault("wrong_peer_address")
        outputs = " ".join(a.output_excerpt for a in result.actions)
        self.assertIn("QUOTE_ADDR=quote:0000", outputs)  # the incident's own variable and value

    def test_service_routing(self):
        self.run_fault("service_routing")

    def test_probe_misconfig(self):
        self.run_fault("probe_misconfig")

    def test_ingress_policy(self):
        result = self.run_fault("ingress_policy")
        outputs = " ".join(a.output_excerpt for a in result.actions)
        self.assertIn("policy[bookinfo-gateway-deny]", outputs)  # the incident's own gateway policy

    def test_placement(self):
        # both injections (ad and cart pinned to a node that does not exist) must be undone
        result = self.run_fault("placement")
        outputs = " ".join(a.output_excerpt for a in result.actions)
        self.assertIn("pod/ad-", outputs)
        self.assertIn("pod/cart-", outputs)
        self.assertTrue(result.mitigation["passed"], result.mitigation)


if __name__ == "__main__":
    unittest.main()
