"""Alembic migrations for PostgreSQL, configured in code (no alembic.ini).

``upgrade(engine)`` brings a database to head; ``pvideo db upgrade`` calls it,
and workers and the API call it at start-up under an advisory lock, so the
first process of a deploy migrates and the others wait. SQLite (the embedded
default) is created with ``create_all`` instead.

New revision after changing ``pvideo/db/models.py``::

    pvideo db revision -m "what changed"     # autogenerate against PVIDEO_DATABASE_URL
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

HERE = Path(__file__).resolve().parent
_LOCK_ID = 0x70766964656F  # "pvideo"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade under a PostgreSQL advisory lock, so concurrent starts migrate once."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
        conn.commit()
        try:
            config = alembic_config(engine)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            conn.commit()


def revision(engine: Engine, message: str) -> None:
    command.revision(alembic_config(engine), message=message, autogenerate=True)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
