"""Admins manage studio users: invite (a one-time link, shown once), disable, enable, change role, sign out.

An admin cannot disable, demote or re-invite themself here: the studio always keeps the
admin who is acting, so it never ends up without one by a slip of the mouse.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import StateDep
from api.routes.studio.signed_in import AdminUser, CsrfChecked, page
from pvideo.access import audit
from pvideo.access.users import (
    Role,
    find_user,
    invite_link,
    invite_user,
    list_users,
    set_disabled,
    sign_out_everywhere,
)
from pvideo.db.models import User
from pvideo.errors import DataError

router = APIRouter()

DONE = {
    "disabled": "User disabled; their sessions ended.",
    "enabled": "User enabled. They sign in with their old password (or a new invite link).",
    "role": "Role changed.",
    "signed-out": "That user's sessions ended.",
}


_ACTIONS = {
    "disabled": audit.Action.USER_DISABLE,
    "enabled": audit.Action.USER_ENABLE,
    "role": audit.Action.USER_ROLE,
    "signed-out": audit.Action.USER_SIGN_OUT,
}


def user_status(user: User) -> str:
    if user.disabled_at is not None:
        return "disabled"
    return "active" if user.password_hash else "invited"


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _users_page(
    request: Request, session: Session, admin: User, context: dict | None = None, status_code: int = 200
) -> Response:
    rows = [(u, user_status(u)) for u in list_users(session)]
    context = {"nav": "users", "rows": rows, "roles": list(Role), "errors": {}, "invite": {}, **(context or {})}
    return page(request, "studio/users.html", context, user=admin, status_code=status_code)


@router.get("/users")
def users(request: Request, state: StateDep, admin: AdminUser, done: str | None = None) -> Response:
    with state.runtime.db.session() as session:
        return _users_page(request, session, admin, {"flash": DONE.get(done or "")})


@router.post("/users", dependencies=[CsrfChecked])
async def users_invite(request: Request, state: StateDep, admin: AdminUser) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    email, role = _text(form, "email")[:400], _text(form, "role")
    invite = {"email": email, "role": role}
    with state.runtime.db.session() as session:
        errors = {}
        if role not in {r.value for r in Role}:
            errors["role"] = "Pick one of the roles."
        try:
            existing = find_user(session, email)
        except DataError:
            errors["email"] = "That is not an email address."
            existing = None
        if existing is not None and existing.id == admin.id:
            errors["email"] = "That is you: change your password on your account page instead."
        elif existing is not None and existing.disabled_at is not None:
            errors["email"] = "That user is disabled: enable them first, then send a new invite link."
        if errors:
            return _users_page(request, session, admin, {"errors": errors, "invite": invite}, 400)
        user, token = invite_user(session, email, role, invited_by=admin.email)
        audit.record(
            session, actor=admin.email, role=admin.role,
            action=audit.Action.USER_CREATE if existing is None else audit.Action.USER_INVITE,
            target_type=audit.Target.USER, target_id=user.id, detail={"email": user.email, "role": user.role},
        )  # fmt: skip
        url = invite_link(state.runtime.settings.public_base_url, token)
        link = {"email": user.email, "role": user.role, "url": url}
        return _users_page(request, session, admin, {"link": link})


def _refusal(admin: User, target: User | None, action: str, role: str) -> tuple[str, int] | None:
    if target is None:
        return "There is no such user (any more).", 404
    if target.id == admin.id and action in {"disabled", "role"}:
        return "You cannot disable yourself or change your own role; ask another admin.", 409
    if action == "role" and role not in {r.value for r in Role}:
        return "Pick one of the roles.", 400
    return None


def _change(request: Request, state: StateDep, admin: AdminUser, user_id: str, action: str, role: str = "") -> Response:
    """One admin action on a user; a user's role and state are read on every request, so it counts at once."""
    with state.runtime.db.session() as session:
        target = session.get(User, user_id)
        refusal = _refusal(admin, target, action, role)
        if target is None or refusal is not None:
            error, status_code = refusal or ("There is no such user (any more).", 404)
            return _users_page(request, session, admin, {"error": error}, status_code)
        detail = {"email": target.email}
        if action in {"disabled", "enabled"}:
            set_disabled(session, target.id, action == "disabled")
        elif action == "role":
            detail.update(before=target.role, role=role)
            target.role = Role(role)
        else:
            sign_out_everywhere(session, target)
        audit.record(
            session, actor=admin.email, role=admin.role, action=_ACTIONS[action],
            target_type=audit.Target.USER, target_id=target.id, detail=detail,
        )  # fmt: skip
    return RedirectResponse(f"/studio/users?done={action}", status_code=303)


@router.post("/users/{user_id}/disable", dependencies=[CsrfChecked])
def users_disable(user_id: str, request: Request, state: StateDep, admin: AdminUser) -> Response:
    return _change(request, state, admin, user_id, "disabled")


@router.post("/users/{user_id}/enable", dependencies=[CsrfChecked])
def users_enable(user_id: str, request: Request, state: StateDep, admin: AdminUser) -> Response:
    return _change(request, state, admin, user_id, "enabled")


@router.post("/users/{user_id}/sign-out", dependencies=[CsrfChecked])
def users_sign_out(user_id: str, request: Request, state: StateDep, admin: AdminUser) -> Response:
    return _change(request, state, admin, user_id, "signed-out")


@router.post("/users/{user_id}/role", dependencies=[CsrfChecked])
async def users_role(user_id: str, request: Request, state: StateDep, admin: AdminUser) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return _change(request, state, admin, user_id, "role", _text(form, "role"))
