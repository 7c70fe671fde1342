"""Reading an ITBench checkout: index JSON, fault catalog, ground truth v2, names, sources."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from openhands_driver.itbench.model import (
    DEFAULT_SUBDIR, Alert, Entity, ImportResult, Injection, ItbenchImportError, ItbenchIncident,
)


# ------------------------------------------------------------------------------------------------- reading
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ItbenchImportError(f"cannot parse ITBench index file {path}: {exc}. "
                                 "Fix or remove the file (or re-fetch the checkout) and re-run the import.") from None


def _need(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise ItbenchImportError(f"malformed ITBench file {path}: {what}. Fix the file or re-fetch the checkout.")


def load_fault_names(sre_root: Path) -> dict[str, str]:
    """Fault id -> catalog name, from library/indexes/faults/*.json (empty if the catalog is absent)."""
    names: dict[str, str] = {}
    for path in sorted((sre_root / "library/indexes/faults").glob("*.json")):
        data = _read_json(path)
        _need(isinstance(data, dict) and isinstance(data.get("id"), str), path, "expected an object with a string 'id'")
        names[data["id"]] = str(data.get("name") or data["id"])
    return names


def _load_groundtruth(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ItbenchImportError(f"cannot parse ITBench ground truth {path}: {exc}. Fix it or re-fetch the checkout.") from None
    _need(isinstance(data, dict) and isinstance(data.get("spec"), dict), path, "expected a mapping with a 'spec' mapping")
    for key in ("alerts", "entities"):
        _need(isinstance(data["spec"].get(key) or [], list), path, f"spec '{key}' must be a list")
    for ent in data["spec"].get("entities") or []:
        _need(not isinstance(ent, dict) or isinstance(ent.get("metadata") or {}, dict), path,
              f"entity metadata must be a mapping, got {ent.get('metadata')!r}")
    for alert in data["spec"].get("alerts") or []:
        _need(not isinstance(alert, dict) or isinstance(alert.get("labels") or {}, dict), path,
              f"alert labels must be a mapping, got {alert.get('labels')!r}")
    return data["spec"]


def _render_solutions(solutions: Any, args: dict[str, Any]) -> Any:
    """Render the index's `{{ args.a.b | lower }}` solution templates; unknown paths stay as written."""
    def sub(m: re.Match[str]) -> str:
        value: Any = args
        for key in m.group(1).split("."):
            if not isinstance(value, dict) or key not in value:
                return m.group(0)
            value = value[key]
        return json.dumps(str(value).lower() if m.group(2) else str(value))[1:-1]
    return json.loads(re.sub(r"\{\{\s*args\.([\w.]+)\s*(\|\s*lower\s*)?\}\}", sub, json.dumps(solutions)))


def _injections(data: dict[str, Any], path: Path) -> list[Injection]:
    disruptions = data.get("disruptions") or []
    _need(isinstance(disruptions, list), path, "'disruptions' must be a list")
    found = []
    for d_idx, disruption in enumerate(disruptions):
        _need(isinstance(disruption, dict), path, f"disruption {d_idx} must be an object")
        _need(isinstance(disruption.get("injections") or [], list), path,
              f"'injections' of disruption {d_idx} must be a list, got {disruption.get('injections')!r}")
        for inj in disruption.get("injections") or []:
            _need(isinstance(inj, dict) and isinstance(inj.get("id"), str), path, f"an injection in disruption {d_idx} lacks a string 'id'")
            _need(isinstance(inj.get("args") or {}, dict), path, f"injection '{inj['id']}' has non-object 'args'")
            obj = (inj.get("args") or {}).get("kubernetesObject") or {}
            _need(isinstance(obj, dict) and isinstance(obj.get("metadata") or {}, dict), path,
                  f"injection '{inj['id']}': kubernetesObject and its metadata must be objects")
            found.append(Injection(inj["id"], inj.get("args") or {}, d_idx))
    return found


def load_incident(path: Path, sre_root: Path, fault_names: dict[str, str]) -> ItbenchIncident:
    """Read one index JSON (+ groundtruth v2 if present); every upstream quirk is noted in `quirks`."""
    data = _read_json(path)
    _need(isinstance(data, dict), path, "expected a JSON object")
    raw_id = data.get("id", path.stem)
    _need((isinstance(raw_id, int) and not isinstance(raw_id, bool)) or
          (isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdecimal()), path,
          f"'id' must be an integer, got {raw_id!r}")
    sid, quirks = int(raw_id), []
    if path.stem != str(sid):
        quirks.append(f"index file name {path.name} does not match id {sid}")
    injections = _injections(data, path)
    if len(injections) > 1:
        quirks.append(f"{len(injections)} injections")
    for key in ("alerts", "tags", "solutions"):
        _need(isinstance(data.get(key) or [], list), path, f"'{key}' must be a list, got {data.get(key)!r}")
    _need(isinstance(data.get("environment") or {}, dict), path, "'environment' must be an object")
    _need(isinstance((data.get("environment") or {}).get("applications") or [], list), path,
          "'environment.applications' must be a list")
    alerts = [Alert(str(a.get("name") or a.get("id")) if isinstance(a, dict) else str(a)) for a in data.get("alerts") or []]
    if not alerts:
        quirks.append("index lists no alerts")
    case_dir = sre_root / "project/roles/scenarios/files" / f"scenario_{sid}"
    spec = _load_groundtruth(case_dir / "groundtruth.yaml")
    entities: list[Entity] = []
    solutions: Any = data.get("solutions") or []
    templated = "{{" in json.dumps(solutions)
    if spec is None:
        quirks.append("no groundtruth.yaml (v2): entities unknown, solutions taken from the index")
        solutions = _render_solutions(solutions, injections[0].args if injections else {})
    else:
        by_name = {str(a.get("name")): a for a in spec.get("alerts") or [] if isinstance(a, dict)}
        alerts = [Alert(a.name, dict(by_name.get(a.name, {}).get("labels") or {})) for a in alerts]
        for extra in sorted(set(by_name) - {a.name for a in alerts}):
            quirks.append(f"alert {extra} appears only in groundtruth v2")
            alerts.append(Alert(extra, dict(by_name[extra].get("labels") or {})))
        for ent in (e for e in spec.get("entities") or [] if isinstance(e, dict)):
            meta = ent.get("metadata") or {}
            entities.append(Entity(str(ent.get("kind")), str(meta.get("name")), meta.get("namespace"), ent.get("apiVersion")))
        solutions = spec["solutions"] if spec.get("solutions") is not None else solutions
    if templated:
        quirks.append("index solutions are unrendered templates; " + ("used groundtruth v2" if spec else "rendered from injection args"))
    has_v1 = (case_dir / "groundtruth_v1.yaml").is_file()
    if not has_v1:
        quirks.append("no groundtruth_v1.yaml")
    description = str(data.get("description") or "").strip()
    name, slug = derive_name(injections, fault_names, description, sid)
    apps = (data.get("environment") or {}).get("applications") or []
    incident = ItbenchIncident(
        source_id=sid, category=str(data.get("category") or "sre").lower(), name=name, slug=slug,
        description=description, complexity=data.get("complexity"), tags=[str(t) for t in data.get("tags") or []],
        applications=[str(a.get("id")) for a in apps if isinstance(a, dict)], alerts=alerts, injections=injections,
        entities=entities, solutions=solutions, has_groundtruth=spec is not None, has_groundtruth_v1=has_v1, quirks=quirks)
    named, hit = set(re.findall(r"`([^`]+)`", description)), {w for w, _ in affected_workloads(incident)}
    if named and hit and not named & hit:
        quirks.append(f"description names {sorted(named)} but the injections target {sorted(hit)}; the injections are used")
    return incident


# --------------------------------------------------------------------------------------- names and targets
def _chaos(spec: dict[str, Any]) -> tuple[str, str, list[tuple[str, str | None]]]:
    """(kind, action, [(component, namespace)]) of a Chaos Mesh scheduleSpec."""
    body = next((v for k, v in spec.items() if k.endswith("Chaos") and isinstance(v, dict)), {})
    action = body.get("action") or ("abort" if body.get("abort") else "patch" if body.get("patch") else "delay"
                                    if body.get("delay") else "/".join(sorted(body.get("stressors") or {})))
    selector = body.get("selector") or {}
    namespace = (selector.get("namespaces") or [None])[0]
    return (str(spec.get("type") or "Chaos"), str(action or "experiment"),
            [(str(v), namespace) for v in (selector.get("labelSelectors") or {}).values()])


def _subject(inj: Injection) -> str:
    """What an injection hits, for names: flag name, chaos experiment, env var or object name."""
    target = str(((inj.args.get("kubernetesObject") or {}).get("metadata") or {}).get("name") or inj.fault_id)
    if isinstance(inj.args.get("flag"), dict):
        return str(inj.args["flag"].get("name"))
    if isinstance(inj.args.get("scheduleSpec"), dict):
        kind, action, comps = _chaos(inj.args["scheduleSpec"])
        return f"{kind} {action} on {', '.join(c for c, _ in comps) or target}"
    env = (inj.args.get("container") or {}).get("env")
    return f"{env.get('name')} on {target}" if isinstance(env, dict) else target


_SLUG_STOP = {"kubernetes", "workload", "container", "opentelemetry", "demo", "scheduled", "mesh", "experiment", "on"}


def derive_name(injections: list[Injection], fault_names: dict[str, str], description: str, sid: int) -> tuple[str, str]:
    """Readable name + slug, '<fault name>: <subject>' per fault type; from the description if no injections."""
    groups: dict[str, list[str]] = {}
    for subject, inj in ((_subject(i), i) for i in injections):
        if subject not in groups.setdefault(inj.fault_id, []):
            groups[inj.fault_id].append(subject)
    if groups:
        name = " + ".join(f"{fault_names.get(f) or f.replace('-', ' ').title()}: {', '.join(s)}" for f, s in groups.items())
        slug_src = " ".join(f"{f.replace('-', ' ')} {' '.join(s)}" for f, s in groups.items())
    else:
        name = re.sub(r"^this scenario (simulates )?", "", description.rstrip("."), flags=re.I) or f"ITBench scenario {sid}"
        name, slug_src = name[:1].upper() + name[1:], name
    slug = ""
    for word in re.split(r"[^a-z0-9]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", slug_src.replace("Chaos", " ")).lower()):
        if word and word not in _SLUG_STOP:
            if len(slug) + len(word) >= 60:
                break
            slug = f"{slug}_{word}" if slug else word
    return name, slug or f"scenario_{sid}"


def affected_workloads(incident: ItbenchIncident) -> list[tuple[str, str | None]]:
    """(workload, namespace) pairs for the page: injected objects, else `backticked` description names, else apps."""
    found: list[tuple[str, str | None]] = []
    namespace = None
    for inj in incident.injections:
        obj = inj.args.get("kubernetesObject") or {}
        meta = obj.get("metadata") or {}
        namespace = namespace or meta.get("namespace")
        if isinstance(inj.args.get("scheduleSpec"), dict):
            found += _chaos(inj.args["scheduleSpec"])[2]
        elif obj.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Service"} and meta.get("name"):
            found.append((str(meta["name"]), meta.get("namespace")))
    found = found or [(m, namespace) for m in re.findall(r"`([^`]+)`", incident.description)]
    return list(dict.fromkeys(found)) or [(app, namespace) for app in incident.applications]


# ------------------------------------------------------------------------------------------------- sources
def resolve_commit(root: Path) -> tuple[str | None, str | None]:
    """(commit, origin): HEAD when `root` is itself a git checkout, else an 'at commit <sha>' README note."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None
    top = git("rev-parse", "--show-toplevel")
    head = git("rev-parse", "HEAD") if top and Path(top).resolve() == root.resolve() else None
    if head:
        return head, "git"
    readme = root / "README.md"
    note = re.search(r"\bat commit\s+`?([0-9a-f]{7,40})\b", readme.read_text(errors="replace")) if readme.is_file() else None
    return (note.group(1), "README.md note") if note else (None, None)


def is_git_url(source: str) -> bool:
    return "://" in source or re.match(r"^[\w.-]+@[\w.-]+:", source) is not None


@contextmanager
def materialize_source(source: str) -> Iterator[Path]:
    """Yield a local directory for `source`: the path itself, or a shallow clone removed afterwards."""
    if not is_git_url(source):
        if not Path(source).expanduser().is_dir():
            raise ItbenchImportError(f"ITBench source {source!r} is not a directory. Pass --source the path of an "
                                     "ITBench checkout, or a git URL (https://..., file://...).")
        yield Path(source).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="itbench-src-") as tmp:
        cmd = ["git", "clone", "--depth", "1", "--quiet", "--", source, str(Path(tmp) / "checkout")]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        except (OSError, subprocess.SubprocessError) as exc:
            raise ItbenchImportError(f"could not run {' '.join(cmd)}: {exc}. Is git installed?") from None
        if proc.returncode != 0:
            detail = " ".join(proc.stderr.split())[-400:].rstrip(".")
            raise ItbenchImportError(f"git clone of {source!r} failed (exit {proc.returncode}): {detail}. "
                                     "Check the URL, or clone it yourself and pass the path.")
        yield Path(tmp) / "checkout"


def load_checkout(root: Path, subdir: str = DEFAULT_SUBDIR, location: str | None = None, is_url: bool = False) -> ImportResult:
    """Read every index JSON under `root/subdir`; SRE scenarios are kept, FinOps and others are counted."""
    sre_root = root / subdir
    index_dir = sre_root / "library/indexes/scenarios"
    if not index_dir.is_dir():
        raise ItbenchImportError(f"no ITBench scenario index at {index_dir}. Point --source at the ITBench checkout root "
                                 f"(the folder holding '{subdir}'), or set --source-subdir.")
    fault_names = load_fault_names(sre_root)
    incidents: dict[int, ItbenchIncident] = {}
    excluded: dict[int, str] = {}
    for path in sorted(index_dir.glob("*.json")):
        inc = load_incident(path, sre_root, fault_names)
        if inc.source_id in incidents or inc.source_id in excluded:
            raise ItbenchImportError(f"duplicate ITBench scenario id {inc.source_id} (second copy: {path}); remove one.")
        if inc.category == "sre":
            incidents[inc.source_id] = inc
        else:
            excluded[inc.source_id] = inc.category
    commit, origin = resolve_commit(root)
    return ImportResult(location or str(root.resolve()), is_url, subdir, commit, origin,
                        [incidents[k] for k in sorted(incidents)],
                        sorted(k for k, c in excluded.items() if c == "finops"), sorted(k for k, c in excluded.items() if c != "finops"))

