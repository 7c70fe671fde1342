"""openhands_driver.brain.runbook: markdown runbooks -> Diagnose / Remediate / Verify commands."""

from __future__ import annotations

import textwrap
import unittest
from pathlib import Path

from openhands_driver.brain.runbook import PHASES, Runbook, parse_runbook
from openhands_driver.skills import load_skills

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = REPO / "training_data" / "strategies"
FENCE = "```"


def md(text: str) -> str:
    return textwrap.dedent(text).replace("'''", FENCE)


class ParseRunbookTests(unittest.TestCase):
    def test_three_phases_in_order(self) -> None:
        book = parse_runbook(md("""\
            # Title

            Intro text with `targetctl status` inline (not a command).

            ## Diagnose
            '''bash
            targetctl status
            targetctl info
            '''

            ## Remediate
            '''bash
            targetctl exec rm -f var/lock/service.lock
            '''

            ## Verify
            '''bash
            targetctl status
            '''
            """))
        self.assertEqual(book.diagnose, ("targetctl status", "targetctl info"))
        self.assertEqual(book.remediate, ("targetctl exec rm -f var/lock/service.lock",))
        self.assertEqual(book.verify, ("targetctl status",))
        self.assertFalse(book.empty)
        self.assertEqual(book.to_dict(), {"diagnose": ["targetctl status", "targetctl info"],
                                          "remediate": ["targetctl exec rm -f var/lock/service.lock"],
                                          "verify": ["targetctl status"], "skills": []})
        self.assertEqual(PHASES, ("diagnose", "remediate", "verify"))

    def test_comments_blank_lines_and_prompts(self) -> None:
        book = parse_runbook(md("""\
            ## Diagnose
            '''sh
            # list the locks first
               # indented comment

            $ targetctl exec ls -la var/lock
                targetctl logs -n 20   
            '''
            """))
        self.assertEqual(book.diagnose, ("targetctl exec ls -la var/lock", "targetctl logs -n 20"))

    def test_blocks_under_other_headings_are_ignored(self) -> None:
        book = parse_runbook(md("""\
            '''bash
            echo before any heading
            '''
            ## Background
            '''bash
            targetctl restart
            '''
            ## Diagnose
            '''bash
            targetctl status
            '''
            ## Notes
            '''bash
            rm -rf /
            '''
            """))
        self.assertEqual(book.to_dict(), {"diagnose": ["targetctl status"], "remediate": [], "verify": [],
                                          "skills": []})

    def test_prose_between_blocks_is_ignored_and_blocks_accumulate(self) -> None:
        book = parse_runbook(md("""\
            ## Diagnose
            First look at health:
            '''bash
            targetctl status
            '''
            targetctl info   <- prose, not in a block
            Then the config:
            '''
            targetctl exec cat etc/service.json
            '''
            """))
        self.assertEqual(book.diagnose, ("targetctl status", "targetctl exec cat etc/service.json"))

    def test_only_shell_blocks_count(self) -> None:
        book = parse_runbook(md("""\
            ## Diagnose
            '''json
            {"status": "ok"}
            '''
            '''python
            print("no")
            '''
            '''console
            $ targetctl status
            '''
            '''shell
            targetctl info
            '''
            '''Bash
            targetctl logs
            '''
            """))
        self.assertEqual(book.diagnose, ("targetctl status", "targetctl info", "targetctl logs"))

    def test_heading_inside_a_block_is_not_a_heading(self) -> None:
        book = parse_runbook(md("""\
            ## Diagnose
            '''bash
            targetctl status
            ## Remediate
            targetctl info
            '''
            """))
        self.assertEqual(book.diagnose, ("targetctl status", "targetctl info"))
        self.assertEqual(book.remediate, ())

    def test_heading_variants_and_levels(self) -> None:
        book = parse_runbook(md("""\
            # diagnosis
            '''bash
            a
            '''
            ### Remediation steps
            '''bash
            b
            '''
            ###### VERIFY health
            '''bash
            c
            '''
            """))
        self.assertEqual(book.to_dict(), {"diagnose": ["a"], "remediate": ["b"], "verify": ["c"],
                                          "skills": []})

    def test_verification_heading_is_the_verify_phase(self) -> None:
        # BUG (runbook.py _phase_of): headings match on the first 6 letters of the phase name, so
        # "Diagnosis" and "Remediation" are accepted, but "Verification" ("verifi") does not match
        # "verify" and its commands are silently dropped.
        book = parse_runbook(md("""\
            ## Diagnosis
            '''bash
            a
            '''
            ## Remediation
            '''bash
            b
            '''
            ## Verification
            '''bash
            c
            '''
            """))
        self.assertEqual(book.verify, ("c",))

    def test_a_later_non_phase_heading_ends_the_phase(self) -> None:
        book = parse_runbook(md("""\
            ## Remediate
            ### Caveats
            '''bash
            targetctl restart
            '''
            """))
        self.assertTrue(book.empty)

    def test_empty_and_plain_text(self) -> None:
        for text in ("", "no headings, no blocks", "## Diagnose\nnothing fenced\n"):
            with self.subTest(text=text):
                book = parse_runbook(text)
                self.assertTrue(book.empty)
                self.assertEqual(book, Runbook())

    def test_unclosed_block_runs_to_the_end(self) -> None:
        book = parse_runbook("## Verify\n```bash\ntargetctl status\n")
        self.assertEqual(book.verify, ("targetctl status",))


