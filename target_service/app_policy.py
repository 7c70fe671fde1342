"""The mesh's traffic policies, enforced by the gateway in front of the instance.

When etc/service.json has a `mesh` block ({"config_dir": "<dir>", "gateway": {"name": "<gw>",
"namespace": "<ns>"}}), every request reaches the instance through that gateway, which applies
the policy documents in `<dir>/*.json` (Kubernetes/Istio-shaped, re-read per request like a
controller that watches them), in the order a real data path meets them:

    AuthorizationPolicy  targeting the gateway (targetRefs kind Gateway, or a selector on the
                         gateway's pod label): a DENY rule that matches GET / -> 403; ALLOW
                         policies present but none matches -> 403 (Istio semantics)
    Namespace            the instance's namespace (`namespace` in etc/service.json) must carry
                         istio.io/dataplane-mode=ambient; outside the mesh the gateway has no
                         endpoint for it -> 503
    NetworkPolicy        policies in that namespace whose podSelector matches the instance's
                         `labels` and that police Ingress: the union of their rules must allow the
                         gateway (namespace/pod selectors) on the listen port, else the
                         connection times out -> 503
    PeerAuthentication   the most specific one (workload selector > namespace > mesh root
                         istio-system) decides the mTLS mode; STRICT refuses the gateway, which
                         connects without a client certificate -> 503 (connection reset)

The reason goes to the log in a proxy's words, with the document's path; the body stays generic
(app.py). No `mesh` block: requests reach the instance directly. Stdlib only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

AMBIENT_LABEL = "istio.io/dataplane-mode"
GATEWAY_POD_LABEL = "gateway.networking.k8s.io/gateway-name"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MESH_ROOT_NAMESPACE = "istio-system"
REQUEST = ("GET", "/")  # what the probe sends through the gateway


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _safe_rel(value: Any) -> Optional[str]:
    if isinstance(value, str) and value.strip() and ".." not in value.split("/") and not value.startswith("/"):
        return value.strip().rstrip("/")
    return None


def mesh_settings(raw: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The gateway's settings from etc/service.json (None = no gateway in front)."""
    mesh = raw.get("mesh")
    if not isinstance(mesh, dict):
        return None
    folder = _safe_rel(mesh.get("config_dir"))
    gateway = mesh.get("gateway") if isinstance(mesh.get("gateway"), dict) else {}
    if folder is None:
        return None
    namespace = str(raw.get("namespace") or "default")
    return {"dir": folder, "namespace": namespace, "gateway": str(gateway.get("name") or "gateway"),
            "gateway_namespace": str(gateway.get("namespace") or namespace),
            "labels": raw.get("labels") if isinstance(raw.get("labels"), dict) else {}}


def documents(root: Path, folder: str) -> List[Tuple[str, Dict[str, Any]]]:
    """(rel path, document) for every JSON object in the policy folder, sorted by name."""
    base = Path(root) / folder
    found = []
    for path in sorted(base.glob("*.json")) if base.is_dir() else []:
        doc = _read(path)
        if isinstance(doc, dict):
            found.append(("%s/%s" % (folder, path.name), doc))
    return found


def _meta(doc: Mapping[str, Any]) -> Dict[str, Any]:
    return doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}


def _spec(doc: Mapping[str, Any]) -> Dict[str, Any]:
    return doc.get("spec") if isinstance(doc.get("spec"), dict) else {}


def _matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A label selector ({matchLabels: {...}} or a bare mapping): {} or missing matches all."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    wanted = (selector.get("matchLabels") or {}) if "matchLabels" in selector else selector
    if not isinstance(wanted, dict):
        return False
    return all(labels.get(k) == v for k, v in wanted.items())


# --- the four checks -------------------------------------------------------------------------

def _authorization(docs, s) -> Optional[str]:
    method, path = REQUEST
    gw_labels = {GATEWAY_POD_LABEL: s["gateway"]}
    allow_seen = False
    for rel, doc in docs:
        if doc.get("kind") != "AuthorizationPolicy" or _meta(doc).get("namespace", s["gateway_namespace"]) != s["gateway_namespace"]:
            continue
        spec = _spec(doc)
        refs = spec.get("targetRefs") if isinstance(spec.get("targetRefs"), list) else []
        targeted = any(isinstance(r, dict) and r.get("kind") == "Gateway" and r.get("name") == s["gateway"] for r in refs)
        if not refs and isinstance(spec.get("selector"), dict):
            targeted = _matches(spec["selector"], gw_labels)
        if not targeted:
            continue
        action = str(spec.get("action") or "ALLOW").upper()
        rules = spec.get("rules") if isinstance(spec.get("rules"), list) else []
        hit = next((i for i, rule in enumerate(rules) if _rule_matches(rule, method, path)), None)
        if action == "DENY" and hit is not None:
            return ("RBAC: access denied via gateway %s: rbac_access_denied_matched_policy[ns[%s]-policy[%s]-rule[%d]] (%s)"
                    % (s["gateway"], s["gateway_namespace"], _meta(doc).get("name", "?"), hit, rel))
        if action == "ALLOW":
            allow_seen = True
            if hit is not None:
                return None
    if allow_seen:
        return "RBAC: access denied via gateway %s: no ALLOW policy matched %s %s" % (s["gateway"], method, path)
    return None


