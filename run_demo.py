#!/usr/bin/env python3
"""Run one SRE incident end to end. See README.md or `python run_demo.py --help`."""

from openhands_driver.cli import exit_process, main

if __name__ == "__main__":
    exit_process(main())
