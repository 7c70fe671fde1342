"""What every skill script does around its work: load its sibling diagnose.py, print the JSON."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path


def load_diagnose(script: str):
    """The diagnose.py next to `script` (a remediate.py's __file__), imported under its own name
    (`<skill>_diagnose`), so scripts of several skills can be loaded side by side."""
    path = Path(script).with_name("diagnose.py")
    name = "%s_diagnose" % path.parent.name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def print_result(result: dict, ok_key: str | None = None) -> int:
    """Print `result` as JSON on stdout; the exit code: 0, or with `ok_key` 0 only when it is true."""
    print(json.dumps(result, indent=2))
    return 0 if ok_key is None or result[ok_key] else 1
