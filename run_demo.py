#!/usr/bin/env python3
"""Run one SRE incident end to end. See README.md or `python run_demo.py --help`."""

import sys

from openhands_driver.cli import main

if __name__ == "__main__":
    sys.exit(main())
