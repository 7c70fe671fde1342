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


class StopTest(unittest.TestCase):
    def test_a_stop_marks_running_conversations_interrupted_and_the_run_says_so(self):
        import threading

        from openhands_driver import conversation
        from openhands_driver.run_verdict import run_status as _status

        class Fake:
            paused = 0

            def pause(self):
                self.paused += 1

        fake, timed_out, interrupted = Fake(), threading.Event(), threading.Event()
        with conversation._LIVE_LOCK:
            conversation._LIVE[id(fake)] = (fake, timed_out, interrupted)
        try:
            conversation.pause_live_conversations(only_timed_out=True)  # the deadline monitor
            self.assertEqual((fake.paused, interrupted.is_set()), (0, False))
            conversation.pause_live_conversations()  # Ctrl-C of a fan-out
            self.assertEqual((fake.paused, interrupted.is_set()), (1, True))
        finally:
            with conversation._LIVE_LOCK:
                conversation._LIVE.pop(id(fake), None)
        self.assertEqual(_status("interrupted", False), "interrupted")  # the trace row, not not_fixed
        self.assertEqual(_status("interrupted", True), "fixed")


if __name__ == "__main__":
    unittest.main()
