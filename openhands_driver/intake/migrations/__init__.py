"""Schema migrations of the intake database, managed by Alembic (revisions in ``versions/``).

``0001_base`` is the schema store.py created before migrations existed (intake schema_version 3; it
also brings schema 1 and 2 files up to it, as the old in-place code did), ``0002_findings`` adds the
records of an execution's findings (hypotheses, evidence, verifications, provenance). Every
revision is idempotent on the files earlier versions wrote, so a database of any earlier version
upgrades in place; the store runs :func:`upgrade` at start, and a database already at ``HEAD`` costs
one SELECT (Alembic is imported only when there is something to do). One process migrates a file
at a time (``flock`` on ``<db>.migrate.lock`` beside it).

A new revision: ``uv run alembic -c openhands_driver/intake/migrations/alembic.ini revision -m "..."``
then set ``HEAD`` (``tests/test_intake_migrations.py`` checks it is Alembic's head).
"""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path

from openhands_driver.errors import UserError

HERE = Path(__file__).resolve().parent
HEAD = "0002_findings"


def current(path: str | Path) -> str | None:
    """The revision a database file is at (None: never migrated, or no file yet)."""
    if not Path(path).exists():
        return None
    conn = sqlite3.connect(path, timeout=30)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone():
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(path: str | Path, revision: str = "head") -> str | None:
    """Bring the database at ``path`` to ``revision`` (default: the newest); returns where it was."""
    if current(path) == HEAD and revision == "head":
        return HEAD
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(Path(path).with_name(Path(path).name + ".migrate.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes starting on one file migrate it once
        try:
            return _upgrade_locked(path, revision)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _upgrade_locked(path: str | Path, revision: str) -> str | None:
    was = current(path)
    if was == HEAD and revision == "head":
        return was
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    cfg = config()
    known = {script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions()}
    if was is not None and was not in known:
        raise UserError(f"{path} is at intake migration {was!r}, which this version does not know (it knows "
                        f"up to {HEAD}); it was written by a newer version: use that version or another --db")
    engine = create_engine(f"sqlite:///{Path(path)}")
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
    return was
