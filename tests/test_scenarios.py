"""openhands_driver.scenarios: loading and validating the scenario catalog.

The shipped catalog (training_data/scenarios.json) is checked against the design notes; every
validation error is exercised with small temporary JSON files.
"""

from __future__ import annotations

import json
import tempfile
import unittest
from dataclasses import FrozenInstanceError
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.scenarios import (
    DEFAULT_TRAINING_DATA, SUPPORTED_SCHEMA_VERSIONS, Catalog, Scenario, load_catalog,
)

REPO = Path(__file__).resolve().parent.parent
CORE_FAULTS = {"stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config"}


def record(scenario_id: str = "s1", **fields) -> dict:
    data = {"scenario_id": scenario_id, "error_report": f"incident text for {scenario_id}"}
    data.update(fields)
    return data


class ShippedCatalogTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.catalog = load_catalog()

    def test_default_path_is_the_training_data_file(self) -> None:
        self.assertEqual(DEFAULT_TRAINING_DATA, REPO / "training_data" / "scenarios.json")
        self.assertEqual(self.catalog.path, DEFAULT_TRAINING_DATA)
        self.assertIn(self.catalog.schema_version, SUPPORTED_SCHEMA_VERSIONS)

    def test_core_scenarios_and_healthy_are_present(self) -> None:
        ids = self.catalog.ids()
        self.assertEqual(len(ids), len(set(ids)))
        for scenario_id in CORE_FAULTS | {"healthy"}:
            self.assertIn(scenario_id, ids)

    def test_records_follow_the_design_notes(self) -> None:
        for scenario in self.catalog.scenarios:
            with self.subTest(scenario=scenario.scenario_id):
                self.assertIsInstance(scenario, Scenario)
                self.assertTrue(scenario.error_report.strip())
                self.assertTrue(scenario.title.strip())
                self.assertTrue(scenario.runnable)
                if scenario.scenario_id == "healthy":
                    self.assertIsNone(scenario.local_fault)
                    self.assertIsNone(scenario.skill_id)
                else:
                    self.assertIn(scenario.local_fault, CORE_FAULTS)
                    # skill ids are the fault class with dashes (the router relies on it)
                    self.assertEqual(scenario.skill_id, scenario.local_fault.replace("_", "-"))

    def test_active_set_excludes_archived_bad_env_config(self) -> None:
        active = [s.scenario_id for s in self.catalog.active()]
        self.assertNotIn("bad_env_config", active)
        self.assertFalse(self.catalog.get("bad_env_config").active)
        for scenario_id in ("stale_lockfile", "readiness_probe_fail", "port_mismatch", "healthy"):
            self.assertIn(scenario_id, active)

    def test_get_known_and_unknown(self) -> None:
        self.assertEqual(self.catalog.get("port_mismatch").scenario_id, "port_mismatch")
        with self.assertRaises(UserError) as ctx:
            self.catalog.get("no_such_scenario")
        message = str(ctx.exception)
        self.assertIn("no_such_scenario", message)
        for scenario_id in self.catalog.ids():  # the message lists every valid choice
            self.assertIn(scenario_id, message)

    def test_records_are_immutable(self) -> None:
        scenario = self.catalog.scenarios[0]
        with self.assertRaises(FrozenInstanceError):
            scenario.scenario_id = "changed"  # type: ignore[misc]

    def test_shipped_file_is_plain_schema_1(self) -> None:
        raw = json.loads(DEFAULT_TRAINING_DATA.read_text(encoding="utf-8"))
        self.assertEqual(raw["schema_version"], 1)
        self.assertEqual(len(raw["scenarios"]), len(self.catalog.scenarios))


