"""The per-run markdown report (openhands_driver/reports/run_report.py)."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from openhands_driver.reports import run_report
from tests.test_lookup import row


class RunReportTest(unittest.TestCase):
    def test_the_report_tells_the_story_of_the_row(self):
        text = run_report.render(row("r-9", alert="[P1] checkout failing", diagnosis={
            "correct": True, "reported": {"fault_class": "stale_lockfile", "entity": "var/lock/x.lock",
                                          "evidence": ["ERROR cannot acquire lock | pid 4242"]}}))
        self.assertTrue(text.startswith("# Run r-9: scenario `stale_lockfile`"))
        self.assertIn("> [P1] checkout failing", text)
        self.assertIn("- **Diagnosis:** correct", text)
        self.assertIn("ERROR cannot acquire lock \\| pid 4242", text)  # table-safe
        self.assertIn("```diff\n--- a/var/lock/x.lock", text)
        self.assertIn("| 2 | terminal | `rm var/lock/x.lock` | MEDIUM | approved | 0 |", text)

    def test_written_next_to_the_trace_log(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "runs" / "trace.jsonl"
            path = run_report.write(row("r-10"), trace)
            self.assertEqual(path, Path(tmp) / "runs" / "reports" / "r-10.md")
            self.assertIn("# Run r-10", path.read_text())
            self.assertEqual(list(path.parent.glob("*.tmp")), [])


if __name__ == "__main__":
    unittest.main()
