"""LLM profiles in the SDK's format, secrets apart: a planted key never reaches a profile file."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import unittest
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.llm_gate import profiles as prof

KEY = "sk-planted-profile-9f8e7d6c"


class ProfilesTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        root = Path(self._tmp.name)
        self.paths = prof.ProfilePaths(root / "llm-profiles", root / "llm-secrets")
        self.root = root

    def tearDown(self):
        self._tmp.cleanup()

    def all_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.root.rglob("*") if p.is_file()
                       and p.parent != self.paths.secrets)

    def test_saved_profile_is_the_sdk_format_without_the_key(self):
        path = prof.save_profile(self.paths, "gpt", {"model": "openai/gpt-4o-mini", "temperature": 0.0},
                                 api_key=KEY)
        data = json.loads(path.read_text())
        self.assertEqual(data["schema_version"], 1)  # LLM.to_persisted
        self.assertEqual(data["model"], "openai/gpt-4o-mini")
        self.assertEqual(data["temperature"], 0.0)
        self.assertNotIn(KEY, self.all_text())
        secret = self.paths.secrets / "gpt.json"
        self.assertEqual(stat.S_IMODE(secret.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(self.paths.secrets.stat().st_mode), 0o700)
        self.assertEqual(json.loads(secret.read_text()), {"api_key": KEY})
        # the SDK's own store reads it back (secret-free)
        from openhands.sdk.llm import LLMProfileStore

        self.assertIsNone(LLMProfileStore(self.paths.profiles).load("gpt").api_key)

    def test_key_is_injected_only_at_resolve_time(self):
        prof.save_profile(self.paths, "gpt", {"model": "openai/gpt-4o-mini"}, api_key=KEY)
        target = prof.resolve_profile(self.paths, "gpt", environ={}, env_file=Path("/dev/null"))
        self.assertEqual(target.config.api_key, KEY)
        self.assertNotIn("api_key", target.profile)
        self.assertEqual(target.secrets, [KEY])

    def test_key_from_a_named_variable(self):
        prof.save_profile(self.paths, "env", {"model": "anthropic/claude"}, api_key_env="MY_KEY")
        self.assertEqual(prof.list_profiles(self.paths)[0].key, "env:MY_KEY")
        target = prof.resolve_profile(self.paths, "env", environ={"MY_KEY": KEY}, env_file=Path("/dev/null"))
        self.assertEqual((target.config.api_key, target.config.key_source), (KEY, "MY_KEY"))
        with self.assertRaisesRegex(UserError, "MY_KEY"):
            prof.resolve_profile(self.paths, "env", environ={}, env_file=Path("/dev/null"))

    def test_key_from_the_environment_and_local_servers_need_none(self):
        prof.save_profile(self.paths, "local", {"model": "openai/x", "base_url": "http://127.0.0.1:9/v1"})
        target = prof.resolve_profile(self.paths, "local", environ={}, env_file=Path("/dev/null"))
        self.assertEqual(target.secrets, [])
        target = prof.resolve_profile(self.paths, "local", environ={"OPENAI_API_KEY": KEY},
                                      env_file=Path("/dev/null"))
        self.assertEqual(target.config.key_source, "OPENAI_API_KEY")

    def test_a_secret_file_readable_by_others_is_refused(self):
        prof.save_profile(self.paths, "gpt", {"model": "openai/gpt-4o-mini"}, api_key=KEY)
        os.chmod(self.paths.secrets / "gpt.json", 0o644)
        with self.assertRaisesRegex(UserError, "chmod 600"):
            prof.resolve_profile(self.paths, "gpt", environ={}, env_file=Path("/dev/null"))

    def test_edit_list_remove(self):
        prof.save_profile(self.paths, "a", {"model": "openai/a"})
        with self.assertRaisesRegex(UserError, "exists"):
            prof.save_profile(self.paths, "a", {"model": "openai/a"}, replace=False)
        prof.edit_profile(self.paths, "a", {"stream": True}, api_key=KEY)
        self.assertTrue(prof.read_profile(self.paths, "a")["stream"])
        self.assertEqual(prof.read_profile(self.paths, "a")["model"], "openai/a")
        self.assertEqual([(s.name, s.key) for s in prof.list_profiles(self.paths)], [("a", "stored")])
        removed = prof.remove_profile(self.paths, "a")
        self.assertEqual(len(removed), 2)
        self.assertEqual(prof.list_profiles(self.paths), [])
        with self.assertRaisesRegex(UserError, "no LLM profile"):
            prof.read_profile(self.paths, "a")

    def test_bad_names_and_fields_are_user_errors(self):
        for name in ("../x", ".hidden", "a b", ""):
            with self.assertRaises(UserError):
                prof.check_name(name)
        with self.assertRaisesRegex(UserError, "not a valid SDK LLM config"):
            prof.save_profile(self.paths, "bad", {"model": "openai/x", "temperature": "hot"})

    def test_paths_honour_env_then_home(self):
        p = prof.profile_paths(environ={"HOME": "/h"})
        self.assertEqual(p.profiles, Path("/h/.openhands/llm-profiles"))
        p = prof.profile_paths(environ={"HOME": "/h", prof.PROFILES_ENV: "/p", prof.SECRETS_ENV: "/s"})
        self.assertEqual((p.profiles, p.secrets), (Path("/p"), Path("/s")))
        self.assertEqual(prof.profile_paths(Path("/f"), environ={prof.PROFILES_ENV: "/p"}).profiles, Path("/f"))


if __name__ == "__main__":
    unittest.main()
