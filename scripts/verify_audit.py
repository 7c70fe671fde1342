#!/usr/bin/env python3
"""Check the audit trail (trace log or intake database); make and rotate the signing key.

    uv run python scripts/verify_audit.py check artifacts/runs/trace_log.jsonl --keyset K.keyset.json
    uv run python scripts/verify_audit.py check artifacts/intake/intake.db --json
    uv run python scripts/verify_audit.py keygen --key ~/.config/sre/audit.key   # 0600, + K.keyset.json
    uv run python scripts/verify_audit.py rotate --key ~/.config/sre/audit.key   # old key id stays verifiable

Writers sign when SRE_AUDIT_KEY names the key file (run_demo.py also takes --audit-key); the key
set (--keyset, else SRE_AUDIT_KEYSET, else <SRE_AUDIT_KEY>.keyset.json) holds every public key.
`check` exits 0 when nothing was changed, removed or reordered, 1 when something was (the first
entry is named), 2 on bad input.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openhands_driver.audit import keys  # noqa: E402
from openhands_driver.errors import UserError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="verify_audit.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="verify a trace log (.jsonl) or an intake database")
    check.add_argument("path", type=Path)
    check.add_argument("--keyset", type=Path, default=None, help="public key set (JSON) to check signatures")
    check.add_argument("--json", action="store_true", help="one JSON object on stdout")
    for name, text in (("keygen", "create a signing key (0600) and add its public key to the key set"),
                       ("rotate", "retire the current key (kept in the key set) and write a new one")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--key", type=Path, default=os.environ.get(keys.ENV_KEY) or None,
                         help=f"private key file (default: ${keys.ENV_KEY})")
        cmd.add_argument("--keyset", type=Path, default=None, help="key set file (default: KEY.keyset.json)")
    args = p.parse_args(argv)
    try:
        if args.command == "check":
            from openhands_driver.audit.verify import verify_path

            keyset = args.keyset or os.environ.get(keys.ENV_KEYSET) or (
                keys.default_keyset_path(os.environ[keys.ENV_KEY]) if os.environ.get(keys.ENV_KEY) else None)
            if keyset and not Path(keyset).exists():
                raise UserError(f"key set {keyset} does not exist; pass --keyset FILE (written by keygen)")
            report = verify_path(args.path, keyset)
            print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
            return 0 if report.ok else 1
        if args.key is None:
            raise UserError(f"{args.command} needs --key FILE (or ${keys.ENV_KEY})")
        done = keys.keygen(args.key, args.keyset) if args.command == "keygen" else keys.rotate(args.key, args.keyset)
        print(json.dumps(done))
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
