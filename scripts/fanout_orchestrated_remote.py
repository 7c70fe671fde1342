#!/usr/bin/env python3
"""Run incidents on OpenHands agent-server workers: each incident's target inside its worker, verified from here.

See `python scripts/fanout_orchestrated_remote.py --help`; the library is openhands_driver/orchestrator/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.orchestrator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(prog="fanout_orchestrated_remote.py", description=__doc__.splitlines()[0]))
