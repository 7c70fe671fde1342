#!/usr/bin/env python3
"""Intake tokens with roles (viewer, operator, admin): the file SRE_INTAKE_TOKENS names.

    uv run python scripts/intake_tokens.py add --file secrets/intake_tokens.json --id alice --role operator
    uv run python scripts/intake_tokens.py list --file secrets/intake_tokens.json

`add` prints the new token's value once; the file keeps only its SHA-256 (mode 0600). Then start the
intake with `SRE_INTAKE_TOKENS=secrets/intake_tokens.json uv run python scripts/serve.py ...`.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.errors import UserError  # noqa: E402
from openhands_driver.intake import roles  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="intake_tokens.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a token; prints its value once")
    add.add_argument("--file", type=Path, required=True)
    add.add_argument("--id", required=True, help="the name the audit trail shows")
    add.add_argument("--role", required=True, choices=roles.ROLES)
    listing = sub.add_parser("list", help="ids and roles (never values)")
    listing.add_argument("--file", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        if args.command == "add":
            value = roles.add_token(args.file, args.id, args.role)
            print(json.dumps({"id": args.id, "role": args.role, "token": value}))
        else:
            print(json.dumps([{"id": i, "role": r} for i, r, _ in roles.read_file(args.file)]))
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
