"""Fault class ingress_policy: the app is healthy and routed right, but a traffic policy in the
mesh in front of it refuses the requests.

etc/service.json names the gateway and its policy folder (`mesh`: {"config_dir", "gateway"}), the
instance's `namespace` and `labels`; app_policy.py enforces the folder's documents per request.
One document is wrong (by seed):
    network_policy      a NetworkPolicy selecting the workload allows no source (`ingress: []`) or
                        only another port -> the gateway's connection times out, 503
    authorization_deny  an AuthorizationPolicy on the gateway with a DENY rule matching GET / (a
                        rule `{}` or on the request's methods) -> 403
    mtls_strict         a PeerAuthentication for the workload in mode STRICT while the gateway
                        connects without a client certificate -> connection reset, 503
    mesh_membership     the namespace lost its istio.io/dataplane-mode=ambient label (removed or
                        set to none), so the gateway
                        has no mesh endpoint for it -> 503
The fix: that one document (edited so the traffic is allowed, or deleted for the three policies
that were added: ITBench lists deleting the offending policy as a valid fix; the namespace must
be labelled again, deleting it does not count). The folder is re-read per request: no restart.
Decoys (must stay byte-identical; "allow everything by deleting or relaxing every policy" fails):
a namespace deliberately outside the mesh, the mesh-wide PERMISSIVE default, a STRICT
PeerAuthentication and a NetworkPolicy for the database, and a narrow DENY policy on the gateway's
admin paths. Moving the instance's port, relabelling it, changing its namespace or removing the
`mesh` block (bypassing the gateway) do not count either.

ITBench params: {"breakage", "namespace", "gateway", "policy_name", "methods", "network_rule",
"dataplane_mode"}.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_ingress_policy (the runner, the tests)
    from . import faults_core as core, faults_service as service
    from .app_policy import AMBIENT_LABEL, GATEWAY_POD_LABEL, NAMESPACE_NAME_LABEL, MESH_ROOT_NAMESPACE, policy_problem
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    from app_policy import AMBIENT_LABEL, GATEWAY_POD_LABEL, NAMESPACE_NAME_LABEL, MESH_ROOT_NAMESPACE, policy_problem

DIRS = ("etc/mesh/policies", "etc/{svc}/policies", "etc/istio/{ns}", "srv/mesh/{svc}", "etc/security/{ns}")
BREAKAGES = ("network_policy", "authorization_deny", "mtls_strict", "mesh_membership")
NETWORK_RULES = ("no_source", "wrong_port")
NAMESPACES = ("shop", "{svc}-prod", "apps", "storefront", "prod-eu")
GATEWAYS = ("{svc}-gateway", "public-gateway", "edge-gateway", "{ns}-gateway")
NAME_SUFFIXES = ("ingress", "lockdown", "restrict", "deny", "hardening")
METHODS = ((), ("GET",), ("GET", "POST"), ("GET", "HEAD"))
OUTSIDE_NAMESPACES = ("monitoring", "batch-jobs", "legacy", "observability")
DB_PORT = 5432


@core.register_class
class IngressPolicy(core.FaultClass):
    name = "ingress_policy"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {"config_dir": rng.choice(DIRS), "breakage": rng.choice(BREAKAGES),
                "network_rule": rng.choice(NETWORK_RULES), "namespace": rng.choice(NAMESPACES),
                "gateway": rng.choice(GATEWAYS), "policy_name": "{svc}-" + rng.choice(NAME_SUFFIXES),
                "methods": list(rng.choice(METHODS)), "outside_namespace": rng.choice(OUTSIDE_NAMESPACES),
                "metrics_port": rng.randint(9100, 9199), "dataplane_mode": rng.choice(("", "none"))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")
        breakage = str(params.get("breakage") or "network_policy")
        if breakage not in BREAKAGES:
            raise ValueError("ingress_policy: unknown breakage %r; valid: %s" % (breakage, ", ".join(BREAKAGES)))
        rule = str(params.get("network_rule") or "no_source")
        if rule not in NETWORK_RULES:
            raise ValueError("ingress_policy: unknown network_rule %r; valid: %s" % (rule, ", ".join(NETWORK_RULES)))
        ns = str(params.get("namespace") or "shop").replace("{svc}", svc)
        sub = lambda value: str(value).replace("{svc}", svc).replace("{ns}", ns)  # noqa: E731
        folder = sub(params.get("config_dir") or DIRS[0]).rstrip("/")
        gateway = sub(params.get("gateway") or "{svc}-gateway")
        default_name = {"authorization_deny": gateway + "-deny", "mtls_strict": svc + "-mtls"}.get(breakage, svc + "-ingress")
        name = sub(params.get("policy_name") or default_name)
        methods = params.get("methods")
        kind = {"network_policy": "networkpolicy", "authorization_deny": "authorizationpolicy",
                "mtls_strict": "peerauthentication"}.get(breakage)
        file = "%s/namespace-%s.json" % (folder, ns) if kind is None else "%s/%s-%s.json" % (folder, kind, name)
        outside = str(params.get("outside_namespace") or "monitoring")
        return {"svc": svc, "breakage": breakage, "rule": rule, "ns": ns, "dir": folder, "gateway": gateway,
                "name": name, "methods": [str(m).upper() for m in methods] if isinstance(methods, list) else [],
                "file": file, "outside": outside if outside != ns else outside + "-2",
                "metrics_port": int(params.get("metrics_port") or service.DEFAULT_METRICS_PORT),
                "db": svc + "-db", "dataplane_mode": str(params.get("dataplane_mode") or "")}

    # --- documents ---------------------------------------------------------------------------

    @staticmethod
    def labels(p: Mapping[str, Any]) -> Dict[str, str]:
        return {"app": p["svc"], "tier": "backend"}

    @staticmethod
    def mesh(p: Mapping[str, Any]) -> Dict[str, Any]:
        return {"config_dir": p["dir"], "gateway": {"name": p["gateway"], "namespace": p["ns"]}}

    @staticmethod
    def _namespace(name: str, ambient: bool, mode: str = "") -> Dict[str, Any]:
        labels = {NAMESPACE_NAME_LABEL: name}
        if ambient or mode:  # out of the mesh: the label removed, or set to another mode
            labels[AMBIENT_LABEL] = "ambient" if ambient else mode
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}

    def healthy_documents(self, p: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
        """rel path -> document: the mesh's config as deployed (the decoys + the namespace)."""
        d, ns, db = p["dir"], p["ns"], p["db"]
        return {
            "%s/namespace-%s.json" % (d, ns): self._namespace(ns, True),
            "%s/namespace-%s.json" % (d, p["outside"]): self._namespace(p["outside"], False),
            "%s/peerauthentication-default.json" % d: {
                "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": MESH_ROOT_NAMESPACE},
                "spec": {"mtls": {"mode": "PERMISSIVE"}}},
            "%s/peerauthentication-%s.json" % (d, db): {
                "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                "metadata": {"name": db, "namespace": ns},
                "spec": {"selector": {"matchLabels": {"app": db}}, "mtls": {"mode": "STRICT"}}},
            "%s/networkpolicy-%s.json" % (d, db): {
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": db, "namespace": ns},
                "spec": {"podSelector": {"matchLabels": {"app": db}}, "policyTypes": ["Ingress"],
                         "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": p["svc"]}}}],
                                      "ports": [{"port": DB_PORT, "protocol": "TCP"}]}]}},
            "%s/authorizationpolicy-%s-admin.json" % (d, p["gateway"]): {
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": p["gateway"] + "-admin", "namespace": ns},
                "spec": {"targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": p["gateway"]}],
                         "action": "DENY",
                         "rules": [{"to": [{"operation": {"methods": ["DELETE", "PUT"], "paths": ["/admin/*"]}}]}]}},
        }

    def broken_document(self, p: Mapping[str, Any], port: int) -> Dict[str, Any]:
        if p["breakage"] == "mesh_membership":
            return self._namespace(p["ns"], False, p["dataplane_mode"])
        meta = {"name": p["name"], "namespace": p["ns"]}
        if p["breakage"] == "network_policy":
            ingress = [] if p["rule"] == "no_source" else [
                {"from": [{"namespaceSelector": {}}],
                 "ports": [{"port": p["metrics_port"] if p["metrics_port"] != port else port + 1, "protocol": "TCP"}]}]
            return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
                    "spec": {"podSelector": {"matchLabels": {"app": p["svc"]}}, "policyTypes": ["Ingress"],
                             "ingress": ingress}}
        if p["breakage"] == "authorization_deny":
            rule = {"to": [{"operation": {"methods": list(p["methods"])}}]} if p["methods"] else {}
            return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta,
                    "spec": {"targetRefs": [{"kind": "Gateway", "group": "gateway.networking.k8s.io",
                                             "name": p["gateway"]}],
                             "action": "DENY", "rules": [rule]}}
        return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta,
                "spec": {"selector": {"matchLabels": {"app": p["svc"]}}, "mtls": {"mode": "STRICT"}}}

    # --- the contract --------------------------------------------------------------------------

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        for rel, doc in self.healthy_documents(p).items():
            core.write_json(ctx.root / rel, doc)
        core.write_json(ctx.root / p["file"], self.broken_document(p, ctx.listen_port))
        config = core.read_service_json(ctx.root)
        config["namespace"], config["labels"], config["mesh"] = p["ns"], self.labels(p), self.mesh(p)
        config.setdefault("metrics", {"port": p["metrics_port"], "path": "/metrics"})
        core.write_service_json(ctx.root, config)

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "forbidden" if self._p(params)["breakage"] == "authorization_deny" else "unavailable"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["file"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        p = self._p(params)
        return [rel for rel in self.healthy_documents(p) if rel != "%s/namespace-%s.json" % (p["dir"], p["ns"])]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        port, _source = service.effective_port(root)
        expected = service.upstream_port(root)
        raw = core.service_json_or_empty(root)
        refused = policy_problem(root, p["svc"], port if isinstance(port, int) else None)
        changed = []
        for rel, doc in self.healthy_documents(p).items():
            if rel == p["file"]:
                continue
            if core.read_json_or(root / rel, None) != doc:
                changed.append(rel)
        checks = [
            core.Check("requests still pass through the gateway", raw.get("mesh") == self.mesh(p),
                       "mesh in etc/service.json: %r" % (raw.get("mesh"),)),
            core.Check("the gateway's policies let requests reach the instance", refused is None,
                       refused[1] if refused else "allowed"),
            core.listen_port_check(port, expected),
            core.Check("the instance's labels and namespace are unchanged",
                       raw.get("labels") == self.labels(p) and raw.get("namespace") == p["ns"],
                       "labels %r, namespace %r" % (raw.get("labels"), raw.get("namespace"))),
            core.Check("the other policies and namespaces are unchanged", not changed,
                       ", ".join(changed) or "unchanged"),
        ]
        if p["breakage"] == "mesh_membership":  # re-labelled, not deleted (a missing namespace is refused anyway)
            checks.append(core.Check("the namespace is in the mesh again", (root / p["file"]).is_file(), p["file"]))
        return checks
