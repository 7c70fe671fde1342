"""openhands_driver.intake.roles over real HTTP: viewer, operator and admin tokens, each refused what
it may not do; the audit trail names the token id and never its value."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import unittest

from openhands_driver.audit.verify import verify_db
from openhands_driver.errors import UserError
from openhands_driver.intake import roles
from tests.test_intake_service import REPO, TOKEN, IntakeCase


class RoleTests(IntakeCase):
    def setUp(self) -> None:
        super().setUp()
        self.file = self.tmp / "tokens.json"
        self.values = {role: roles.add_token(self.file, f"{role}-1", role) for role in roles.ROLES}
        self.start(token=None, tokens_file=self.file)

    def status(self, role: str | None, method: str, path: str, body=None, token: str | None = None) -> int:
        value = token if token is not None else (self.values[role] if role else None)
        return self.call(method, path, body, token=value)[0]

    def alert_body(self) -> dict:
        return {"title": "checkout down", "service": "checkout", "priority": "P3", "scenario": "stale_lockfile",
                "dedupe_key": "roles-1"}

    def test_each_role_is_refused_what_it_may_not_do(self) -> None:
        expected = {  # (method, path) -> the statuses for viewer, operator, admin
            ("GET", "/executions"): (200, 200, 200),
            ("GET", "/ops/status"): (200, 200, 200),
            ("POST", "/webhook/generic"): (403, 202, 202),
            ("POST", "/executions/ex-nope/reject"): (403, 404, 404),
            ("GET", "/ops/registry"): (403, 403, 200),
            ("POST", "/ops/drain"): (403, 403, 200),
        }
        for (method, path), statuses in expected.items():
            for role, want in zip(roles.ROLES, statuses):
                body = self.alert_body() if path.startswith("/webhook") else ({} if method == "POST" else None)
                if path == "/ops/drain" and role == "admin":
                    continue  # last: draining stops the webhooks
                with self.subTest(method=method, path=path, role=role):
                    self.assertEqual(self.status(role, method, path, body), want)
        self.assertEqual(self.status("admin", "POST", "/ops/drain", {}), 200)
        self.assertEqual(self.status("operator", "POST", "/webhook/generic", self.alert_body()), 503)

    def test_unknown_token_and_no_token_are_401(self) -> None:
        self.assertEqual(self.status(None, "GET", "/executions", token="not-a-token-0123456789"), 401)
        self.assertEqual(self.call("GET", "/executions", token=None)[0], 401)
        self.assertEqual(self.call("GET", "/healthz", token=None)[0], 200)

    def test_refusal_message_names_the_token_and_the_needed_role(self) -> None:
        code, body = self.call("POST", "/ops/drain", {}, token=self.values["operator"])
        self.assertEqual(code, 403)
        self.assertIn("token 'operator-1' (role operator) may not POST /ops/drain: that needs the admin role",
                      body["error"])

    def test_audit_names_the_token_id_never_its_value(self) -> None:
        self.assertEqual(self.status("operator", "POST", "/webhook/generic", self.alert_body()), 202)
        self.assertEqual(self.status("viewer", "POST", "/ops/drain", {}), 403)
        self.service.stop(2.0, 2.0)
        db = sqlite3.connect(self.tmp / "intake.db")
        try:
            entries = [json.loads(e) for (e,) in db.execute("SELECT entry FROM audit WHERE kind='access' ORDER BY id")]
            dump = "\n".join(e for (e,) in db.execute("SELECT entry FROM audit"))
        finally:
            db.close()
        seen = [(e["record"]["token_id"], e["record"]["method"], e["record"]["path"], e["record"]["status"])
                for e in entries]
        self.assertIn(("operator-1", "POST", "/webhook/generic", 202), seen)
        self.assertIn(("viewer-1", "POST", "/ops/drain", 403), seen)
        for value in self.values.values():
            self.assertNotIn(value, dump)
        self.assertTrue(verify_db(self.tmp / "intake.db").ok)


class TokenFileTests(IntakeCase):
    def test_legacy_token_is_admin_default(self) -> None:
        tokens = roles.load(TOKEN, None)
        self.assertEqual(tokens.identify(TOKEN), roles.Principal("default", "admin"))
        self.assertIsNone(tokens.identify(TOKEN + "x"))

    def test_bad_file_is_a_user_error(self) -> None:
        bad = self.tmp / "bad.json"
        bad.write_text(json.dumps({"tokens": [{"id": "a", "role": "root", "sha256": "0" * 64}]}))
        with self.assertRaisesRegex(UserError, r"role \(viewer, operator, admin\)"):
            roles.read_file(bad)
        with self.assertRaisesRegex(UserError, "no such file"):
            roles.read_file(self.tmp / "missing.json")

    def test_script_adds_and_lists_without_values(self) -> None:
        path = self.tmp / "t.json"
        added = subprocess.run([sys.executable, str(REPO / "scripts" / "intake_tokens.py"), "add", "--file",
                                str(path), "--id", "bob", "--role", "viewer"], capture_output=True, text=True,
                               timeout=60, check=True)
        value = json.loads(added.stdout)["token"]
        self.assertEqual(oct(path.stat().st_mode & 0o777), "0o600")
        self.assertNotIn(value, path.read_text())
        self.assertEqual(roles.load(None, path).identify(value), roles.Principal("bob", "viewer"))
        listed = subprocess.run([sys.executable, str(REPO / "scripts" / "intake_tokens.py"), "list", "--file",
                                 str(path)], capture_output=True, text=True, timeout=60, check=True)
        self.assertEqual(json.loads(listed.stdout), [{"id": "bob", "role": "viewer"}])


if __name__ == "__main__":
    unittest.main()
