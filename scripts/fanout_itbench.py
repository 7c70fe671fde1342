#!/usr/bin/env python3
"""Run imported ITBench incidents concurrently in one process (real targets, real agent, independent verifier).

See `python scripts/fanout_itbench.py --help`; the engine is openhands_driver/fanout/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.fanout.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(variant="fanout", prog="fanout_itbench.py", description=__doc__.splitlines()[0]))
