#!/usr/bin/env python3
"""Diagnose a mesh traffic policy that refuses requests in front of a healthy instance (JSON on stdout).

Searches: `mesh` (the gateway and its policy folder), `namespace` and `labels` in etc/service.json,
every document in that folder (Namespace, AuthorizationPolicy, NetworkPolicy, PeerAuthentication),
the port the instance listens on (`targetctl info`), and the log's "via gateway" lines. Evaluates
the documents the way the gateway does and names the one that refuses the traffic (the entity: its
path) and how (`kind`: authorization_deny, mesh_membership, network_policy, mtls_strict). Acts
only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import listen_port, targetctl  # noqa: E402

CLASS_ID = "ingress_policy"
CONFIG = "etc/service.json"
AMBIENT = "istio.io/dataplane-mode"
GATEWAY_POD = "gateway.networking.k8s.io/gateway-name"
NS_NAME = "kubernetes.io/metadata.name"
MESH_ROOT = "istio-system"
LOGGED = re.compile(r"via gateway .*")


def read_json(rel: str):
    try:
        return json.loads(targetctl("exec", "cat", rel).stdout or "null")
    except ValueError:
        return None


def documents(folder: str) -> list[tuple[str, dict]]:
    names = sorted(n for n in targetctl("exec", "ls", "-1", folder).stdout.split() if n.endswith(".json"))
    found = []
    for name in names:
        doc = read_json("%s/%s" % (folder, name))
        if isinstance(doc, dict):
            found.append(("%s/%s" % (folder, name), doc))
    return found


def meta(doc: dict) -> dict:
    return doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}


def spec(doc: dict) -> dict:
    return doc.get("spec") if isinstance(doc.get("spec"), dict) else {}


def matches(selector, labels: dict) -> bool:
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    wanted = (selector.get("matchLabels") or {}) if "matchLabels" in selector else selector
    return isinstance(wanted, dict) and all(labels.get(k) == v for k, v in wanted.items())


def rule_matches(rule, method: str = "GET", path: str = "/") -> bool:
    if not isinstance(rule, dict):
        return False
    if not rule.get("to"):
        return not rule.get("from") and not rule.get("when")
    for entry in rule["to"] if isinstance(rule["to"], list) else []:
        op = entry.get("operation") if isinstance(entry, dict) and isinstance(entry.get("operation"), dict) else {}
        if op.get("methods") and method not in op["methods"]:
            continue
        if op.get("paths") and not any(p == path or (str(p).endswith("*") and path.startswith(str(p)[:-1]))
                                       for p in op["paths"]):
            continue
        return True
    return False


def find_refusal(docs, ns: str, gw: str, gw_ns: str, labels: dict, port) -> tuple[str, str, str] | None:
    """(kind, rel, why) of the document that refuses GET / through the gateway, else None."""
    for rel, doc in docs:  # a DENY rule on the gateway
        s = spec(doc)
        refs = s.get("targetRefs") if isinstance(s.get("targetRefs"), list) else []
        on_gateway = any(isinstance(r, dict) and r.get("kind") == "Gateway" and r.get("name") == gw for r in refs)
        if not refs and isinstance(s.get("selector"), dict):
            on_gateway = matches(s["selector"], {GATEWAY_POD: gw})
        if (doc.get("kind") == "AuthorizationPolicy" and on_gateway and meta(doc).get("namespace", gw_ns) == gw_ns
                and str(s.get("action") or "ALLOW").upper() == "DENY"
                and any(rule_matches(r) for r in s.get("rules") or [])):
            return "authorization_deny", rel, "DENY rule matches GET / on gateway %s" % gw
    namespace = next(((rel, d) for rel, d in docs if d.get("kind") == "Namespace" and meta(d).get("name") == ns), None)
    if namespace is not None:
        mode = (meta(namespace[1]).get("labels") or {}).get(AMBIENT)
        if mode != "ambient":
            return "mesh_membership", namespace[0], "namespace %s has %s=%s (not ambient)" % (ns, AMBIENT, mode)
    selecting, allowed = [], False
    for rel, doc in docs:
        s = spec(doc)
        types = s.get("policyTypes") if isinstance(s.get("policyTypes"), list) else ["Ingress"]
        if (doc.get("kind") != "NetworkPolicy" or meta(doc).get("namespace", ns) != ns or "Ingress" not in types
                or not matches(s.get("podSelector", {}), labels)):
            continue
        selecting.append(rel)
        for rule in s.get("ingress") or []:
            peers, ports = (rule.get("from") or [], rule.get("ports") or []) if isinstance(rule, dict) else ([None], [])
            peer_ok = not peers or any(
                isinstance(p, dict) and "ipBlock" not in p
                and (matches(p.get("namespaceSelector") or {}, {NS_NAME: gw_ns}) if "namespaceSelector" in p else gw_ns == ns)
                and matches(p.get("podSelector") or {}, {GATEWAY_POD: gw}) for p in peers)
            port_ok = not ports or any(isinstance(p, dict) and p.get("port") in (None, port) for p in ports)
            allowed = allowed or (peer_ok and port_ok)
    if selecting and not allowed:
        return "network_policy", selecting[-1], "no rule of %s allows the gateway on port %s" % (", ".join(selecting), port)
    best = None
    for rel, doc in docs:
        if doc.get("kind") != "PeerAuthentication":
            continue
        s, where = spec(doc), meta(doc).get("namespace")
        mode = str((s.get("mtls") or {}).get("mode") or "PERMISSIVE").upper() if isinstance(s.get("mtls"), dict) else "PERMISSIVE"
        if where == ns and isinstance(s.get("selector"), dict):
            rank = 3 if matches(s["selector"], labels) else 0
        else:
            rank = 2 if where == ns else (1 if where == MESH_ROOT and not isinstance(s.get("selector"), dict) else 0)
        if rank and (best is None or rank > best[0]):
            best = (rank, rel, mode)
    if best and best[2] == "STRICT":
        return "mtls_strict", best[1], "mTLS mode STRICT for the workload; the gateway presents no client certificate"
    return None


def diagnose() -> dict:
    health = targetctl("status")
    config = read_json(CONFIG) or {}
    mesh = config.get("mesh") if isinstance(config.get("mesh"), dict) else {}
    folder = mesh.get("config_dir")
    out = {"check": "ingress-policy", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "config_dir": folder, "fault_present": False}
    if not isinstance(folder, str) or not folder:
        return dict(out, note="requests do not pass through a mesh gateway")
    ns = str(config.get("namespace") or "default")
    gateway = mesh.get("gateway") if isinstance(mesh.get("gateway"), dict) else {}
    gw, gw_ns = str(gateway.get("name") or "gateway"), str(gateway.get("namespace") or ns)
    labels = config.get("labels") if isinstance(config.get("labels"), dict) else {}
    port = listen_port()
    docs = documents(folder)
    found = find_refusal(docs, ns, gw, gw_ns, labels, port)
    lines = [line.strip() for line in targetctl("logs", "-n", "200").stdout.splitlines() if LOGGED.search(line)]
    present = health.returncode != 0 and found is not None
    out.update({"namespace": ns, "gateway": gw, "gateway_namespace": gw_ns, "labels": labels, "listen_port": port,
                "documents": [rel for rel, _ in docs], "fault_present": present})
    if found is not None:
        out.update({"kind": found[0], "file": found[1], "why": found[2],
                    "document": next(doc for rel, doc in docs if rel == found[1])})
    if present:
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": found[1],
                            "evidence": lines[-1:] + ["%s: %s" % (found[1], found[2])]}
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
