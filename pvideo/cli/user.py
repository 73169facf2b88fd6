"""``pvideo user``: invite studio users (a one-time link), list them, disable and enable them."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from pvideo.cli.console import console, database, fail, load_settings
from pvideo.errors import PvideoError

if TYPE_CHECKING:
    from pvideo.db.engine import Database

app = typer.Typer(help="Studio users: invite (one-time link), list, disable, enable.", no_args_is_help=True)

BAD_INPUT = 2  # as a usage error: a bad email or role is the caller's to fix


class Role(enum.StrEnum):
    admin = "admin"
    marketing = "marketing"
    analyst = "analyst"


def invite(db: Database, email: str, role: str, *, invited_by: str) -> tuple[str, str]:
    """Invite (or re-invite) ``email``; their normalized email and the one-time token."""
    from pvideo.access import audit
    from pvideo.access.users import find_user, invite_user

    with db.session() as session:
        new = find_user(session, email) is None
        user, token = invite_user(session, email, role, invited_by=invited_by)
        audit.record(
            session, actor=audit.cli_actor(), action=audit.Action.USER_CREATE if new else audit.Action.USER_INVITE,
            target_type=audit.Target.USER, target_id=user.id, detail={"email": user.email, "role": user.role},
        )  # fmt: skip
        return user.email, token


@app.command("add")
def user_add(
    email: str,
    role: Annotated[Role, typer.Option(help="admin, marketing or analyst")] = Role.marketing,
) -> None:
    """Invite a user: print a one-time link (valid 7 days) where they set their password.

    Adding an existing user again prints a new link (the old one stops working) and sets the role:
    this is also how a forgotten password is reset."""
    from pvideo.access.users import invite_link

    settings = load_settings()
    db = database(settings)
    db.create_schema()
    try:
        email, token = invite(db, email, role.value, invited_by="cli")
    except PvideoError as exc:
        raise fail(str(exc), BAD_INPUT) from None
    console.print(f"invited {email} ({role.value}); one-time link, valid for 7 days:", highlight=False)
    print(invite_link(settings.public_base_url, token))


@app.command("list")
def user_list() -> None:
    """Every user: email, role, status (invited, active, disabled), last sign-in, invited by."""
    from pvideo.access.users import list_users

    db = database(load_settings())
    db.create_schema()
    with db.session() as session:
        for user in list_users(session):
            status = "disabled" if user.disabled_at else "active" if user.password_hash else "invited"
            last = f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "never"
            print(f"{user.email}\t{user.role}\t{status}\t{last}\t{user.created_by or ''}")


def _set_disabled(email: str, disabled: bool) -> str:
    from pvideo.access import audit
    from pvideo.access.users import find_user, set_disabled

    db = database(load_settings())
    db.create_schema()
    try:
        with db.session() as session:
            user = find_user(session, email)
            if user is None:
                raise fail(f"no user {email.strip().lower()!r} (see `pvideo user list`)")
            set_disabled(session, user.id, disabled)
            audit.record(
                session, actor=audit.cli_actor(), action=audit.Action.USER_DISABLE if disabled else audit.Action.USER_ENABLE,
                target_type=audit.Target.USER, target_id=user.id, detail={"email": user.email},
            )  # fmt: skip
            return user.email
    except PvideoError as exc:
        raise fail(str(exc), BAD_INPUT) from None


@app.command("disable")
def user_disable(email: str) -> None:
    """Disable a user: they cannot sign in, and their sessions end at once."""
    console.print(f"disabled {_set_disabled(email, True)}; their sessions ended", highlight=False)


@app.command("enable")
def user_enable(email: str) -> None:
    """Enable a disabled user again (their old password works; `pvideo user add` gives a new link)."""
    console.print(f"enabled {_set_disabled(email, False)}", highlight=False)
