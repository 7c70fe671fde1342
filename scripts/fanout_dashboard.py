#!/usr/bin/env python3
"""A full-screen live view of a fan-out: one row per incident (state, skill, steps, risk, elapsed, trace link) and the totals; plain lines when not a terminal.

    uv run python scripts/fanout_dashboard.py --training-data training_data/scenarios.json \
        --scenarios stale_lockfile,readiness_probe_fail,port_mismatch --concurrency 3
    uv run python scripts/fanout_dashboard.py --trace-url-template 'https://laminar.example/t/{run_id}'

Same flags as scripts/fanout_itbench.py (the engine is openhands_driver/fanout/; the view
openhands_driver/fanout/live.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.fanout.live_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(narrated=False, prog="fanout_dashboard.py", description=__doc__.split("\n\n")[0]))
