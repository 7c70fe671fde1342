"""deploy/k8s/: the workers' Kubernetes manifests validate offline and say what the orchestrator needs.

``kubectl apply --dry-run=client`` still asks a server for API discovery (which kinds exist), even
with ``--validate=false`` (which skips the OpenAPI schema download). With no cluster here, the test
answers discovery itself: a stub on 127.0.0.1 that lists the core and ``apps`` kinds the manifests
use and has no objects, so every object is "created (dry run)" after kubectl parsed and mapped it.
Skips with the reason when kubectl is absent (Debian: ``apt-get install kubernetes-client``;
``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
KUBECTL = shutil.which("kubectl")


def _resources(group_version: str, kinds: list[tuple[str, str, bool]]) -> dict:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": name, "singularName": name[:-1], "namespaced": namespaced, "kind": kind,
                           "verbs": verbs} for name, kind, namespaced in kinds]}


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": _resources("v1", [("namespaces", "Namespace", False), ("secrets", "Secret", True),
                                 ("services", "Service", True)]),
    "/apis/apps/v1": _resources("apps/v1", [("deployments", "Deployment", True)]),
}


class _Discovery(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        return

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/") or "/"
        body = DISCOVERY.get(path)
        status = 200 if body else 404
        if body is None:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _documents() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


class ManifestContentTest(unittest.TestCase):
    def test_workers_have_limits_a_secret_key_and_a_headless_service(self):
        docs = {doc["kind"]: doc for doc in _documents()}
        self.assertEqual(set(docs), {"Namespace", "Secret", "Deployment", "Service"})
        pod = docs["Deployment"]["spec"]["template"]
        container = pod["spec"]["containers"][0]
        self.assertTrue({"cpu", "memory"} <= set(container["resources"]["limits"]))
        key = next(e for e in container["env"] if e["name"] == "SESSION_API_KEY")["valueFrom"]["secretKeyRef"]
        self.assertEqual(key["name"], docs["Secret"]["metadata"]["name"])
        self.assertIn(key["key"], docs["Secret"]["stringData"])
        self.assertIs(pod["spec"]["automountServiceAccountToken"], False)
        service = docs["Service"]["spec"]
        self.assertEqual(service["clusterIP"], "None", "one incident must reach one pod: no load-balanced VIP")
        self.assertEqual(service["selector"].items() - pod["metadata"]["labels"].items(), set())
        self.assertEqual(container["ports"][0]["containerPort"], service["ports"][0]["port"])


@unittest.skipUnless(KUBECTL, "kubectl is not installed (Debian: apt-get install kubernetes-client; .ci/run "
                              "installs it)")
class KubectlDryRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), _Discovery)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)
        cls.tmp = tempfile.TemporaryDirectory(prefix="sre-kubectl-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.kubeconfig = Path(cls.tmp.name) / "config"
        cls.kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": {"server": f"http://127.0.0.1:{cls.server.server_port}"}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
            "users": [{"name": "stub", "user": {}}]}))

    def kubectl_apply(self, path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, "--kubeconfig", str(self.kubeconfig), "apply", "--dry-run=client",
                               "--validate=false", "-f", str(path)], capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "HOME": self.tmp.name})

    def test_manifests_apply_in_a_client_dry_run(self):
        proc = self.kubectl_apply(K8S)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for kind in ("namespace/sre-agent", "secret/sre-worker-session", "deployment.apps/sre-worker",
                     "service/sre-worker"):
            self.assertIn(f"{kind} created (dry run)", proc.stdout)

    def test_a_broken_manifest_is_refused(self):
        broken = Path(self.tmp.name) / "broken.yaml"
        broken.write_text((K8S / "worker-deployment.yaml").read_text().replace("kind: Deployment",
                                                                              "kind: Deploymnt"))
        proc = self.kubectl_apply(broken)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("Deploymnt", proc.stderr)


if __name__ == "__main__":
    unittest.main()
