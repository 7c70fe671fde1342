"""Every entry script's flags say what they do: each option has help text and no flag is an
abbreviation of another (checked on the parser the script really builds, captured when it parses
its arguments)."""

from __future__ import annotations

import argparse
import runpy
import sys
import unittest
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = [REPO / "run_demo.py", REPO / "optimize.py",
           *sorted(p for p in (REPO / "scripts").glob("*.py") if not p.name.startswith("_"))]


class _Captured(Exception):
    def __init__(self, parser):
        super().__init__(parser.prog)
        self.parser = parser


def capture_parser(script: Path) -> argparse.ArgumentParser:
    def grab(self, *args, **kwargs):
        raise _Captured(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", grab), \
            mock.patch.object(argparse.ArgumentParser, "parse_known_args", grab), \
            mock.patch.object(sys, "argv", [str(script)]):
        try:
            runpy.run_path(str(script), run_name="__main__")
        except _Captured as caught:
            return caught.parser
        except SystemExit:
            pass
    raise AssertionError(f"{script.name} never parsed its arguments")


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if not (action.help or "").strip():
            missing.append(action.option_strings[-1])
    return missing


class EntryScriptFlagsTest(unittest.TestCase):
    def test_every_flag_has_help(self):
        for script in SCRIPTS:
            with self.subTest(script=script.name):
                parser = capture_parser(script)
                self.assertEqual(undocumented(parser), [], script.name)
                # no prefix matching: `--optimizer gepa` must never quietly mean `--optimizer-result gepa`
                self.assertFalse(parser.allow_abbrev, script.name)


if __name__ == "__main__":
    unittest.main()
