"""Alembic on a real, empty PostgreSQL schema yields exactly the models' tables."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from pvideo.db import migrations
from pvideo.db.engine import Database, normalize_url
from pvideo.db.models import Base
from tests.services import PG_URL, unavailable


@pytest.fixture()
def empty_schema_url():
    schema = f"pvideo_mig_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _diffs(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def test_upgrade_head_matches_models_exactly(empty_schema_url):
    url, schema = empty_schema_url
    db = Database(url)
    migrations.upgrade(db.engine)
    assert _diffs(db.engine) == []
    head = ScriptDirectory.from_config(migrations.alembic_config(db.engine)).get_current_head()
    assert migrations.current(db.engine) == head
    tables = set(sa.inspect(db.engine).get_table_names(schema=schema))
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    migrations.upgrade(db.engine)  # a second start is a no-op
    assert migrations.current(db.engine) == head
    db.dispose()


def test_downgrade_to_base_and_back(empty_schema_url):
    from alembic import command

    url, schema = empty_schema_url
    db = Database(url)
    migrations.upgrade(db.engine)
    config = migrations.alembic_config(db.engine)
    command.downgrade(config, "base")
    assert set(sa.inspect(db.engine).get_table_names(schema=schema)) == {"alembic_version"}
    migrations.upgrade(db.engine)
    assert _diffs(db.engine) == []
    db.dispose()


def test_sqlite_schema_is_created_without_alembic(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.create_schema()
    assert set(sa.inspect(db.engine).get_table_names()) == set(Base.metadata.tables)
    db.dispose()
