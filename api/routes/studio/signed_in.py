"""Who is signed in to the studio, what their role lets them do, and the studio's page responses.

Every studio route takes one of the ``*User`` dependencies: a request without a live
session is sent to the sign-in page (an htmx request gets ``HX-Redirect``), a user whose
role lacks the permission gets the 403 page, and nothing else of the route runs. POSTs
also take ``CsrfChecked``: a token derived from the session (so signing out everywhere
rotates it) in the form's ``csrf`` field or the ``X-CSRF-Token`` header (htmx), and an
``Origin`` of this site when the browser sends one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Cookie, Depends, Request
from fastapi.responses import Response

from api.deps import StateDep
from api.pages import templates
from api.security import CSP
from api.state import AppState
from pvideo.access.signin import SESSION_MAX_AGE, DashboardSignin
from pvideo.access.users import CAN_ADMINISTER, CAN_SUBMIT, CAN_VIEW, Role, active_user
from pvideo.db.models import User

SESSION_COOKIE = "pvideo_studio"
PRE_SESSION_CSRF_COOKIE = "pvideo_studio_csrf"  # sign-in and invite forms, before there is a session
COOKIE_PATH = "/studio"
STUDIO_CSP = CSP.replace("form-action 'none'", "form-action 'self'")
# same-origin (not no-referrer): browsers then send a real Origin header with the forms' POSTs
PAGE_HEADERS = {"Content-Security-Policy": STUDIO_CSP, "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


class StudioRedirect(Exception):
    """Raised by the dependencies; ``api.main`` turns it into the redirect or the 403 page."""

    def __init__(self, response: Response) -> None:
        self.response = response


def signin(state: AppState) -> DashboardSignin:
    return DashboardSignin(state.runtime.settings.signing_key)


def secure_cookies(request: Request) -> bool:
    """https as the client sees it (``X-Forwarded-Proto`` counts only from a trusted proxy), or forced."""
    state: AppState = request.app.state.pvideo
    return state.runtime.settings.cookie_secure or request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int = SESSION_MAX_AGE) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure_cookies(request)
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, secure=secure_cookies(request), httponly=True, samesite="strict")


def csrf_token(state: AppState, user: User) -> str:
    message = f"studio-csrf:{user.id}:{user.session_generation}".encode()
    return hmac.new(state.runtime.settings.signing_key.encode(), message, hashlib.sha256).hexdigest()


def page(
    request: Request, name: str, context: dict[str, Any], *, user: User | None = None, status_code: int = 200
) -> Response:
    """A studio page: the signed-in user and their CSRF token are in every template's context."""
    state: AppState = request.app.state.pvideo
    context = {**context, "user": user, "csrf": csrf_token(state, user) if user else context.get("csrf", "")}
    if user is not None:
        context.setdefault("can_submit", user.role in CAN_SUBMIT)
        context.setdefault("can_administer", user.role in CAN_ADMINISTER)
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=PAGE_HEADERS)


def _to_sign_in(request: Request) -> StudioRedirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/studio/sign-in?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        return StudioRedirect(Response(status_code=401, headers={"HX-Redirect": location}))
    return StudioRedirect(Response(status_code=303, headers={"Location": location, "Cache-Control": "no-store"}))


def _forbidden(request: Request, user: User) -> StudioRedirect:
    response = page(request, "studio/forbidden.html", {}, user=user, status_code=403)
    return StudioRedirect(response)


def current_user(
    request: Request, state: StateDep, cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
) -> User | None:
    """The signed-in, enabled user, or ``None``."""
    found = signin(state).user_session(cookie)
    if found is None:
        return None
    with state.runtime.db.session() as session:
        user = active_user(session, *found)
        if user is not None:
            session.expunge(user)
        return user


def _role_dependency(allowed: frozenset[Role]) -> Any:
    def check(request: Request, user: Annotated[User | None, Depends(current_user)]) -> User:
        if user is None:
            raise _to_sign_in(request)
        if user.role not in allowed:
            raise _forbidden(request, user)
        return user

    return Depends(check)


ViewerUser = Annotated[User, _role_dependency(CAN_VIEW)]
"""Any signed-in user: analysts, marketing and admins may look."""
SubmitterUser = Annotated[User, _role_dependency(CAN_SUBMIT)]
"""Marketing and admins: scenes and campaigns."""
AdminUser = Annotated[User, _role_dependency(CAN_ADMINISTER)]


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


async def check_csrf(request: Request, state: StateDep, user: Annotated[User | None, Depends(current_user)]) -> None:
    """A signed-in user's POST carries their CSRF token (form field ``csrf`` or header ``X-CSRF-Token``)."""
    if user is None:
        raise _to_sign_in(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette caches it: the route reads the same form
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not same_origin(request) or not sent or not hmac.compare_digest(sent, csrf_token(state, user)):
        response = page(
            request, "studio/forbidden.html", {"reason": "This form expired. Go back, reload and try again."},
            user=user, status_code=403,
        )  # fmt: skip
        raise StudioRedirect(response)


CsrfChecked = Depends(check_csrf)
