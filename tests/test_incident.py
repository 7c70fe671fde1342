"""Incidents: labelled vs blind, variants from seeds, ground truth kept apart from what the agent sees."""

from __future__ import annotations

import unittest

from openhands_driver.errors import UserError
from openhands_driver.incident import instance_token, make_incident
from openhands_driver.scenarios import Scenario
from target_service import faults

LOCK = Scenario(scenario_id="stale_lockfile", error_report="PAGE: lock file blocks checkout",
                local_fault="stale_lockfile", title="Service refuses requests")


class MakeIncidentTests(unittest.TestCase):
    def test_labelled_incident_keeps_the_demo_text_and_id(self) -> None:
        incident = make_incident(LOCK, run_id="r1")
        self.assertFalse(incident.blind)
        self.assertEqual(incident.instance, "stale_lockfile")
        self.assertEqual(incident.alert, LOCK.error_report)
        self.assertEqual(incident.ground_truth.fault_class, "stale_lockfile")
        self.assertIsNone(incident.ground_truth.variant_seed)

    def test_blind_incident_hides_the_fault_and_the_scenario(self) -> None:
        incident = make_incident(LOCK, run_id="r1", blind=True, seed=7)
        visible = " ".join([incident.instance, incident.alert, incident.title]).lower()
        for word in ("stale", "lock", "scenario", "fault"):
            self.assertNotIn(word, visible)
        self.assertRegex(incident.instance, r"^i-[0-9a-f]{12}$")
        self.assertEqual(incident.ground_truth.variant_seed, 7)
        self.assertEqual(incident.ground_truth.entity, faults.make_variant("stale_lockfile", 7)["entity"])

    def test_same_seed_same_incident_other_seed_other_incident(self) -> None:
        one = make_incident(LOCK, run_id="a", blind=True, seed=3)
        again = make_incident(LOCK, run_id="b", blind=True, seed=3)
        self.assertEqual(one.params, again.params)
        self.assertEqual(one.alert, again.alert)
        self.assertNotEqual(one.instance, again.instance)  # the token is per run
        entities = {make_incident(LOCK, run_id="x", blind=True, seed=s).ground_truth.entity
                    for s in range(20)}
        self.assertGreaterEqual(len(entities), 4)

    def test_blind_without_seed_draws_and_records_one(self) -> None:
        incident = make_incident(LOCK, run_id="r", blind=True)
        self.assertIsInstance(incident.ground_truth.variant_seed, int)

    def test_imported_params_win_over_the_variant(self) -> None:
        scenario = Scenario(scenario_id="itb", error_report="x", local_fault="stale_lockfile",
                            extra={"fault_params": {"lock_file": "var/lock/from-itbench.lock"}})
        incident = make_incident(scenario, run_id="r", blind=True, seed=1)
        self.assertEqual(incident.ground_truth.entity, "var/lock/from-itbench.lock")

    def test_unknown_fault_class_is_a_user_error(self) -> None:
        scenario = Scenario(scenario_id="odd", error_report="x", local_fault="no_such_class")
        with self.assertRaises(UserError) as caught:
            make_incident(scenario, run_id="r")
        self.assertIn("no_such_class", str(caught.exception))

    def test_token_is_opaque_and_stable(self) -> None:
        self.assertEqual(instance_token("r", 1), instance_token("r", 1))
        self.assertNotEqual(instance_token("r", 1), instance_token("r", 2))


if __name__ == "__main__":
    unittest.main()
