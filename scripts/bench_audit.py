#!/usr/bin/env python3
"""Cost of the audit chain: trace-row appends unsigned and signed, and verifying the log.

    uv run python scripts/bench_audit.py [--rows 500]

Uses a fixture trace row (about 4 KB) and a throw-away key in a temp dir.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.audit import keys  # noqa: E402
from openhands_driver.audit.verify import verify_trace  # noqa: E402
from openhands_driver.trace import append_row  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "trace_log_v1.jsonl"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="bench_audit.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=500, help="rows appended and verified (default: %(default)s)")
    args = p.parse_args(argv)
    row = json.loads(FIXTURE.read_text().splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "audit.key"
        keys.keygen(key)
        for label, path in (("unsigned", None), ("signed", key)):
            keys.configure(path)
            log = Path(tmp) / f"{label}.jsonl"
            began = time.perf_counter()
            for i in range(args.rows):
                append_row(log, {**row, "run_id": f"r{i}"})
            per_row = (time.perf_counter() - began) / args.rows * 1000
            began = time.perf_counter()
            report = verify_trace(log, keys.load_keyset(keys.default_keyset_path(key)), "bench")
            verify_ms = (time.perf_counter() - began) * 1000
            print(json.dumps({"mode": label, "rows": args.rows, "row_bytes": len(json.dumps(row)),
                              "append_ms_per_row": round(per_row, 2), "verify_ms": round(verify_ms),
                              "ok": report.ok}))
        keys.configure(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
