"""Customers: the personal landing page and its media, reached only by a signed token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.deps import SessionDep, StateDep
from api.landing import landing_context, landing_csp, stored_chapters
from api.media import stored_file
from api.pages import templates
from api.routes.hls import hls_url, start_on_demand
from pvideo.db.models import Render, RenderStatus
from pvideo.jobs.campaigns import render_by_token

router = APIRouter(tags=["viewer"])

_NOT_FOUND = "video not found"


def _render_for(token: str, state: StateDep, session: SessionDep) -> Render:
    render = render_by_token(session, state.tokens, token)
    if render is None:
        raise HTTPException(404, _NOT_FOUND)
    return render


@router.get("/v/{token}", response_class=HTMLResponse)
def landing_page(token: str, request: Request, state: StateDep, session: SessionDep) -> Response:
    render = _render_for(token, state, session)
    start_on_demand(render, state, session)
    streaming = hls_url(render, token, state.runtime.storage)
    if render.status != RenderStatus.DONE and not streaming:
        return templates.TemplateResponse(
            request,
            "pending.html",
            {"status": render.status},
            status_code=404 if render.status == RenderStatus.FAILED else 202,
            headers={"Retry-After": "5"},
        )
    context = landing_context(
        render,
        token,
        state.runtime.settings.public_base_url,
        hls_url=streaming,
        chapters=stored_chapters(render, state.runtime.storage),
    )
    headers = {"Content-Security-Policy": landing_csp(hls=bool(context["hls_url"]))}
    return templates.TemplateResponse(request, "landing.html", context, headers=headers)


def _media(token: str, state: StateDep, session: SessionDep, which: str, media_type: str) -> Response:
    render = _render_for(token, state, session)
    key = render.video_key if which == "video" else render.poster_key
    if render.status != RenderStatus.DONE:
        raise HTTPException(404, _NOT_FOUND)
    expires = state.runtime.settings.presigned_url_seconds
    return stored_file(state.runtime.storage, key, media_type, not_found=_NOT_FOUND, expires=expires)


@router.get("/v/{token}/video.mp4", response_class=FileResponse)
def video(token: str, state: StateDep, session: SessionDep) -> Response:
    return _media(token, state, session, "video", "video/mp4")


@router.get("/v/{token}/poster.jpg", response_class=FileResponse)
def poster(token: str, state: StateDep, session: SessionDep) -> Response:
    return _media(token, state, session, "poster", "image/jpeg")
