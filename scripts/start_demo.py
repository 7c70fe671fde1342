#!/usr/bin/env python3
"""Docker demo: build the target image, run one incident in a container, verify, clean up.

    uv run python scripts/start_demo.py --scenario stale_lockfile
    uv run python scripts/start_demo.py --simulate --json

Needs a Docker engine (eval "$(scripts/docker_engine.sh up)"); see `--help`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
