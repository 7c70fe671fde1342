"""Helpers shared by the skills' diagnose.py / remediate.py scripts (stdlib only, any python3).

Not a skill (no SKILL.md; keep Markdown out of this folder: the SDK loads every .md under
.agents/skills as a skill). A script finds it next to its own folder:

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
    from _lib.targetctl import targetctl
"""
