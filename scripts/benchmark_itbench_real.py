#!/usr/bin/env python3
"""Sequential real runs over a sample of imported ITBench incidents (concurrency 1).

See `python scripts/benchmark_itbench_real.py --help`; the engine is openhands_driver/fanout/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.fanout.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(variant="sequential", prog="benchmark_itbench_real.py", description=__doc__.splitlines()[0]))
