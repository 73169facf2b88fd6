"""Alembic environment: the connection or engine comes from ``pvideo.db.migrations``."""

from __future__ import annotations

from alembic import context

from pvideo.db.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with config.attributes["engine"].connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("pvideo migrations run online only (pvideo db upgrade)")
run()
