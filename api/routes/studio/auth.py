"""Signing in to the studio: the sign-in form, one-time invites, the account page, signing out.

Failed sign-ins share the wrong-key throttle (``state.auth_failures``): each one takes a
token from the client address's bucket (the one a wrong API key takes from) and one from the
account's (``user:<email>``); an empty bucket answers 429 with ``Retry-After``. A locked
account is refused before its password is checked, so it cannot be guessed at (not even a
right password passes until it refills); an exhausted address only turns wrong passwords
into 429s, so a guesser behind a shared proxy locks out no one else. A right password never
takes a token. Forms shown before there is a session carry a double-submit CSRF token
(``PRE_SESSION_CSRF_COOKIE``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import StateDep
from api.routes.studio.signed_in import (
    PRE_SESSION_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfChecked,
    ViewerUser,
    clear_cookie,
    current_user,
    page,
    same_origin,
    set_cookie,
    signin,
)
from api.state import AppState
from pvideo.access.passwords import MAX_LENGTH
from pvideo.access.signin import CSRF_MAX_AGE
from pvideo.access.users import accept_invite, authenticate, change_password, invited_user, sign_out_everywhere
from pvideo.db.models import User
from pvideo.errors import DataError

router = APIRouter()

DEFAULT_NEXT = "/studio/campaigns"
_NEXT = re.compile(r"/studio(?:[/?][A-Za-z0-9/_\-?=&.%~+,:;]*)?")
NOTICES = {
    "signed-out": "You are signed out.",
    "everywhere": "You were signed out on every device. Sign in again to continue.",
    "password": "Password changed. Your other sessions were signed out.",
}
EXPIRED_FORM = "This form expired. Please try again."
BAD_INVITE = "This invite link is not valid any more: it was used, replaced or it expired. Ask an admin for a new link."


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a studio path on this site, else the campaigns list."""
    if not value or len(value) > 2000 or not _NEXT.fullmatch(value):
        return DEFAULT_NEXT
    if ".." in value or "//" in value or "%2e" in value.lower():  # an encoded dot segment climbs as ".." does
        return DEFAULT_NEXT
    return value


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"  # the key refuse_wrong_key counts under


def _account_key(email: str) -> str:
    return "user:" + email.strip().lower()[:320]


def _throttle_keys(request: Request, email: str) -> tuple[str, str]:
    return _client(request), _account_key(email)


def _count_failure(state: AppState, keys: tuple[str, ...]) -> float:
    return max([state.auth_failures.take(key) for key in keys])


def _with_pre_session_csrf(
    request: Request, state: AppState, name: str, context: dict, status_code: int = 200, cookie: str | None = None
) -> Response:
    """A page with a form sent before there is a session; a still-valid token is kept (several tabs)."""
    keeper = signin(state)
    csrf = cookie if cookie and keeper.csrf_ok(cookie, cookie) else keeper.new_csrf()
    response = page(request, name, {**context, "csrf": csrf}, status_code=status_code)
    set_cookie(request, response, PRE_SESSION_CSRF_COOKIE, csrf, CSRF_MAX_AGE)
    return response


def _pre_session_form_ok(request: Request, state: AppState, cookie: str | None, form: FormData) -> bool:
    return same_origin(request) and signin(state).csrf_ok(cookie, _text(form, "csrf") or None)


def _signed_in_response(request: Request, state: AppState, user_id: str, generation: int, target: str) -> Response:
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    set_cookie(request, response, SESSION_COOKIE, signin(state).user_cookie(user_id, generation))
    clear_cookie(request, response, PRE_SESSION_CSRF_COOKIE)
    return response


def _locked_page(request: Request, state: AppState, context: dict, wait: float, cookie: str | None) -> Response:
    seconds = math.ceil(wait)
    error = f"Too many failed sign-ins for this account or from this address. Try again in {seconds} seconds."
    response = _with_pre_session_csrf(request, state, "studio/sign_in.html", {**context, "error": error}, 429, cookie)
    response.headers["Retry-After"] = str(seconds)
    return response


def studio_home() -> Response:
    """``GET /studio`` (added by the package: a sub-router cannot hold its prefix's own path)."""
    return RedirectResponse(DEFAULT_NEXT, status_code=303)