def _rule_matches(rule: Any, method: str, path: str) -> bool:
    if not isinstance(rule, dict):
        return False
    to = rule.get("to")
    if not to:  # {} or a rule without `to`: every operation
        return not rule.get("from") and not rule.get("when")
    for entry in to if isinstance(to, list) else []:
        op = entry.get("operation") if isinstance(entry, dict) and isinstance(entry.get("operation"), dict) else {}
        methods, paths = op.get("methods"), op.get("paths")
        if methods and method not in methods:
            continue
        if paths and not any(p == path or (str(p).endswith("*") and path.startswith(str(p)[:-1])) for p in paths):
            continue
        return True
    return False


def _membership(docs, s) -> Optional[str]:
    for rel, doc in docs:
        if doc.get("kind") == "Namespace" and _meta(doc).get("name") == s["namespace"]:
            labels = _meta(doc).get("labels") if isinstance(_meta(doc).get("labels"), dict) else {}
            mode = labels.get(AMBIENT_LABEL)
            if mode == "ambient":
                return None
            return ("no healthy upstream via gateway %s: %s.%s is outside the mesh (namespace %s: %s=%s, in %s)"
                    % (s["gateway"], s["service"], s["namespace"], s["namespace"], AMBIENT_LABEL,
                       mode if mode is not None else "<unset>", rel))
    return ("no healthy upstream via gateway %s: %s.%s is outside the mesh (no Namespace document for %s)"
            % (s["gateway"], s["service"], s["namespace"], s["namespace"]))


def _network(docs, s, port: Optional[int]) -> Optional[str]:
    source_ns = {NAMESPACE_NAME_LABEL: s["gateway_namespace"]}
    source_pod = {GATEWAY_POD_LABEL: s["gateway"]}
    selecting = []
    for rel, doc in docs:
        if doc.get("kind") != "NetworkPolicy" or _meta(doc).get("namespace", s["namespace"]) != s["namespace"]:
            continue
        spec = _spec(doc)
        types = spec.get("policyTypes") if isinstance(spec.get("policyTypes"), list) else ["Ingress"]
        if "Ingress" not in types or not _matches(spec.get("podSelector", {}), s["labels"]):
            continue
        selecting.append(rel)
        for rule in spec.get("ingress") if isinstance(spec.get("ingress"), list) else []:
            if not isinstance(rule, dict):
                continue
            peers, ports = rule.get("from") or [], rule.get("ports") or []
            peer_ok = not peers or any(_peer_matches(p, source_ns, source_pod, s) for p in peers)
            port_ok = not ports or any(isinstance(p, dict) and p.get("port") in (None, port) and
                                       str(p.get("protocol") or "TCP").upper() == "TCP" for p in ports)
            if peer_ok and port_ok:
                return None
    if not selecting:
        return None
    return ("upstream connect error or disconnect/reset before headers via gateway %s: reset reason: connection "
            "timeout to %s.%s:%s (NetworkPolicy selecting the workload: %s)"
            % (s["gateway"], s["service"], s["namespace"], port, ", ".join(selecting)))


def _peer_matches(peer: Any, source_ns: Mapping[str, str], source_pod: Mapping[str, str], s) -> bool:
    if not isinstance(peer, dict) or "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        ns_ok = _matches(peer["namespaceSelector"] or {}, source_ns)
    else:
        ns_ok = s["gateway_namespace"] == s["namespace"]
    return ns_ok and _matches(peer.get("podSelector", {}) or {}, source_pod)


def _mtls(docs, s) -> Optional[str]:
    best = None  # (specificity, rel, mode)
    for rel, doc in docs:
        if doc.get("kind") != "PeerAuthentication":
            continue
        ns, spec = _meta(doc).get("namespace"), _spec(doc)
        mtls = spec.get("mtls") if isinstance(spec.get("mtls"), dict) else {}
        mode = str(mtls.get("mode") or "PERMISSIVE").upper()
        if ns == s["namespace"] and isinstance(spec.get("selector"), dict):
            rank = 3 if _matches(spec["selector"], s["labels"]) else 0
        elif ns == s["namespace"]:
            rank = 2
        elif ns == MESH_ROOT_NAMESPACE and not isinstance(spec.get("selector"), dict):
            rank = 1
        else:
            rank = 0
        if rank and (best is None or rank > best[0]):
            best = (rank, rel, mode)
    if best is None or best[2] != "STRICT":
        return None
    return ("upstream connect error or disconnect/reset before headers via gateway %s: reset reason: connection "
            "termination, transport failure reason: TLS error: PEER_DID_NOT_RETURN_A_CERTIFICATE "
            "(%s.%s requires mTLS mode STRICT per %s; the gateway connects without a client certificate)"
            % (s["gateway"], s["service"], s["namespace"], best[1]))


def policy_problem(root: Path, service: str, listen_port: Optional[int]) -> Optional[Tuple[int, str]]:
    """(HTTP status, log reason) when the gateway refuses requests for `service`, else None."""
    raw = _read(Path(root) / "etc/service.json")
    settings = mesh_settings(raw if isinstance(raw, dict) else {})
    if settings is None:
        return None
    settings["service"] = service
    docs = documents(root, settings["dir"])
    suffix = "; mesh config in %s" % settings["dir"]
    denied = _authorization(docs, settings)
    if denied:
        return 403, denied + suffix
    for found in (_membership(docs, settings), _network(docs, settings, listen_port), _mtls(docs, settings)):
        if found:
            return 503, found + suffix
    return None
