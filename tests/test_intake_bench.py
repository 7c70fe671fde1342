"""openhands_driver.intake.bench: a short real load run (~2 s) against a started intake; every
accepted delivery is found in the audit database afterwards."""

from __future__ import annotations

import unittest

from openhands_driver.intake.bench import BenchConfig, percentile, run_bench


class PercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
        self.assertEqual((percentile(values, 50), percentile(values, 99), percentile(values, 100)),
                         (50.0, 99.0, 100.0))
        self.assertIsNone(percentile([], 50))


class BenchRunTest(unittest.TestCase):
    def test_short_run_accepts_alerts_and_loses_none(self):
        result = run_bench(BenchConfig(duration_s=2.0, clients=4, client_processes=1, max_alerts=2000))
        self.assertGreater(result.accepted, 20, result)
        self.assertEqual(result.failed, 0, result.errors)
        self.assertEqual(result.lost, [])
        self.assertEqual(result.deliveries_in_db, result.accepted)
        self.assertEqual(result.audit_delivery_entries, result.accepted)
        self.assertTrue(result.none_lost)
        self.assertLessEqual(result.p50_ms, result.p99_ms)
        self.assertLessEqual(result.p99_ms, result.max_ms)
        self.assertAlmostEqual(result.alerts_per_s, result.accepted / result.duration_s, delta=1.0)


if __name__ == "__main__":
    unittest.main()
