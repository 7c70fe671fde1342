#!/usr/bin/env python3
"""Fan out the project's own SRE incidents (training_data/scenarios.json; --blind for drawn variants)
concurrently in one process: real targets, the real agent, the independent verifier.

The reference design's fan-out entry point: --incidents N (cycling through the catalog), --concurrency,
--continuous --duration-s --arrival-rate (per minute), --optimizer gepa|iterative|manual, --simulate.
Same engine and report as scripts/fanout_itbench.py (openhands_driver/fanout/).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.fanout.cli import main  # noqa: E402
from openhands_driver.scenarios import DEFAULT_TRAINING_DATA  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(variant="fanout", prog="fanout_sre.py", description=__doc__.split("\n\n")[0],
                  training_data=DEFAULT_TRAINING_DATA))
