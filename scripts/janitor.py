#!/usr/bin/env python3
"""Remove what dead runs left behind (incident dirs, crashed runs' open rows, containers).

    uv run python scripts/janitor.py            # dirs + open runs + labelled containers
    uv run python scripts/janitor.py --json     # what it did, as one JSON object

Never touches a live run's leftovers (owner pid + start time + boot id; see
openhands_driver/janitor.py).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.janitor import UNOWNED_AFTER_S, sweep  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="janitor.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--tmp", type=Path, default=None, help="temp dir to scan (default: the system's)")
    p.add_argument("--unowned-after-s", type=float, default=UNOWNED_AFTER_S,
                   help="remove dirs with no owner file older than this (default: %(default)s)")
    p.add_argument("--no-containers", action="store_true", help="skip the Docker sweep")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    args = p.parse_args(argv)
    if args.unowned_after_s < 0:
        print("error: --unowned-after-s must be >= 0", file=sys.stderr)
        return 2
    report = sweep(tmp=args.tmp, unowned_after_s=args.unowned_after_s,
                   containers=not args.no_containers, quiet=args.json)
    if args.json:
        print(json.dumps(report.to_dict()))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
