"""Landing-page extras: the CTA click redirect and the chapters track."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from api.deps import SessionDep, StateDep
from api.landing import stored_chapters
from pvideo.db.models import Render, RenderStatus
from pvideo.jobs.campaigns import render_by_token
from pvideo.privacy.consent import honoured_consent
from pvideo.render.chapters import Chapter, chapters_from_ctas, to_webvtt
from pvideo.scene.urls import check_link
from pvideo.tracking.devices import device_class
from pvideo.tracking.events import ingest

router = APIRouter(prefix="/v/{token}", tags=["viewer"])

_NOT_FOUND = "video not found"


def _live_render(token: str, state: StateDep, session: SessionDep) -> Render:
    """The token's render unless it failed (an on-demand render can be watched before it is done)."""
    render = render_by_token(session, state.tokens, token)
    if render is None or render.status == RenderStatus.FAILED:
        raise HTTPException(404, _NOT_FOUND)
    return render


@router.get(
    "/cta/{cta_id}",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "to the CTA's own URL, after recording the click"}},
)
def cta_click(
    token: str,
    cta_id: str,
    request: Request,
    state: StateDep,
    session: SessionDep,
    e: str | None = Query(None, max_length=100, description="event id (tracker)"),
    s: str | None = Query(None, max_length=64, description="session id (tracker)"),
    q: int | None = Query(None, ge=0, le=2_000_000_000, description="sequence number (tracker)"),
    t: float | None = Query(None, ge=0, le=86_400, description="video position (tracker)"),
    c: bool = Query(False, description="the viewer accepted tracking (consent mode; tracker)"),
) -> Response:
    """Record a ``cta_click`` then redirect to that CTA's URL for this render, and only there.
    The click is recorded as the campaign's tracking mode allows (``pvideo.privacy.consent``)."""
    render = _live_render(token, state, session)
    hotspot = next((h for h in render.hotspots or [] if h.get("id") == cta_id), None)
    if hotspot is None:
        raise HTTPException(404, "unknown CTA")
    try:
        target = check_link(str(hotspot.get("href") or ""))
    except ValueError:
        raise HTTPException(404, "unknown CTA") from None
    raw = {
        "event_id": e or uuid.uuid4().hex,
        "type": "cta_click",
        "cta_id": cta_id,
        "position": t,
        "session_id": s,
        "seq": q,
    }
    if state.event_limiter.take(render.id, 1) == 0:
        headers = request.headers
        consent = honoured_consent(c, sec_gpc=headers.get("sec-gpc"), dnt=headers.get("dnt"))
        ingest(session, render, [raw], device=device_class(headers.get("user-agent")), consent=consent)
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/chapters.vtt", response_class=PlainTextResponse)
def chapters_track(token: str, state: StateDep, session: SessionDep) -> Response:
    """WebVTT chapters: the scene's (from the render's stored track), else made from the CTA windows."""
    render = _live_render(token, state, session)
    stored = stored_chapters(render, state.runtime.storage)
    chapters = (
        [Chapter(c["start"], c["end"], c["title"]) for c in stored]
        if stored is not None
        else chapters_from_ctas(render.hotspots or [], render.duration or 0)
    )
    return Response(
        to_webvtt(chapters), media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "private, max-age=3600"}
    )
