"""openhands_driver.skills + openhands_driver.router: skill frontmatter and incident routing.

The real skills under .agents/skills are checked; edge cases use temporary skill directories.
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import SKILLS_DIR
from openhands_driver.router import RoutingDecision, route, score_text
from openhands_driver.scenarios import Scenario, load_catalog
from openhands_driver.skills import SkillInfo, load_skills, parse_skill_file

REAL_SKILLS = ("bad-env-config", "port-mismatch", "readiness-probe-fail", "stale-lockfile")


def write_skill(root: Path, folder: str, *, name: str | None = None, triggers=None,
                description: str = "A test skill.", body: str = "# Body\n\nSteps.\n",
                frontmatter: str | None = None) -> Path:
    """Write root/folder/SKILL.md and return its path."""
    directory = root / folder
    directory.mkdir(parents=True, exist_ok=True)
    if frontmatter is None:
        lines = [f"name: {folder if name is None else name}", f"description: {description}"]
        if triggers is not None:
            lines.append("triggers:")
            lines += [f"  - {t}" for t in triggers]
        frontmatter = "\n".join(lines)
    path = directory / "SKILL.md"
    path.write_text(f"---\n{frontmatter}\n---\n{body}", encoding="utf-8")
    return path


def scenario(scenario_id: str = "s", *, local_fault: str | None = None, skill_id: str | None = None,
             error_report: str = "something broke") -> Scenario:
    return Scenario(scenario_id=scenario_id, error_report=error_report, local_fault=local_fault,
                    skill_id=skill_id)


class TempSkillsMixin:
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="skills-test-")
        self.addCleanup(self._tmp.cleanup)
        self.root = Path(self._tmp.name) / "skills"
        self.root.mkdir()


class RealSkillTests(unittest.TestCase):
    def test_catalog_has_the_core_skills_sorted(self) -> None:
        skills = load_skills()
        self.assertEqual(list(skills), sorted(skills))
        for name in REAL_SKILLS:
            self.assertIn(name, skills)

    def test_every_real_skill_is_well_formed(self) -> None:
        for name, skill in load_skills().items():
            with self.subTest(skill=name):
                self.assertIsInstance(skill, SkillInfo)
                self.assertEqual(skill.name, name)
                self.assertEqual(skill.directory.name, name)
                self.assertEqual(skill.directory.parent, SKILLS_DIR)
                self.assertTrue(skill.description)
                self.assertTrue(skill.triggers, "a skill without triggers is never routed by text")
                self.assertTrue(all(isinstance(t, str) and t for t in skill.triggers))
                self.assertFalse(skill.body.startswith("---"))
                self.assertNotIn("triggers:", skill.body)
                self.assertIn("## Diagnose", skill.body)
                self.assertIn("targetctl", skill.body)

    def test_load_skills_is_cached(self) -> None:
        self.assertTrue(load_skills() is load_skills())
        self.assertEqual(load_skills(SKILLS_DIR), load_skills())


class ParseSkillFileTests(TempSkillsMixin, unittest.TestCase):
    def test_frontmatter_and_body(self) -> None:
        path = write_skill(self.root, "demo", triggers=["Disk Full", "no space"],
                           description="Fix it.  ", body="\n# Demo\n\n---\n\nafter a rule\n")
        skill = parse_skill_file(path)
        self.assertEqual(skill.name, "demo")
        self.assertEqual(skill.description, "Fix it.")
        self.assertEqual(skill.triggers, ("Disk Full", "no space"))
        self.assertEqual(skill.path, path)
        self.assertEqual(skill.directory, path.parent)
        # a horizontal rule in the body is part of the body, not another frontmatter fence
        self.assertEqual(skill.body, "# Demo\n\n---\n\nafter a rule")

    def test_name_must_equal_folder(self) -> None:
        path = write_skill(self.root, "folder-name", name="other-name")
        with self.assertRaises(ValueError) as ctx:
            parse_skill_file(path)
        self.assertIn("other-name", str(ctx.exception))
        self.assertIn("folder-name", str(ctx.exception))

    def test_missing_name_is_rejected(self) -> None:
        path = write_skill(self.root, "nameless", frontmatter="description: no name here")
        with self.assertRaises(ValueError):
            parse_skill_file(path)

    def test_missing_frontmatter_is_rejected(self) -> None:
        path = self.root / "plain" / "SKILL.md"
        path.parent.mkdir()
        path.write_text("# Just markdown\n", encoding="utf-8")
        with self.assertRaises(ValueError) as ctx:
            parse_skill_file(path)
        self.assertIn("frontmatter", str(ctx.exception))

    def test_no_triggers(self) -> None:
        skill = parse_skill_file(write_skill(self.root, "quiet"))
        self.assertEqual(skill.triggers, ())
        skill = parse_skill_file(write_skill(self.root, "empty", frontmatter="name: empty\ntriggers:"))
        self.assertEqual(skill.triggers, ())
        self.assertEqual(skill.description, "")

    def test_load_skills_from_a_directory(self) -> None:
        write_skill(self.root, "zeta", triggers=["z"])
        write_skill(self.root, "alpha", triggers=["a"])
        (self.root / "not-a-skill").mkdir()  # no SKILL.md: ignored
        (self.root / "README.md").write_text("ignored\n", encoding="utf-8")
        skills = load_skills(self.root)
        self.assertEqual(list(skills), ["alpha", "zeta"])

    def test_load_skills_fails_on_a_misnamed_skill(self) -> None:
        write_skill(self.root, "good")
        write_skill(self.root, "bad", name="not-bad")
        with self.assertRaises(ValueError):
            load_skills(self.root)


class RouteTests(TempSkillsMixin, unittest.TestCase):
    def setUp(self) -> None:
        super().setUp()
        write_skill(self.root, "stale-lockfile", triggers=["lock file", "stale lock", "lockfile"])
        write_skill(self.root, "port-mismatch", triggers=["connection refused", "wrong port"])
        write_skill(self.root, "disk-full", triggers=["disk full", "no space"])
        write_skill(self.root, "no-triggers")
        self.skills = load_skills(self.root)

    def test_forced_skill_wins_over_everything(self) -> None:
        decision = route(scenario(skill_id="stale-lockfile", local_fault="stale_lockfile"),
                         "connection refused on the wrong port", forced_skill="disk-full",
                         skills=self.skills)
        self.assertEqual(decision, RoutingDecision("disk-full", "forced", "--skill-id disk-full given"))
        self.assertEqual(decision.scores, {})

    def test_forced_skill_without_triggers_is_allowed(self) -> None:
        decision = route(None, "", forced_skill="no-triggers", skills=self.skills)
        self.assertEqual((decision.skill_id, decision.method), ("no-triggers", "forced"))

    def test_unknown_forced_skill_lists_valid_skills(self) -> None:
        with self.assertRaises(UserError) as ctx:
            route(None, "lock file", forced_skill="nope", skills=self.skills)
        message = str(ctx.exception)
        self.assertIn("'nope'", message)
        for name in self.skills:
            self.assertIn(name, message)

    def test_unknown_forced_skill_against_real_catalog(self) -> None:
        with self.assertRaises(UserError) as ctx:
            route(None, "x", forced_skill="stale_lockfile")  # underscore: a fault, not a skill
        for name in REAL_SKILLS:
            self.assertIn(name, str(ctx.exception))

    def test_scenario_skill_id(self) -> None:
        decision = route(scenario("inc", skill_id="port-mismatch", local_fault="stale_lockfile"),
                         "a lock file problem", skills=self.skills)
        self.assertEqual((decision.skill_id, decision.method), ("port-mismatch", "scenario"))
        self.assertIn("inc", decision.reason)

    def test_scenario_fault_name_maps_to_skill(self) -> None:
        decision = route(scenario(local_fault="stale_lockfile"), "connection refused",
                         skills=self.skills)
        self.assertEqual((decision.skill_id, decision.method), ("stale-lockfile", "scenario"))

    def test_unknown_scenario_skill_falls_back_to_fault_then_triggers(self) -> None:
        decision = route(scenario(skill_id="feature-flag", local_fault="port_mismatch"), "",
                         skills=self.skills)
        self.assertEqual((decision.skill_id, decision.method), ("port-mismatch", "scenario"))
        decision = route(scenario(skill_id="feature-flag", local_fault="feature_flag"),
                         "Disk full on /var", skills=self.skills)
        self.assertEqual((decision.skill_id, decision.method), ("disk-full", "triggers"))

    def test_healthy_scenario_uses_triggers(self) -> None:
        decision = route(scenario("healthy"), "user reports slowness", skills=self.skills)
        self.assertEqual(decision.skill_id, None)
        self.assertEqual(decision.method, "none")
        self.assertEqual(decision.scores, {})
        self.assertIn("catalog", decision.reason)

    def test_triggers_are_case_insensitive_and_counted(self) -> None:
        decision = route(None, "Service hit a STALE LOCK: the Lock File is still there",
                         skills=self.skills)
        self.assertEqual((decision.skill_id, decision.method), ("stale-lockfile", "triggers"))
        self.assertEqual(decision.scores, {"stale-lockfile": 2})
        self.assertIn("stale-lockfile", decision.reason)

    def test_triggers_match_whole_words_only(self) -> None:
        for text in ("the lockfiles dir", "unlock file handle", "stale-lock-file", "re-lockfile",
                     "disk fullness", "nospace"):
            with self.subTest(text=text):
                self.assertEqual(score_text(text, self.skills), {})
        for text in ("lockfile.", "(lock file)", "see: lockfile", "lockfile\nnext"):
            with self.subTest(text=text):
                self.assertIn("stale-lockfile", score_text(text, self.skills))

    def test_more_hits_win(self) -> None:
        text = "connection refused; disk full and no space left"
        decision = route(None, text, skills=self.skills)
        self.assertEqual(decision.skill_id, "disk-full")
        self.assertEqual(decision.scores, {"disk-full": 2, "port-mismatch": 1})

    def test_ties_break_by_name(self) -> None:
        text = "connection refused and a stale lock"  # one hit each
        decision = route(None, text, skills=self.skills)
        self.assertEqual(decision.scores, {"port-mismatch": 1, "stale-lockfile": 1})
        self.assertEqual(decision.skill_id, "port-mismatch")
        # independent of the dict order the skills arrive in
        reversed_skills = dict(reversed(list(self.skills.items())))
        self.assertEqual(route(None, text, skills=reversed_skills).skill_id, "port-mismatch")

    def test_skill_without_triggers_is_never_routed_by_text(self) -> None:
        self.assertNotIn("no-triggers", score_text("no triggers no-triggers", self.skills))

    def test_empty_skill_catalog(self) -> None:
        decision = route(None, "lock file", skills={})
        self.assertEqual((decision.skill_id, decision.method), (None, "none"))
        with self.assertRaises(UserError):
            route(None, "x", forced_skill="stale-lockfile", skills={})

    def test_to_dict(self) -> None:
        decision = route(None, "wrong port", skills=self.skills)
        self.assertEqual(decision.to_dict(), {"skill_id": "port-mismatch", "method": "triggers",
                                              "reason": decision.reason,
                                              "scores": {"port-mismatch": 1}})


class ShippedRoutingTests(unittest.TestCase):
    """The shipped catalog and skills agree: every incident text finds its own runbook."""

    def test_each_scenario_routes_to_its_skill(self) -> None:
        for item in load_catalog().scenarios:
            with self.subTest(scenario=item.scenario_id):
                decision = route(item, item.error_report)
                if item.skill_id:
                    self.assertEqual((decision.skill_id, decision.method), (item.skill_id, "scenario"))
                else:
                    self.assertEqual((decision.skill_id, decision.method), (None, "none"))

    def test_incident_text_alone_finds_the_same_skill(self) -> None:
        for item in load_catalog().scenarios:
            with self.subTest(scenario=item.scenario_id):
                decision = route(None, item.error_report)
                self.assertEqual(decision.skill_id, item.skill_id, decision.reason)


if __name__ == "__main__":
    unittest.main()
