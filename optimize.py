#!/usr/bin/env python3
"""The optimizer lane (GEPA over real runs). Not available yet: see the optimizer issue."""

import sys

if __name__ == "__main__":
    print("error: optimize.py is not available yet: the optimizer lane (real GEPA over real runs) "
          "has not landed. Run incidents with `uv run python run_demo.py --scenario <id>` meanwhile.",
          file=sys.stderr)
    sys.exit(2)
