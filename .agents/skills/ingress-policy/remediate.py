#!/usr/bin/env python3
"""Fix the one mesh document that refuses traffic through the gateway; JSON on stdout.

Re-diagnoses first, then changes only that document:
    authorization_deny  drops the DENY rules that match GET / (the file is deleted when none is left)
    mesh_membership     labels the namespace istio.io/dataplane-mode=ambient again
    network_policy      adds an ingress rule allowing the gateway on the instance's listen port
    mtls_strict         sets the workload's PeerAuthentication mode to PERMISSIVE
Other documents (other namespaces, the mesh-wide default, the database's policies, the gateway's
admin rules), the instance's labels, namespace and port stay as they are. The gateway re-reads its
folder per request: no restart. Acts only through `targetctl` with list arguments.
Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import wait_healthy  # noqa: E402

WRITE = (
    "import json, os, sys\n"
    "path, doc = sys.argv[1], json.loads(sys.argv[2])\n"
    "if doc is None:\n"
    "    os.remove(path)\n"
    "    sys.exit(0)\n"
    "tmp = path + '.tmp'\n"
    "with open(tmp, 'w') as out:\n"
    "    out.write(json.dumps(doc, indent=2) + '\\n')\n"
    "os.chmod(tmp, os.stat(path).st_mode & 0o777)\n"
    "os.replace(tmp, path)\n"
)


def fixed_document(diag, found: dict):
    """The document with the refusal removed (None = delete the file)."""
    doc, kind = copy.deepcopy(found["document"]), found["kind"]
    if kind == "authorization_deny":
        rules = [r for r in doc["spec"].get("rules") or [] if not diag.rule_matches(r)]
        if not rules:
            return None
        doc["spec"]["rules"] = rules
    elif kind == "mesh_membership":
        doc.setdefault("metadata", {}).setdefault("labels", {})[diag.AMBIENT] = "ambient"
    elif kind == "network_policy":
        rule = {"from": [{"namespaceSelector": {"matchLabels": {diag.NS_NAME: found["gateway_namespace"]}},
                          "podSelector": {"matchLabels": {diag.GATEWAY_POD: found["gateway"]}}}],
                "ports": [{"port": found["listen_port"], "protocol": "TCP"}]}
        doc.setdefault("spec", {})["ingress"] = list(doc["spec"].get("ingress") or []) + [rule]
    elif kind == "mtls_strict":
        doc.setdefault("spec", {})["mtls"] = {"mode": "PERMISSIVE"}
    return doc


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "fix-mesh-policy", "ok": False, "diagnosis": found,
                "error": "no mesh document refuses the traffic; nothing changed"}
    if found["kind"] == "network_policy" and found.get("listen_port") is None:
        return {"action": "fix-mesh-policy", "ok": False, "diagnosis": found,
                "error": "could not tell the instance's listen port (targetctl info); nothing changed"}
    doc = fixed_document(diag, found)
    done = diag.targetctl("exec", "python3", "-c", WRITE, found["file"], json.dumps(doc))
    healthy = wait_healthy(6)
    return {"action": "fix-mesh-policy", "kind": found["kind"], "file": found["file"],
            "deleted": doc is None, "healthy_after": healthy,
            "ok": done.returncode == 0, "error": done.stderr.strip()[-400:] or None}


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
