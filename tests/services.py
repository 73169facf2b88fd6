"""Pytest plugin: the real PostgreSQL and Redis on 127.0.0.1.

Under ``CI=true`` a missing service fails the test instead of skipping it.
PostgreSQL tests get a schema of their own (dropped at the end), so runs never
see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_URL = os.environ.get("PVIDEO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _redis_db() -> int:
    """Database 7, or one per pytest-xdist worker (gw0: 7, gw1: 8, ...; 13 is the fuzz suite's own)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    db = 7 + int(worker) if worker.isdigit() else 7
    return db + 1 if db >= 13 else db


REDIS_URL = os.environ.get("PVIDEO_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db()}")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(what: str, reason: object) -> None:
    if in_ci():
        pytest.fail(f"{what} unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason}")


@contextmanager
def _fresh_schema() -> Iterator[str]:
    import sqlalchemy as sa

    from pvideo.db.engine import normalize_url

    schema = f"pvideo_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL whose search_path is a fresh schema in the ``test`` database, for the session."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture()
def own_postgres_url() -> Iterator[str]:
    """A schema of this test's own: for tests whose ``pvideo worker`` processes would otherwise
    pick up (their reconciler re-sends) what earlier tests left unfinished in the session's."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture()
def redis_url() -> Iterator[str]:
    """The Redis test database, emptied before and after each test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
