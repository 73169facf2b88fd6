"""The dashboard: sign in with an API key; campaigns with progress; per campaign the funnel,
drop-off chart, CTA table, breakdowns and renders. Server-rendered, read-only, strict CSP.

Signing in needs the ``analytics`` scope; the renders' personal links (each opens a
customer's video) are shown only to a key that may open them through the API too
(``campaigns`` or ``admin``, as ``GET /api/campaigns/{id}/renders`` asks). Cookies are
``Secure`` on https (behind a proxy: when ``PVIDEO_TRUSTED_PROXIES`` names it) or always
with ``PVIDEO_COOKIE_SECURE``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SessionDep, StateDep, refuse_wrong_key
from api.pages import templates
from api.security import CSP
from api.state import AppState
from pvideo.access.apikeys import ALL_SCOPES, stored_key
from pvideo.access.signin import SESSION_MAX_AGE, DashboardSignin
from pvideo.db.models import ApiKey
from pvideo.jobs.campaigns import get_campaign, list_renders
from pvideo.jobs.manifest import render_links
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.charts import funnel_bars, retention_points
from pvideo.tracking.overview import campaign_progress

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

SESSION_COOKIE = "pvideo_dashboard"
CSRF_COOKIE = "pvideo_csrf"
DASHBOARD_SCOPE = "analytics"
LINK_SCOPES = frozenset({"campaigns", "admin"})  # the scopes that may list renders with their links
DASHBOARD_CSP = CSP.replace("form-action 'none'", "form-action 'self'")
# same-origin (not no-referrer): browsers then send a real Origin header with the forms' POSTs
_HEADERS = {"Content-Security-Policy": DASHBOARD_CSP, "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


def _signin(state: StateDep) -> DashboardSignin:
    return DashboardSignin(state.runtime.settings.signing_key)


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=_HEADERS)


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def _secure(request: Request) -> bool:
    """https as the client sees it (``X-Forwarded-Proto`` counts only from a trusted proxy), or forced."""
    state: AppState = request.app.state.pvideo
    return state.runtime.settings.cookie_secure or request.url.scheme == "https"


def signed_in(
    state: StateDep, cookie: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
) -> frozenset[str] | None:
    """The scopes of the session's key: a configured key (all scopes), or a stored key that is
    still live and holds ``analytics``; ``None`` when the cookie is no such session."""
    signin = _signin(state)
    if signin.signed_in(cookie, state.runtime.settings.effective_api_keys):
        return ALL_SCOPES
    key_id = signin.stored_key_session(cookie)
    if key_id is None:
        return None
    with state.runtime.db.session() as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None or DASHBOARD_SCOPE not in row.scopes:
            return None
        return frozenset(row.scopes)


def _dashboard_key(state: StateDep, api_key: str) -> str | bool:
    """``True`` for a configured key, a stored key's id when it holds ``analytics``, else ``False``."""
    if _signin(state).valid_key(api_key, state.runtime.settings.effective_api_keys):
        return True
    with state.runtime.db.session() as session:
        row = stored_key(session, api_key)
        return row.id if row is not None and DASHBOARD_SCOPE in row.scopes else False


SignedInDep = Annotated[frozenset[str] | None, Depends(signed_in)]


def _sign_in_page(request: Request, state: StateDep, error: str | None = None, status_code: int = 200) -> Response:
    csrf = _signin(state).new_csrf()
    response = _page(request, "dashboard_signin.html", {"csrf": csrf, "error": error}, status_code)
    _set_cookie(request, response, CSRF_COOKIE, csrf, 2 * 3600)
    return response


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, state: StateDep) -> Response:
    return _sign_in_page(request, state)


@router.post("/sign-in")
async def sign_in(
    request: Request, state: StateDep, csrf_cookie: Annotated[str | None, Cookie(alias=CSRF_COOKIE)] = None
) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    api_key, csrf = form.get("api_key"), form.get("csrf")
    signin = _signin(state)
    if not _same_origin(request) or not signin.csrf_ok(csrf_cookie, csrf if isinstance(csrf, str) else None):
        return _sign_in_page(request, state, "Your sign-in form expired. Please try again.", 403)
    key = api_key.strip() if isinstance(api_key, str) else ""
    known = _dashboard_key(state, key) if isinstance(api_key, str) else False
    if not known:
        try:
            refuse_wrong_key(state, request)
        except HTTPException as exc:
            page = _sign_in_page(request, state, "Too many wrong API keys from this address. Try again later.", 429)
            page.headers.update(exc.headers or {})
            return page
        return _sign_in_page(request, state, "That API key is not valid (or lacks the analytics scope).", 401)
    cookie = signin.session_cookie(key) if known is True else signin.stored_key_cookie(known)
    response = RedirectResponse("/dashboard", status_code=303, headers={"Cache-Control": "no-store"})
    _set_cookie(request, response, SESSION_COOKIE, cookie, SESSION_MAX_AGE)
    response.delete_cookie(CSRF_COOKIE, path="/dashboard", secure=_secure(request), httponly=True, samesite="strict")
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, state: StateDep, csrf_cookie: Annotated[str | None, Cookie(alias=CSRF_COOKIE)] = None
) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    csrf = form.get("csrf")
    if not _same_origin(request) or not _signin(state).csrf_ok(csrf_cookie, csrf if isinstance(csrf, str) else None):
        raise HTTPException(403, "bad CSRF token")
    response = RedirectResponse("/dashboard/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard", secure=_secure(request), httponly=True, samesite="strict")
    return response


def _with_csrf(request: Request, state: StateDep, name: str, context: dict) -> Response:
    csrf = _signin(state).new_csrf()
    response = _page(request, name, {**context, "csrf": csrf, "signed_in": True})
    _set_cookie(request, response, CSRF_COOKIE, csrf, 2 * 3600)
    return response


@router.get("", response_class=HTMLResponse)
def home(request: Request, state: StateDep, session: SessionDep, scopes: SignedInDep) -> Response:
    if scopes is None:
        return RedirectResponse("/dashboard/sign-in", status_code=303)
    return _with_csrf(request, state, "dashboard_home.html", {"campaigns": campaign_progress(session)})


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    campaign_id: str,
    request: Request,
    state: StateDep,
    session: SessionDep,
    scopes: SignedInDep,
    start: date | None = Query(None),
    end: date | None = Query(None),
) -> Response:
    if scopes is None:
        return RedirectResponse("/dashboard/sign-in", status_code=303)
    campaign = get_campaign(session, campaign_id)
    stats = campaign_analytics(session, campaign_id, start=start, end=end)
    base = state.runtime.settings.public_base_url
    show_links = bool(scopes & LINK_SCOPES)
    renders = [(r, render_links(r, base) if show_links else {}) for r in list_renders(session, campaign_id, limit=500)]
    return _with_csrf(
        request,
        state,
        "dashboard_campaign.html",
        {
            "campaign": campaign,
            "stats": stats,
            "renders": renders,
            "show_links": show_links,
            "start": start,
            "end": end,
            "funnel": funnel_bars(stats["funnel"]),
            "curve": retention_points(stats["drop_off"]),
        },
    )
