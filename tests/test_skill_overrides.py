"""openhands_driver.skill_overrides: a run's workspace copy of a skill gets a candidate text; the
project's skills are never written (also through the runner's own workspace preparation)."""

from __future__ import annotations

import shutil
import tempfile
import unittest
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import SKILLS_DIR
from openhands_driver.skill_overrides import apply_skill_overrides, merged_text


class SkillOverrideTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.repo_skills = Path(tmp.name) / "repo" / ".agents"
        skill = self.repo_skills / "skills" / "lock-skill"
        skill.mkdir(parents=True)
        self.original = "---\nname: lock-skill\ndescription: \"Locks. Signals: held by pid\"\n---\n# Old body\n"
        (skill / "SKILL.md").write_text(self.original)
        self.workspace = Path(tmp.name) / "ws"
        self.workspace.mkdir()
        (self.workspace / ".agents").symlink_to(self.repo_skills, target_is_directory=True)

    def test_the_workspace_copy_gets_the_body_the_repository_is_untouched(self):
        self.assertEqual(apply_skill_overrides(self.workspace, {"lock-skill": "# New body\n"}), ["lock-skill"])
        agents = self.workspace / ".agents"
        self.assertFalse(agents.is_symlink())
        text = (agents / "skills" / "lock-skill" / "SKILL.md").read_text()
        self.assertTrue(text.startswith("---\nname: lock-skill\ndescription: \"Locks. Signals: held by pid\"\n---\n"))
        self.assertTrue(text.endswith("# New body\n"))
        self.assertNotIn("Old body", text)
        self.assertEqual((self.repo_skills / "skills" / "lock-skill" / "SKILL.md").read_text(), self.original)

    def test_a_text_with_frontmatter_replaces_the_whole_file(self):
        whole = "---\nname: lock-skill\ndescription: other\n---\nbody\n"
        self.assertEqual(merged_text(self.original, whole), whole)

    def test_unknown_skill_and_no_overrides(self):
        self.assertEqual(apply_skill_overrides(self.workspace, None), [])
        self.assertTrue((self.workspace / ".agents").is_symlink())
        with self.assertRaises(UserError) as caught:
            apply_skill_overrides(self.workspace, {"nope": "x"})
        self.assertIn("lock-skill", str(caught.exception))


class RunnerWorkspaceTest(unittest.TestCase):
    def test_the_runners_workspace_gets_the_override_and_the_repository_does_not(self):
        from openhands_driver.router import RoutingDecision
        from openhands_driver.runner import _prepare_workspace
        from openhands_driver.strategy import choose_strategy

        strategy = choose_strategy("optimized", "manual", RoutingDecision(None, "none", "test"))
        workspace = _prepare_workspace("override-test", strategy)
        self.addCleanup(shutil.rmtree, workspace, True)
        shipped = (SKILLS_DIR / "stale-lockfile" / "SKILL.md").read_text()
        apply_skill_overrides(workspace, {"stale-lockfile": "# Candidate body\n"})
        copy = (workspace / ".agents" / "skills" / "stale-lockfile" / "SKILL.md").read_text()
        self.assertTrue(copy.endswith("# Candidate body\n"))
        self.assertEqual(copy.split("---")[1], shipped.split("---")[1])  # same frontmatter
        self.assertEqual((SKILLS_DIR / "stale-lockfile" / "SKILL.md").read_text(), shipped)
        other = (workspace / ".agents" / "skills" / "port-mismatch" / "SKILL.md").read_text()
        self.assertEqual(other, (SKILLS_DIR / "port-mismatch" / "SKILL.md").read_text())


if __name__ == "__main__":
    unittest.main()
