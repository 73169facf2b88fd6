"""Studio users: roles, one-time invites, password sign-in, disabling, signing out everywhere.

Roles: ``admin`` (users, API keys, settings, and everything below), ``marketing``
(scenes, campaigns, and what analysts see) and ``analyst`` (dashboards and exports,
read-only). A new user gets an invite link whose token is stored only as a digest
and works once; setting the password through it consumes it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.access.passwords import (
    MAX_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    spend_time_like_a_check,
    verify_password,
)
from pvideo.db.models import User
from pvideo.errors import DataError

INVITE_DAYS = 7


class Role(StrEnum):
    ADMIN = "admin"
    MARKETING = "marketing"
    ANALYST = "analyst"


# what each role may do; a role holds its own permissions and those of the roles it outranks
CAN_SUBMIT = frozenset({Role.ADMIN, Role.MARKETING})
CAN_VIEW = frozenset({Role.ADMIN, Role.MARKETING, Role.ANALYST})
CAN_ADMINISTER = frozenset({Role.ADMIN})


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise DataError(f"not an email address: {email!r}")
    return email


def _digest(token: str) -> str:
    return hashlib.sha256(b"pvideo.invite:" + token.encode()).hexdigest()


def invite_user(session: Session, email: str, role: str, *, invited_by: str | None = None) -> tuple[User, str]:
    """Create (or re-invite) a user; the token of a one-time invite link, valid for a week.

    Re-inviting an existing user issues a fresh token (the old one stops working) and
    keeps their password until the new one is set: this is also the password reset."""
    email = normalize_email(email)
    try:
        role = Role(role)
    except ValueError:
        raise DataError(f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}") from None
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        user = User(email=email, role=role, created_by=invited_by)
        session.add(user)
    else:
        user.role = role
    token = secrets.token_urlsafe(24)
    user.invite_digest = _digest(token)
    user.invite_expires_at = datetime.now(UTC) + timedelta(days=INVITE_DAYS)
    session.flush()
    return user, token


def invite_link(base_url: str, token: str) -> str:
    """The page where an invited user sets their password (``api.routes.studio.auth``)."""
    return f"{base_url.rstrip('/')}/studio/invite/{token}"


def invited_user(session: Session, token: str) -> User | None:
    """The user an unexpired, unused invite token belongs to."""
    if not token or len(token) > 200:
        return None
    user = session.scalars(select(User).where(User.invite_digest == _digest(token))).one_or_none()
    if user is None or user.disabled_at is not None or user.invite_expires_at is None:
        return None
    if _aware(user.invite_expires_at) < datetime.now(UTC):
        return None
    return user


def accept_invite(session: Session, token: str, password: str) -> User:
    """Set the password through an invite; the invite is spent and older sessions end."""
    user = invited_user(session, token)
    if user is None:
        raise DataError("This invite link is not valid any more: ask an admin for a new one.")
    problem = password_problem(password, email=user.email)
    if problem:
        raise DataError(problem)
    user.password_hash = hash_password(password)
    user.invite_digest = None
    user.invite_expires_at = None
    user.session_generation += 1
    session.flush()
    return user


def change_password(session: Session, user_id: str, current: str, new: str) -> User | str:
    """Set a new password after checking the current one: the user, or why not (``"wrong"`` for
    a wrong current password). The user's other sessions end (the generation moves)."""
    user = session.get(User, user_id)
    if user is None or not verify_password(user.password_hash, current[: MAX_LENGTH + 1]):
        return "wrong"
    problem = password_problem(new, email=user.email)
    if problem:
        return problem
    user.password_hash = hash_password(new)
    sign_out_everywhere(session, user)
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The enabled user with this email and password, else ``None`` (same cost either way)."""
    try:
        email = normalize_email(email)
    except DataError:
        spend_time_like_a_check()
        return None
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None or user.password_hash is None:
        spend_time_like_a_check()
        return None
    if not verify_password(user.password_hash, password) or user.disabled_at is not None:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = datetime.now(UTC)
    return user


def active_user(session: Session, user_id: str, generation: int) -> User | None:
    """The user a session cookie names, while it is enabled and not signed out everywhere since."""
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None or user.session_generation != generation:
        return None
    return user


def sign_out_everywhere(session: Session, user: User) -> None:
    user.session_generation += 1


def set_disabled(session: Session, user_id: str, disabled: bool) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise DataError(f"no user {user_id!r}")
    user.disabled_at = datetime.now(UTC) if disabled else None
    user.session_generation += 1  # a disabled user's sessions end at once
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalize_email(email))).one_or_none()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
