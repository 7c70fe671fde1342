#!/usr/bin/env python3
"""Improve the triage strategy from real runs (GEPA or an iterative baseline). See `--help`.

    uv run python optimize.py --optimizer gepa --max-metric-calls 15
    uv run python optimize.py --simulate                       # plan only, nothing runs
    uv run python optimize.py --distill-skills                 # SKILL.md proposals from traces
    uv run python run_demo.py --strategy-source optimizer      # run with the saved best strategy
"""

import sys

from openhands_driver.optimizer.cli import main

if __name__ == "__main__":
    sys.exit(main())