class CatalogFileTests(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="scenarios-test-")
        self.addCleanup(self._tmp.cleanup)
        self.dir = Path(self._tmp.name)

    def write(self, data, name: str = "catalog.json") -> Path:
        path = self.dir / name
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return path

    def assert_user_error(self, path, *fragments: str) -> UserError:
        with self.assertRaises(UserError) as ctx:
            load_catalog(path)
        for fragment in fragments:
            self.assertIn(fragment, str(ctx.exception))
        self.assertEqual(ctx.exception.exit_code, 2)
        return ctx.exception

    # --- happy paths ---------------------------------------------------------------------

    def test_minimal_record_defaults(self) -> None:
        catalog = load_catalog(self.write({"schema_version": 1, "scenarios": [record("stale_lockfile")]}))
        self.assertIsInstance(catalog, Catalog)
        scenario = catalog.get("stale_lockfile")
        # without the key, a record names its own fault class
        self.assertEqual(scenario.local_fault, "stale_lockfile")
        self.assertEqual(scenario.title, "")
        self.assertIsNone(scenario.skill_id)
        self.assertTrue(scenario.active)
        self.assertIsNone(scenario.unsupported_reason)
        self.assertTrue(scenario.runnable)
        self.assertEqual(scenario.extra, {})

    def test_explicit_null_fault_means_healthy(self) -> None:
        catalog = load_catalog(self.write({"schema_version": 1,
                                           "scenarios": [record("healthy", local_fault=None)]}))
        self.assertIsNone(catalog.get("healthy").local_fault)

    def test_all_known_fields_and_extras(self) -> None:
        raw = record("x", title="T", local_fault="port_mismatch", skill_id="port-mismatch",
                     active=False, source={"benchmark": "itbench", "id": 7}, tags=["a"])
        catalog = load_catalog(self.write({"schema_version": 2, "scenarios": [raw]}))
        self.assertEqual(catalog.schema_version, 2)
        scenario = catalog.get("x")
        self.assertEqual(scenario.title, "T")
        self.assertEqual(scenario.local_fault, "port_mismatch")
        self.assertEqual(scenario.skill_id, "port-mismatch")
        self.assertFalse(scenario.active)
        self.assertEqual(scenario.extra, {"source": {"benchmark": "itbench", "id": 7}, "tags": ["a"]})
        self.assertEqual(catalog.active(), [])

    def test_unsupported_reason_makes_scenario_not_runnable(self) -> None:
        catalog = load_catalog(self.write({"schema_version": 2, "scenarios": [
            record("a", unsupported_reason="needs a Kubernetes network policy"),
            record("b", unsupported_reason=""),  # empty string == supported
        ]}))
        self.assertFalse(catalog.get("a").runnable)
        self.assertEqual(catalog.get("a").unsupported_reason, "needs a Kubernetes network policy")
        self.assertTrue(catalog.get("b").runnable)
        self.assertIsNone(catalog.get("b").unsupported_reason)

    def test_order_is_preserved(self) -> None:
        ids = ["c", "a", "b"]
        catalog = load_catalog(self.write({"schema_version": 1, "scenarios": [record(i) for i in ids]}))
        self.assertEqual(catalog.ids(), ids)
        self.assertEqual([s.scenario_id for s in catalog.active()], ids)

    def test_accepts_str_path(self) -> None:
        path = self.write({"schema_version": 1, "scenarios": [record()]})
        self.assertEqual(load_catalog(str(path)).path, path)

    def test_empty_scenario_list_is_allowed(self) -> None:
        catalog = load_catalog(self.write({"schema_version": 1, "scenarios": []}))
        self.assertEqual(catalog.ids(), [])
        with self.assertRaises(UserError):
            catalog.get("anything")

    # --- errors ----------------------------------------------------------------------------

    def test_missing_file(self) -> None:
        missing = self.dir / "nope.json"
        self.assert_user_error(missing, "not found", str(missing), "--training-data")

    def test_invalid_json(self) -> None:
        self.assert_user_error(self.write("{not json"), "not valid JSON")

    def test_top_level_must_be_object_with_scenarios_list(self) -> None:
        for data in ([record()], {"schema_version": 1}, {"schema_version": 1, "scenarios": {}},
                     {"schema_version": 1, "scenarios": "x"}):
            with self.subTest(data=data):
                self.assert_user_error(self.write(data), "'scenarios' list")

    def test_unsupported_schema_version(self) -> None:
        for version in (None, 0, 3, "1"):
            with self.subTest(version=version):
                data = {"scenarios": [record()]}
                if version is not None:
                    data["schema_version"] = version
                self.assert_user_error(self.write(data), "unsupported schema_version")

    def test_record_must_be_object(self) -> None:
        self.assert_user_error(self.write({"schema_version": 1, "scenarios": [record(), "oops"]}),
                               "scenarios[1]", "not an object")

    def test_required_string_fields(self) -> None:
        bad_records = {
            "missing scenario_id": {"error_report": "x"},
            "missing error_report": {"scenario_id": "x"},
            "blank scenario_id": {"scenario_id": "  ", "error_report": "x"},
            "blank error_report": {"scenario_id": "x", "error_report": ""},
            "non-string id": {"scenario_id": 5, "error_report": "x"},
        }
        for label, raw in bad_records.items():
            with self.subTest(label):
                error = self.assert_user_error(
                    self.write({"schema_version": 1, "scenarios": [record("ok"), raw]}), "scenarios[1]")
                self.assertIn("non-empty string", str(error))

    def test_duplicate_ids(self) -> None:
        self.assert_user_error(self.write({"schema_version": 1, "scenarios": [record("dup"), record("dup")]}),
                               "duplicate scenario_id", "'dup'")


if __name__ == "__main__":
    unittest.main()
