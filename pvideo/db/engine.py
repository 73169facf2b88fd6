"""Engines and sessions: SQLite by default, PostgreSQL (psycopg 3) in production.

The schema: SQLite is created with ``create_all``; PostgreSQL is migrated with
Alembic (``pvideo.db.migrations``). A dropped connection surfaces as
``DatabaseUnavailable`` (transient) through ``database_errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Delete, Engine, Update, create_engine, event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from pvideo.db.models import Base
from pvideo.errors import DatabaseUnavailable


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_recycle=1800)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left in free pages (erasure)
    cursor.close()


def create_schema(engine: Engine) -> None:
    """SQLite: ``create_all``. PostgreSQL: Alembic ``upgrade head`` (under an advisory lock)."""
    if engine.dialect.name == "postgresql":
        from pvideo.db import migrations

        migrations.upgrade(engine)
    else:
        Base.metadata.create_all(engine)


@contextmanager
def database_errors() -> Iterator[None]:
    """Connection-level database failures become the transient ``DatabaseUnavailable``."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc.orig or exc}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(f"database connection lost: {exc.orig or exc}") from exc
        raise


def rows_changed(session: Session, statement: Update | Delete) -> int:
    """Run a bulk ``UPDATE``/``DELETE`` in the session (autoflushed, in its transaction); how many
    rows it matched.

    Loaded objects are not synchronized with it. The cast is for the type checker only:
    ``Session.execute`` is typed as returning a ``Result``, and for these statements it is a
    ``CursorResult``, which carries the row count.
    """
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return cast("CursorResult[Any]", result).rowcount


class Database:
    """An engine plus a session factory; one per process, built from settings."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        create_schema(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