@router.get("/sign-in")
def sign_in_form(
    request: Request,
    state: StateDep,
    next: str | None = None,
    notice: str | None = None,
    csrf_cookie: Annotated[str | None, Cookie(alias=PRE_SESSION_CSRF_COOKIE)] = None,
) -> Response:
    target = safe_next(next)
    if current_user(request, state, request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(target, status_code=303)
    context = {"next": target, "email": "", "flash": NOTICES.get(notice or "")}
    return _with_pre_session_csrf(request, state, "studio/sign_in.html", context, cookie=csrf_cookie)


def _check_password(state: AppState, email: str, password: str) -> tuple[str, int] | None:
    with state.runtime.db.session() as session:
        user = authenticate(session, email, password)
        return (user.id, user.session_generation) if user is not None else None


@router.post("/sign-in")
async def sign_in(
    request: Request, state: StateDep, csrf_cookie: Annotated[str | None, Cookie(alias=PRE_SESSION_CSRF_COOKIE)] = None
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    email, password = _text(form, "email")[:320], _text(form, "password")
    context = {"next": safe_next(_text(form, "next") or request.query_params.get("next")), "email": email}
    if not _pre_session_form_ok(request, state, csrf_cookie, form):
        return _with_pre_session_csrf(request, state, "studio/sign_in.html", {**context, "error": EXPIRED_FORM}, 403)
    keys = _throttle_keys(request, email)
    wait = state.auth_failures.wait(_account_key(email))
    if wait > 0:
        return _locked_page(request, state, context, wait, csrf_cookie)
    found = None
    if email and password and len(password) <= MAX_LENGTH:  # a longer one was never accepted: no hash to try
        found = await run_in_threadpool(_check_password, state, email, password)
    if found is None:
        wait = _count_failure(state, keys)
        if wait > 0:
            return _locked_page(request, state, context, wait, csrf_cookie)
        error = "That email and password do not match an active account."
        return _with_pre_session_csrf(
            request, state, "studio/sign_in.html", {**context, "error": error}, 401, csrf_cookie
        )
    return _signed_in_response(request, state, *found, context["next"])


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request) -> Response:
    response = RedirectResponse("/studio/sign-in?notice=signed-out", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("/account")
def account(request: Request, user: ViewerUser, done: str | None = None) -> Response:
    return page(request, "studio/account.html", {"nav": "account", "flash": NOTICES.get(done or "")}, user=user)


@router.post("/account/sign-out-everywhere", dependencies=[CsrfChecked])
def account_sign_out_everywhere(request: Request, state: StateDep, user: ViewerUser) -> Response:
    with state.runtime.db.session() as session:
        row = session.get(User, user.id)
        if row is not None:
            sign_out_everywhere(session, row)
    response = RedirectResponse("/studio/sign-in?notice=everywhere", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


def _change_password(state: AppState, user_id: str, current: str, new: str) -> tuple[str, int] | str:
    """The session's new (id, generation), or what is wrong (other sessions end: the generation moves)."""
    with state.runtime.db.session() as session:
        changed = change_password(session, user_id, current, new)
        return changed if isinstance(changed, str) else (changed.id, changed.session_generation)


@router.post("/account/password", dependencies=[CsrfChecked])
async def account_password(request: Request, state: StateDep, user: ViewerUser) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    current, new = _text(form, "current_password"), _text(form, "new_password")
    again = _text(form, "new_password_again")
    errors: dict[str, str] = {}
    keys = _throttle_keys(request, user.email)
    wait = state.auth_failures.wait(_account_key(user.email))
    if wait > 0:
        errors["current"] = f"Too many wrong passwords. Try again in {math.ceil(wait)} seconds."
    elif new != again:
        errors["again"] = "The two new passwords differ."
    else:
        outcome = await run_in_threadpool(_change_password, state, user.id, current, new)
        if outcome == "wrong":
            _count_failure(state, keys)
            errors["current"] = "That is not your current password."
        elif isinstance(outcome, str):
            errors["new"] = outcome
        else:
            changed = RedirectResponse("/studio/account?done=password", status_code=303)
            set_cookie(request, changed, SESSION_COOKIE, signin(state).user_cookie(*outcome))
            return changed
    context = {"nav": "account", "errors": errors}
    if wait > 0:
        response = page(request, "studio/account.html", context, user=user, status_code=429)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    return page(request, "studio/account.html", context, user=user, status_code=400)


@router.get("/invite/{token}")
def invite_form(
    token: str,
    request: Request,
    state: StateDep,
    csrf_cookie: Annotated[str | None, Cookie(alias=PRE_SESSION_CSRF_COOKIE)] = None,
) -> Response:
    with state.runtime.db.session() as session:
        user = invited_user(session, token)
        email = user.email if user is not None else None
    if email is None:
        return page(request, "studio/invite.html", {"invalid": BAD_INVITE}, status_code=410)
    context = {"email": email, "token": token, "errors": {}}
    return _with_pre_session_csrf(request, state, "studio/invite.html", context, cookie=csrf_cookie)


def _accept(state: AppState, token: str, password: str) -> tuple[str, int] | str:
    """The new session's (id, generation), or what is wrong."""
    with state.runtime.db.session() as session:
        if invited_user(session, token) is None:
            return BAD_INVITE
        try:
            user = accept_invite(session, token, password)
        except DataError as exc:
            return str(exc)
        return user.id, user.session_generation


@router.post("/invite/{token}")
async def invite_accept(
    token: str,
    request: Request,
    state: StateDep,
    csrf_cookie: Annotated[str | None, Cookie(alias=PRE_SESSION_CSRF_COOKIE)] = None,
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    with state.runtime.db.session() as session:
        user = invited_user(session, token)
        email = user.email if user is not None else None
    if email is None:
        return page(request, "studio/invite.html", {"invalid": BAD_INVITE}, status_code=410)
    context: dict = {"email": email, "token": token, "errors": {}}
    password, again = _text(form, "password"), _text(form, "password_again")
    if not _pre_session_form_ok(request, state, csrf_cookie, form):
        context["error"] = EXPIRED_FORM
        return _with_pre_session_csrf(request, state, "studio/invite.html", context, 403)
    if password != again:
        context["errors"]["again"] = "The two passwords differ."
        return _with_pre_session_csrf(request, state, "studio/invite.html", context, 400, csrf_cookie)
    outcome = await run_in_threadpool(_accept, state, token, password)
    if outcome == BAD_INVITE:
        return page(request, "studio/invite.html", {"invalid": BAD_INVITE}, status_code=410)
    if isinstance(outcome, str):
        context["errors"]["password"] = outcome
        return _with_pre_session_csrf(request, state, "studio/invite.html", context, 400, csrf_cookie)
    return _signed_in_response(request, state, *outcome, DEFAULT_NEXT)
