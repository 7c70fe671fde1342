#!/usr/bin/env python3
"""Import ITBench SRE scenarios into a local scenario catalog.

    uv run python scripts/import_itbench_sre.py --source ../shared/itbench
    uv run python scripts/import_itbench_sre.py --source https://github.com/itbench-hub/ITBench.git --json

--source is an ITBench checkout path or a git URL (https://, ssh, file://; cloned with --depth 1 into a
temporary directory that is removed afterwards). A human summary goes to stderr; --json prints the summary
JSON on stdout. Exit 2 on a bad source, with the reason and no traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from openhands_driver.itbench import DEFAULT_SUBDIR, ImportConfig, ItbenchImportError, import_itbench  # noqa: E402

DEFAULT_OUTPUT = REPO_ROOT / "training_data" / "atlas_sre_scenarios.json"


def parse_args(argv: list[str] | None = None) -> tuple[ImportConfig, bool]:
    """Flags -> (library config, whether to print the summary JSON on stdout)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="ITBench checkout path or git URL (file:// works)")
    parser.add_argument("--source-subdir", default=DEFAULT_SUBDIR, help=f"SRE tree inside the source (default {DEFAULT_SUBDIR})")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="catalog to write (default: training_data/atlas_sre_scenarios.json in this repo)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    args = parser.parse_args(argv)
    return ImportConfig(source=args.source, subdir=args.source_subdir, output=args.output), args.json


def human_summary(catalog: dict, output: Path) -> str:
    src, summary = catalog["source"], catalog["summary"]
    commit = f"commit {src['commit']} ({src['commit_origin']})" if src["commit"] else "commit unknown"
    lines = [f"ITBench import from {src.get('url') or src.get('path')} [{commit}]",
             f"  {summary['total_sre']} SRE scenarios: {summary['supported']} mapped to a local fault, "
             f"{summary['unsupported']} unsupported; {summary['finops_excluded']} FinOps excluded"]
    lines += [f"    {fault:<22} {count}" for fault, count in summary["by_local_fault"].items()]
    unsupported = [r for r in catalog["scenarios"] if not r["local_fault"]]
    if unsupported:
        lines.append("  unsupported:")
        lines += [f"    ITBench {r['source']['id']:>4} {r['name']}: {r['unsupported_reason']}" for r in unsupported]
    if summary.get("multi_injection"):
        lines.append(f"  {summary['multi_injection']} with several injections, {summary['multi_injection_supported']} "
                     "supported with every injection reproduced")
    warned = summary.get("source_warnings") or {}
    if warned:
        lines.append(f"  ground-truth warnings ({len(warned)} scenarios):")
        lines += [f"    ITBench {sid:>4}: {w}" for sid, ws in warned.items() for w in ws]
    lines.append(f"  wrote {output}")
    return "\n".join(lines)


def previous_import_time(output: Path, source: str) -> str | None:
    """The old catalog's imported_at when it came from the same source (a re-import with new
    importer code does not rewrite the timestamp needlessly); None otherwise."""
    try:
        old = json.loads(output.read_text(encoding="utf-8"))["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same = source in (old.get("path"), old.get("url")) or str(Path(source).expanduser().resolve()) == old.get("path")
    return old.get("imported_at") if same else None


def main(argv: list[str] | None = None) -> int:
    config, as_json = parse_args(argv)
    try:
        catalog = import_itbench(config, previous_import_time(config.output, config.source))
    except ItbenchImportError as exc:
        print(f"import_itbench_sre: error: {exc}", file=sys.stderr)
        return 2
    print(human_summary(catalog, config.output), file=sys.stderr)
    if as_json:
        print(json.dumps({"source": catalog["source"], "summary": catalog["summary"], "output": str(config.output)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
