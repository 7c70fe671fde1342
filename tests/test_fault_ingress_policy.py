"""ingress_policy: generator, blind symptom of every variant, the gateway's policy evaluation
(app_policy.py), the oracle (real fixes, restart-only, shortcuts that bypass or relax everything)
and the ingress-policy skill's scripts, locally and on the Docker backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

from target_service import app_policy
from tests.support import service_faults as sf

FAULT = "ingress_policy"
STATUS = {"unavailable": 503, "forbidden": 403}


def seed_for(breakage: str, rule: str | None = None, start: int = 0) -> int:
    return next(s for s in range(start, start + 200)
                if sf.faults.make_variant(FAULT, s)["params"]["breakage"] == breakage
                and (rule is None or sf.faults.make_variant(FAULT, s)["params"]["network_rule"] == rule))


class IngressPolicyTest(sf.ServiceFaultCase):
    FAULT = FAULT
    SKILL = "ingress-policy"
    RESTART_AFTER_FIX = False

    @property
    def SEEDS(self) -> tuple[int, ...]:  # noqa: N802 (the base class's name): one seed per variant
        return (seed_for("network_policy", "no_source"), seed_for("network_policy", "wrong_port"),
                seed_for("authorization_deny"), seed_for("mtls_strict"), seed_for("mesh_membership"))

    def assert_evidence(self, logs: str, variant: dict) -> None:
        self.assertIn(variant["entity"], logs)
        self.assertIn("via gateway", logs)
        self.assertIn("mesh config in", logs)

    def test_every_variant_is_drawn(self) -> None:
        drawn = {(v["params"]["breakage"], v["params"]["network_rule"], v["symptom"])
                 for v in (self.variant(s) for s in range(40))}
        self.assertEqual({b for b, _, _ in drawn}, {"network_policy", "authorization_deny", "mtls_strict",
                                                    "mesh_membership"})
        self.assertEqual({r for b, r, _ in drawn if b == "network_policy"}, {"no_source", "wrong_port"})
        self.assertEqual({s for b, _, s in drawn if b == "authorization_deny"}, {"forbidden"})
        self.assertEqual({s for b, _, s in drawn if b != "authorization_deny"}, {"unavailable"})

    def test_blind_symptom(self) -> None:  # every variant, not one seed
        for seed in self.SEEDS:
            with self.subTest(seed=seed):
                target, variant = self.target(seed)
                code, status = sf.ctl(target, "status")
                self.assertEqual(code, 1, status)
                self.assertIn("HTTP %d" % STATUS[variant["symptom"]], status)
                body = json.loads(status.split("\n", 1)[1])
                self.assertEqual(set(body), {"status", "instance", "error"})
                self.assertIn(body["error"], ("Forbidden", "Service Unavailable"))
                _, logs = sf.ctl(target, "logs", "-n", "80")
                _, info = sf.ctl(target, "info")
                self.assert_evidence(logs, variant)
                for text in (status, logs, info):
                    for token in self.forbidden() + ["ingresspolicy"]:
                        self.assertNotIn(token.lower(), text.lower())

    def test_itbench_params(self) -> None:
        for params, status, needle in (
                ({"breakage": "network_policy", "namespace": "otel-demo", "policy_name": "frontend-ingress"},
                 503, "networkpolicy-frontend-ingress.json"),
                ({"breakage": "authorization_deny", "namespace": "book-info", "gateway": "bookinfo-gateway",
                  "policy_name": "bookinfo-gateway-deny", "methods": ["GET"]},
                 403, "policy[bookinfo-gateway-deny]"),
                ({"breakage": "mesh_membership", "namespace": "book-info"}, 503, "namespace-book-info.json"),
                ({"breakage": "mtls_strict", "namespace": "book-info", "policy_name": "productpage-v1"},
                 503, "peerauthentication-productpage-v1.json")):
            with self.subTest(breakage=params["breakage"]):
                target = sf.start(FAULT, params)
                self.addCleanup(target.cleanup)
                self.assertIn("HTTP %d" % status, sf.ctl(target, "status")[1])
                self.assertIn(needle, sf.ctl(target, "logs", "-n", "30")[1])

    def test_decoys_alone_allow_traffic(self) -> None:
        """The mesh as deployed (every decoy, the namespace in the mesh) lets requests through."""
        for seed in self.SEEDS:
            with self.subTest(seed=seed):
                target, variant = self.target(seed)
                (target.root / variant["entity"]).unlink()
                if variant["params"]["breakage"] == "mesh_membership":
                    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
                    (target.root / variant["entity"]).write_text(json.dumps(doc))
                    self.assertEqual(sf.ctl(target, "status")[0], 1)  # no namespace: still outside
                    self.assertFalse(self.oracle(target, variant)["passed"])
                else:
                    self.assertEqual(sf.ctl(target, "status")[0], 0)  # deleting the added policy fixes it
                    self.assertTrue(self.oracle(target, variant)["passed"], self.oracle(target, variant))

    def test_oracle_rejects_shortcuts(self) -> None:
        for seed in self.SEEDS:
            with self.subTest(seed=seed):
                target, variant = self.target(seed)
                config_path = target.root / "etc/service.json"
                original = config_path.read_text()
                target.restart()  # restart only
                self.assertEqual(sf.ctl(target, "status")[0], 1)
                self.assertFalse(self.oracle(target, variant)["passed"])
                config = json.loads(original)
                del config["mesh"]  # bypass the gateway: traffic flows, the cause stays
                config_path.write_text(json.dumps(config))
                self.assertEqual(sf.ctl(target, "status")[0], 0)
                self.assertFalse(self.oracle(target, variant)["passed"])
                config = json.loads(original)
                config["labels"] = {"app": "other"}  # relabel the workload away from its policies
                config["namespace"] = variant["params"]["outside_namespace"] + "-x"
                config_path.write_text(json.dumps(config))
                self.assertFalse(self.oracle(target, variant)["passed"])
                config_path.write_text(original)
                # careless: delete every document in the folder (the decoys with it)
                folder = target.root / variant["entity"].rsplit("/", 1)[0]
                saved = {p: p.read_bytes() for p in folder.glob("*.json")}
                for path in saved:
                    path.unlink()
                self.assertFalse(self.oracle(target, variant)["passed"])
                for path, data in saved.items():
                    path.write_bytes(data)
                self.assertFalse(self.oracle(target, variant)["passed"])  # back to broken

    def test_relaxing_every_policy_is_collateral(self) -> None:
        seed = seed_for("mtls_strict")
        target, variant = self.target(seed)
        folder = target.root / variant["entity"].rsplit("/", 1)[0]
        for path in folder.glob("peerauthentication-*.json"):
            doc = json.loads(path.read_text())
            doc["spec"]["mtls"] = {"mode": "PERMISSIVE"}
            path.write_text(json.dumps(doc))
        self.assertEqual(sf.ctl(target, "status")[0], 0)
        checks = {c["check"]: c["passed"] for c in self.oracle(target, variant)["checks"]}
        self.assertTrue(checks["the gateway's policies let requests reach the instance"])
        self.assertFalse(checks["the other policies and namespaces are unchanged"])

    def test_wrong_port_fix_must_be_the_listen_port(self) -> None:
        seed = seed_for("network_policy", "wrong_port")
        target, variant = self.target(seed)
        path = target.root / variant["entity"]
        doc = json.loads(path.read_text())
        doc["spec"]["ingress"].append({"ports": [{"port": 1, "protocol": "TCP"}]})  # another wrong port
        path.write_text(json.dumps(doc))
        self.assertEqual(sf.ctl(target, "status")[0], 1)
        self.assertFalse(self.oracle(target, variant)["passed"])
        port = json.loads((target.root / "etc/service.json").read_text())["listen_port"]
        doc["spec"]["ingress"].append({"from": [{"namespaceSelector": {}}], "ports": [{"port": port}]})
        path.write_text(json.dumps(doc))
        self.assertEqual(sf.ctl(target, "status")[0], 0)
        self.assertTrue(self.oracle(target, variant)["passed"], self.oracle(target, variant))
        target.restart()
        self.assertEqual(sf.ctl(target, "status")[0], 0)


    def test_skill_frontmatter_is_plain_strings(self) -> None:
        """The SDK drops a skill whose triggers are not strings (an unquoted `a: b` is a mapping)."""
        import yaml

        front = yaml.safe_load((sf.SKILLS / self.SKILL / "SKILL.md").read_text().split("---")[1])
        self.assertEqual(front["name"], self.SKILL)
        self.assertTrue(all(isinstance(t, str) for t in front["triggers"]), front["triggers"])
        self.assertIn("Signals: via gateway; mesh config in", front["description"])

    def test_docker_every_variant(self) -> None:
        """Every variant on the Docker backend: the symptom, the skill's scripts, the oracle in the container."""
        from openhands_driver.target import docker as dt
        from tests.test_target_docker import new_run_id, require_engine

        client = require_engine()["client"]  # skips when no engine answers
        for seed in self.SEEDS[1:]:  # SEEDS[0]: test_docker_backend
            with self.subTest(seed=seed):
                run_id = new_run_id("mesh")
                self.addCleanup(dt.remove_run_containers, run_id, client)
                variant = self.variant(seed)
                target = dt.DockerTarget(scenario_id="inst-x", fault=FAULT, run_id=run_id, client=client,
                                         fault_params=variant["params"])
                self.addCleanup(target.cleanup)
                target.start()
                self.assertIn("HTTP %d" % STATUS[variant["symptom"]], sf.ctl(target, "status")[1])
                code, fixed = sf.run_script(target, sf.SKILLS / self.SKILL / "remediate.py")
                self.assertEqual((code, fixed["file"]), (0, variant["entity"]), fixed)
                self.assertEqual(sf.ctl(target, "status")[0], 0)
                done = target.exec(["python3", "/app/faults.py", "oracle", "--root", "/", "--fault", FAULT,
                                    "--params", json.dumps(variant["params"])])
                self.assertTrue(json.loads(done.stdout)["passed"], done.stdout)
                target.cleanup()


