"""``pvideo db``: bring the database schema up to date, or write a new migration."""

from __future__ import annotations

from typing import Annotated

import typer

from pvideo.cli.console import console, database, fail, load_settings

app = typer.Typer(help="Database schema (PostgreSQL: Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the latest schema (Alembic on PostgreSQL, create_all on SQLite)."""
    settings = load_settings()
    db = database(settings)
    db.create_schema()
    if db.engine.dialect.name == "postgresql":
        from pvideo.db import migrations

        console.print(f"database at revision {migrations.current(db.engine)}")
    else:
        console.print(f"SQLite schema ready at {settings.resolved_database_url}")


@app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models against PVIDEO_DATABASE_URL (PostgreSQL)."""
    from pvideo.db import migrations

    db = database(load_settings())
    if db.engine.dialect.name != "postgresql":
        raise fail("migrations are generated against PostgreSQL: set PVIDEO_DATABASE_URL")
    migrations.revision(db.engine, message)
