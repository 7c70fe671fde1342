"""The live view of a conversation (openhands_driver/conversation.py): which output lines are shown."""

from __future__ import annotations

import unittest

from openhands_driver.conversation import salient_lines


class SalientLinesTest(unittest.TestCase):
    def test_short_output_is_shown_whole(self):
        self.assertEqual(salient_lines("a\nb\n"), ["a", "b"])

    def test_the_line_that_names_the_problem_is_never_cut(self):
        text = "\n".join([f"INFO request {i} ok" for i in range(40)]
                         + ["2026-01-01 app ERROR GET / -> 500: flag 'x' evaluated to 'on'"]
                         + [f"INFO request {i} ok" for i in range(40, 80)])
        shown = salient_lines(text, limit=8, tail=3)
        self.assertIn("2026-01-01 app ERROR GET / -> 500: flag 'x' evaluated to 'on'", shown)
        self.assertEqual(shown[-3:], ["INFO request 77 ok", "INFO request 78 ok", "INFO request 79 ok"])
        self.assertEqual(shown[0], "... (40 lines)")  # hidden stretches are marked
        self.assertLessEqual(len([s for s in shown if not s.startswith("... (")]), 8)

    def test_latest_problems_win_when_there_are_too_many(self):
        text = "\n".join([f"ERROR old {i}" for i in range(20)] + ["ERROR newest", "done"])
        shown = salient_lines(text, limit=4, tail=1)
        self.assertIn("ERROR newest", shown)
        self.assertNotIn("ERROR old 0", shown)
        self.assertEqual(shown[-1], "done")


if __name__ == "__main__":
    unittest.main()