class BlindRunDemoTest(unittest.TestCase):
    """`run_demo.py --scenario ingress_policy --blind --variant-seed N` end to end (the runbook brain,
    a real SDK conversation, the runner's proof): the 403 variant (seed 11 of tests/test_e2e_blind.py
    is a NetworkPolicy one)."""

    def test_blind_run_resolves(self) -> None:
        seed = seed_for("authorization_deny", start=20)
        out = subprocess.run([sys.executable, "run_demo.py", "--scenario", FAULT, "--blind", "--variant-seed",
                              str(seed), "--json", "--soak-s", "0.5", "--verify-interval-s", "0.3",
                              "--disable-trace-log"], cwd=sf.REPO, capture_output=True, text=True, timeout=240,
                             env={**os.environ, "LLM_API_KEY": "dummy"})
        self.assertEqual(out.returncode, 0, out.stdout[-3000:] + out.stderr[-2000:])
        result = json.loads(out.stdout)
        self.assertTrue(result["resolved"])
        self.assertTrue(result["diagnosis"]["correct"], result["diagnosis"])
        self.assertEqual(result["diagnosis"]["reported"]["entity"],
                         sf.faults.make_variant(FAULT, seed)["entity"])
        self.assertTrue(result["collateral"]["passed"])


class GatewayEvaluationTest(unittest.TestCase):
    """app_policy's Istio/Kubernetes semantics on documents alone."""

    S = {"namespace": "shop", "gateway": "gw", "gateway_namespace": "shop", "labels": {"app": "a"}, "service": "a"}

    def test_allow_policies_deny_what_they_do_not_match(self) -> None:
        allow = {"kind": "AuthorizationPolicy", "metadata": {"namespace": "shop"},
                 "spec": {"targetRefs": [{"kind": "Gateway", "name": "gw"}], "action": "ALLOW",
                          "rules": [{"to": [{"operation": {"paths": ["/admin/*"]}}]}]}}
        self.assertIn("no ALLOW policy matched", app_policy._authorization([("f", allow)], self.S))
        allow["spec"]["rules"].append({"to": [{"operation": {"methods": ["GET"], "paths": ["/*"]}}]})
        self.assertIsNone(app_policy._authorization([("f", allow)], self.S))

    def test_most_specific_peer_authentication_wins(self) -> None:
        mesh = {"kind": "PeerAuthentication", "metadata": {"namespace": "istio-system"},
                "spec": {"mtls": {"mode": "STRICT"}}}
        self.assertIn("STRICT", app_policy._mtls([("m", mesh)], self.S))
        workload = {"kind": "PeerAuthentication", "metadata": {"namespace": "shop"},
                    "spec": {"selector": {"matchLabels": {"app": "a"}}, "mtls": {"mode": "PERMISSIVE"}}}
        self.assertIsNone(app_policy._mtls([("m", mesh), ("w", workload)], self.S))

    def test_network_policies_are_a_union(self) -> None:
        deny = {"kind": "NetworkPolicy", "metadata": {"namespace": "shop"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}}
        self.assertIn("connection timeout", app_policy._network([("d", deny)], self.S, 8080))
        allow = {"kind": "NetworkPolicy", "metadata": {"namespace": "shop"},
                 "spec": {"podSelector": {"matchLabels": {"app": "a"}},
                          "ingress": [{"from": [{"podSelector": {"matchLabels": {
                              app_policy.GATEWAY_POD_LABEL: "gw"}}}], "ports": [{"port": 8080}]}]}}
        self.assertIsNone(app_policy._network([("d", deny), ("a", allow)], self.S, 8080))
        self.assertIsNotNone(app_policy._network([("d", deny), ("a", allow)], self.S, 9090))
        other_ns = dict(self.S, gateway_namespace="istio-ingress")  # a bare podSelector: same namespace only
        self.assertIsNotNone(app_policy._network([("d", deny), ("a", allow)], other_ns, 8080))


if __name__ == "__main__":
    unittest.main()
