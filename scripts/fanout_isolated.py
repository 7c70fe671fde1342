#!/usr/bin/env python3
"""Run each incident in its own remote workspace on OpenHands agent servers (round-robin), each with its own target.

See `python scripts/fanout_isolated.py --help`; the engine is openhands_driver/fanout/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.fanout.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(variant="isolated", prog="fanout_isolated.py", description=__doc__.splitlines()[0]))
