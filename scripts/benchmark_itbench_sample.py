#!/usr/bin/env python3
"""DRY-RUN PROXY over a sample of imported ITBench incidents: routing and plans only, nothing started, no success claims.

See `python scripts/benchmark_itbench_sample.py --help`; the engine is openhands_driver/fanout/.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.fanout.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(variant="sample", prog="benchmark_itbench_sample.py", description=__doc__.splitlines()[0]))