class SkillsListTests(unittest.TestCase):
    """A triage runbook's ``## Skills`` list: the skills to prefer, in order."""

    def test_items_in_order_with_or_without_backticks(self) -> None:
        book = parse_runbook(md("""\
            ## Diagnose
            '''bash
            targetctl status
            '''

            ## Skills
            Prefer these when their signals match:
            - flag-skill
            * `lock-skill`
              - release-skill

            ## Verify
            '''bash
            targetctl status
            '''
            """))
        self.assertEqual(book.skills, ("flag-skill", "lock-skill", "release-skill"))
        self.assertEqual(book.to_dict()["skills"], ["flag-skill", "lock-skill", "release-skill"])
        self.assertEqual(book.diagnose, ("targetctl status",))
        self.assertEqual(book.verify, ("targetctl status",))

    def test_only_plain_names_count(self) -> None:
        book = parse_runbook(md("""\
            ## Skills
            - lock-skill: the lock one (prose after a name is not a name)
            - Flag-Skill
            - two words
            - ok-skill
            - ok-skill-2
            """))
        self.assertEqual(book.skills, ("ok-skill", "ok-skill-2"))

    def test_items_under_other_headings_are_not_skills(self) -> None:
        book = parse_runbook(md("""\
            ## Notes
            - lock-skill
            ## Skills to avoid
            - flag-skill
            ## Diagnose
            - release-skill
            """))
        self.assertEqual(book.skills, ())

    def test_a_later_heading_ends_the_list_and_a_skills_list_has_no_commands(self) -> None:
        book = parse_runbook(md("""\
            ### skills
            - a-skill
            '''bash
            targetctl restart
            '''
            ## Verify
            - b-skill
            """))
        self.assertEqual(book.skills, ("a-skill",))
        self.assertTrue(book.empty)

    def test_skills_alone_do_not_make_a_runbook_non_empty(self) -> None:
        self.assertTrue(parse_runbook("## Skills\n- a-skill\n").empty)


class ShippedRunbookTests(unittest.TestCase):
    def test_every_skill_has_all_three_phases(self) -> None:
        skills = load_skills()
        self.assertTrue(skills)
        for name, skill in skills.items():
            with self.subTest(skill=name):
                book = parse_runbook(skill.body)
                self.assertTrue(book.diagnose)
                self.assertTrue(book.remediate)
                self.assertTrue(book.verify)
                self.assertIn("targetctl status", book.verify)
                for command in book.diagnose + book.remediate + book.verify:
                    self.assertFalse(command.startswith("#"))
                    self.assertFalse(command.startswith("```"))

    def test_known_skill_commands(self) -> None:
        skills = load_skills()
        self.assertEqual(parse_runbook(skills["stale-lockfile"].body).to_dict(), {
            "diagnose": ["python3 .agents/skills/stale-lockfile/diagnose.py"],
            "remediate": ["python3 .agents/skills/stale-lockfile/remediate.py"],
            "verify": ["targetctl status"], "skills": []})
        port = parse_runbook(skills["port-mismatch"].body)
        self.assertEqual(port.diagnose, ("python3 .agents/skills/port-mismatch/diagnose.py",))
        self.assertEqual(port.remediate, ("python3 .agents/skills/port-mismatch/remediate.py",
                                          "targetctl restart"))

    def test_skills_with_signals_follow_the_brain_contract(self) -> None:
        # The blind-incident contract: a skill the brain can rank (``Signals:`` in its description)
        # diagnoses with exactly its own diagnose.py script.
        for name, skill in load_skills().items():
            if "Signals:" not in skill.description:
                continue
            with self.subTest(skill=name):
                book = parse_runbook(skill.body)
                self.assertEqual(book.diagnose, (f"python3 .agents/skills/{name}/diagnose.py",))
                self.assertTrue(book.remediate)

    def test_skill_scripts_named_in_runbooks_exist(self) -> None:
        for name, skill in load_skills().items():
            book = parse_runbook(skill.body)
            for command in book.diagnose + book.remediate:
                if command.startswith("python3 "):
                    with self.subTest(skill=name, command=command):
                        self.assertTrue((REPO / command.split()[1]).is_file())

    def test_strategies_parse_to_diagnose_and_verify(self) -> None:
        files = sorted(STRATEGIES.glob("*.md"))
        self.assertTrue(files)
        for path in files:
            with self.subTest(strategy=path.name):
                api = path.name.startswith("api_")  # --toolset api: the platform-API dialect
                book = parse_runbook(path.read_text(encoding="utf-8"), "api" if api else "shell")
                self.assertTrue(book.diagnose)
                self.assertEqual(book.diagnose[0], "GET /ops/status" if api else "targetctl status")
                self.assertEqual(book.verify, ("GET /ops/health",) if api else ("targetctl status",))
                # triage runbooks carry no fixed remediation: the evidence decides
                self.assertEqual(book.remediate, ())
                for command in book.diagnose:
                    self.assertTrue(command.startswith(("GET /ops/", "TOOL query_") if api else "targetctl "),
                                    command)
                for skill in book.skills:  # a preference list names shipped skills only
                    self.assertIn(skill, load_skills())


if __name__ == "__main__":
    unittest.main()
