"""Fault class feature_flag (target_service/fault_feature_flag.py) and its skill feature-flag."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

from target_service import app as service_app
from target_service import faults
from tests.support.traffic_dependency_cases import FaultClassChecks


def _edit(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data["flags"])
    path.write_text(json.dumps(data, indent=2))


def _sources(root: Path) -> list[str]:
    return json.loads((root / faults.SERVICE_JSON).read_text())["flag_sources"]


class FeatureFlagTest(FaultClassChecks, unittest.TestCase):
    FAULT = "feature_flag"
    SKILL = "feature-flag"

    def fix(self, root: Path, variant: dict) -> None:  # the culprit off, in its own source
        main = root / variant["may_change"][0]
        _edit(main, lambda flags: flags[variant["entity"]].update(defaultVariant="off"))

    def workaround(self, root: Path, variant: dict) -> None:  # stop reading the main source
        config = json.loads((root / faults.SERVICE_JSON).read_text())
        config["flag_sources"] = [variant["decoys"][0]]
        (root / faults.SERVICE_JSON).write_text(json.dumps(config))

    def damage_decoy(self, root: Path, variant: dict) -> None:  # "turn every flag off"
        def all_off(flags: dict) -> None:
            for flag in flags.values():
                flag["defaultVariant"] = "off"
        _edit(root / variant["decoys"][0], all_off)

    def test_disabled_state_is_an_equivalent_fix_and_deleting_is_not(self) -> None:
        v = self.variant(3)
        root = self.root_for(v)
        main = root / v["may_change"][0]
        original = main.read_text()
        _edit(main, lambda flags: flags[v["entity"]].update(state="DISABLED"))
        self.assertTrue(self.oracle(root, v)["passed"])
        main.write_text(original)
        _edit(main, lambda flags: flags.pop(v["entity"]))
        self.assertFalse(self.oracle(root, v)["passed"])
        main.unlink()
        self.assertFalse(self.oracle(root, v)["passed"])

    def test_itbench_params_keep_working(self) -> None:
        for params, needle, delay in (
                ({"flag": "cartFailure", "variant": "on"}, "failing cart call", 0),
                ({"flag": "paymentFailure", "variant": "50%"}, "failing payment call (50% of calls)", 0),
                ({"flag": "loadGeneratorFloodHomepage", "variant": "on"}, "shedding load", 0),
                ({"flag": "imageSlowLoad", "variant": "10sec"}, None, 10000),
                ({"flag": "adHighCpu", "variant": "on"}, None, 3000),
                ({"flag": "newFlag", "variant": "on"}, None, 0)):
            with self.subTest(**params):
                root = self.root_for({"params": params})
                flag = json.loads((root / faults.FLAGS_FILE).read_text())["flags"][params["flag"]]
                self.assertEqual(flag["defaultVariant"], params["variant"])
                self.assertEqual(_sources(root)[0], faults.FLAGS_FILE)
                reason = service_app.health(root, service_app.load_config(root))
                effects = service_app.flag_disruptions(root)
                if needle:
                    self.assertIn(f"flag '{params['flag']}' evaluated to variant "
                                  f"'{params['variant']}' (flag source etc/flags.json)", reason)
                    self.assertIn(needle, reason)
                else:
                    self.assertIsNone(reason)
                    self.assertEqual([e.delay_ms for e in effects], [delay] if delay else [])

    def test_product_flags_never_touch_health(self) -> None:
        v = self.variant(0)
        root = self.root_for(v)
        self.fix(root, v)
        self.assertIsNone(service_app.health(root, service_app.load_config(root)))
        self.assertEqual(service_app.flag_disruptions(root), [])  # the on product flag is harmless


if __name__ == "__main__":
    unittest.main()
