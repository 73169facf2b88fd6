"""``pvideo apikey``: create, revoke and list API keys (stored as digests; a key is shown once)."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from pvideo.cli.console import console, database, fail, load_settings
from pvideo.errors import PvideoError

app = typer.Typer(help="API keys with scopes (stored hashed; shown once).", no_args_is_help=True)


class Scope(enum.StrEnum):
    campaigns = "campaigns"
    analytics = "analytics"
    admin = "admin"
    privacy = "privacy"


@app.command("create")
def apikey_create(
    scope: Annotated[list[Scope], typer.Option("--scope", help="campaigns, analytics, admin, privacy (repeat)")],
    name: Annotated[str | None, typer.Option(help="a label to recognise the key by")] = None,
) -> None:
    """Create a key and print it once: only its SHA-256 digest is stored."""
    from pvideo.access import audit
    from pvideo.access.apikeys import create_key

    db = database(load_settings())
    db.create_schema()
    try:
        with db.session() as session:
            row, key = create_key(session, [s.value for s in scope], name=name)
            audit.record(
                session, actor=audit.cli_actor(), action=audit.Action.APIKEY_CREATE,
                target_type=audit.Target.API_KEY, target_id=row.id,
                detail={"name": row.name, "prefix": row.prefix, "scopes": row.scopes},
            )  # fmt: skip
            key_id, scopes = row.id, ", ".join(row.scopes)
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(f"API key {key_id} ({scopes}); shown once, store it now:")
    print(key)


@app.command("revoke")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key at once (requests made with it stop working)."""
    from pvideo.access import audit
    from pvideo.access.apikeys import revoke_key

    try:
        with database(load_settings()).session() as session:
            row = revoke_key(session, key_id)
            audit.record(
                session, actor=audit.cli_actor(), action=audit.Action.APIKEY_REVOKE,
                target_type=audit.Target.API_KEY, target_id=row.id, detail={"name": row.name, "prefix": row.prefix},
            )  # fmt: skip
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(f"revoked API key {key_id}")


@app.command("list")
def apikey_list() -> None:
    """Every stored key: id, name, prefix, scopes, created, revoked (never the key)."""
    from pvideo.access.apikeys import list_keys

    db = database(load_settings())
    db.create_schema()
    with db.session() as session:
        for row in list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            print(
                f"{row.id}\t{row.name}\tpvk_{row.prefix}_…\t{','.join(row.scopes)}\t"
                f"{row.created_at:%Y-%m-%d %H:%M}\t{state}"
            )
