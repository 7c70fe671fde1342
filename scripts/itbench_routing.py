#!/usr/bin/env python3
"""Text routing on imported ITBench incidents: right / none / wrong, inside and outside a reference set.

    uv run python scripts/itbench_routing.py --catalog other_import.json --reference training_data/atlas_sre_scenarios.json

--catalog is an import (scripts/import_itbench_sre.py --output ...) of any ITBench checkout; --reference is
the catalog whose incidents count as "reference" (default: the committed sample import). JSON on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from openhands_driver.itbench.routing import measure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, required=True,
                        help="an imported catalog (scripts/import_itbench_sre.py --output) to route")
    parser.add_argument("--reference", type=Path, default=REPO_ROOT / "training_data" / "atlas_sre_scenarios.json",
                        help="the sample catalog: its incidents count as in-sample (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        records = json.loads(args.catalog.read_text(encoding="utf-8"))["scenarios"]
        reference = {r["source"]["id"] for r in json.loads(args.reference.read_text(encoding="utf-8"))["scenarios"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"itbench_routing: cannot read the catalogs: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(measure(records, reference), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
