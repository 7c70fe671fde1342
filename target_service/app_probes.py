"""Readiness probes run by the supervisor (the kubelet's role), and the gate the app applies.

When etc/service.json names a probe definition file (`probes_file`, e.g. etc/probes.json:
{"readiness": {"port": N, "path": "/healthz", "timeoutSeconds": 1, "periodSeconds": 1},
 "liveness": {...}}), the supervisor GETs http://127.0.0.1:<port><path> periodically and records
the outcome in var/run/probe.json. Until a readiness probe has passed, and whenever it fails,
the instance is out of rotation: the app answers 503 (the reason goes to its log). The app serves
its health endpoint at /healthz (a plain liveness answer). No `probes_file`, or the file is
missing: nothing is probed and nothing is gated (a container without probes). Stdlib only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

PROBE_STATE = "var/run/probe.json"
HEALTH_PATH = "/healthz"


def probes_file(root: Path) -> Optional[str]:
    """The probe definition file named in etc/service.json (None: no probes configured)."""
    try:
        raw = json.loads((Path(root) / "etc/service.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = raw.get("probes_file") if isinstance(raw, dict) else None
    if isinstance(value, str) and value.strip() and ".." not in value.split("/") and not value.startswith("/"):
        return value.strip()
    return None


def readiness_spec(root: Path) -> Tuple[Optional[str], Optional[Dict[str, Any]], Optional[str]]:
    """(file, readiness probe, problem reading it); (None, None, None) when nothing is probed."""
    rel = probes_file(root)
    if rel is None or not (Path(root) / rel).is_file():
        return None, None, None
    try:
        data = json.loads((Path(root) / rel).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return rel, None, "probe definition %s is not valid JSON: %s" % (rel, exc)
    spec = data.get("readiness") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return rel, None, None
    return rel, spec, None


def run_probe(spec: Dict[str, Any], host: str = "127.0.0.1") -> Tuple[bool, str]:
    """One HTTP readiness probe: (passed, Kubernetes-style detail)."""
    port, path = spec.get("port"), str(spec.get("path") or "/")
    timeout = float(spec.get("timeoutSeconds") or 1)
    if not isinstance(port, int) or isinstance(port, bool):
        return False, "invalid probe port %r" % (port,)
    url = "http://%s:%d%s" % (host, port, path if path.startswith("/") else "/" + path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (127.0.0.1 only)
            code = resp.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        why = "connect: connection refused" if "refused" in str(reason).lower() else str(reason)
        return False, 'Get "%s": dial tcp %s:%d: %s' % (url, host, port, why)
    if 200 <= code < 400:
        return True, "HTTP probe succeeded with statuscode: %d" % code
    return False, "HTTP probe failed with statuscode: %d (GET %s)" % (code, url)


def write_state(root: Path, ready: bool, detail: str, rel: str) -> None:
    path = Path(root) / PROBE_STATE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"ready": ready, "detail": detail, "probe_file": rel,
                               "checked": round(time.time(), 3)}) + "\n", encoding="utf-8")
    tmp.replace(path)


def clear_state(root: Path) -> None:
    try:
        (Path(root) / PROBE_STATE).unlink()
    except OSError:
        pass


def probe_gate(root: Path) -> Optional[str]:
    """Why the instance is out of rotation (None = in rotation, or nothing is probed)."""
    rel, spec, problem = readiness_spec(root)
    if rel is None or (spec is None and problem is None):
        return None
    if problem:
        return "out of rotation: %s" % problem
    try:
        state = json.loads((Path(root) / PROBE_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if not isinstance(state, dict):  # a fresh instance: probe now rather than wait a period
        ok, detail = run_probe(spec)
        try:
            write_state(root, ok, detail, rel)
        except OSError:
            pass
        state = {"ready": ok, "detail": detail}
    if not state.get("ready"):
        return "out of rotation: Readiness probe failed: %s (probes defined in %s)" % (state.get("detail"), rel)
    return None
