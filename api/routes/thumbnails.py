"""A render's extra outputs reached by the viewer token: thumbnails for email, captions, the CTA/chapter track."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from api.deps import SessionDep, StateDep
from api.media import PRIVATE_CACHE, stored_file
from pvideo.db.models import Render, RenderStatus
from pvideo.errors import NotFound
from pvideo.jobs.campaigns import render_by_token

router = APIRouter(tags=["viewer"])


def _done_render(token: str, state: StateDep, session: SessionDep, what: str) -> Render:
    render = render_by_token(session, state.tokens, token)
    if render is None or render.status != RenderStatus.DONE:
        raise HTTPException(404, f"{what} not found")
    return render


def _stored(state: StateDep, key: str | None, media_type: str) -> Response:
    settings = state.runtime.settings
    return stored_file(
        state.runtime.storage, key, media_type, not_found="thumbnail not found", expires=settings.presigned_url_seconds
    )


@router.get("/v/{token}/thumbnail.jpg", response_class=FileResponse)
def thumbnail(token: str, state: StateDep, session: SessionDep) -> Response:
    """A small poster JPEG (the manifest's thumbnail)."""
    render = _done_render(token, state, session, "thumbnail")
    return _stored(state, render.thumbnail_key, "image/jpeg")


@router.get("/v/{token}/thumbnail.gif", response_class=FileResponse)
def thumbnail_gif(token: str, state: StateDep, session: SessionDep) -> Response:
    """An animated GIF loop (at most 3 s and 1 MB) with a play button, for email."""
    render = _done_render(token, state, session, "thumbnail")
    return _stored(state, (render.outputs or {}).get("thumbnail.gif"), "image/gif")


@router.get("/v/{token}/thumbnail.webp", response_class=FileResponse)
def thumbnail_webp(token: str, state: StateDep, session: SessionDep) -> Response:
    """The same loop as an animated WebP."""
    render = _done_render(token, state, session, "thumbnail")
    return _stored(state, (render.outputs or {}).get("thumbnail.webp"), "image/webp")


def _text_track(token: str, state: StateDep, session: SessionDep, name: str) -> Response:
    """Served by the app, not redirected: a ``<track>`` from another origin would need CORS."""
    render = _done_render(token, state, session, name)
    key = (render.outputs or {}).get(name)
    if not key:
        raise HTTPException(404, f"{name} not found")
    try:
        text = state.runtime.storage.get_bytes(key)
    except NotFound:
        raise HTTPException(404, f"{name} not found") from None
    return Response(text, media_type="text/vtt; charset=utf-8", headers=PRIVATE_CACHE)


@router.get("/v/{token}/captions.vtt", response_class=Response, responses={200: {"content": {"text/vtt": {}}}})
def captions_track(token: str, state: StateDep, session: SessionDep) -> Response:
    """WebVTT captions: the template's lines merged with the customer's personalized ones."""
    return _text_track(token, state, session, "captions.vtt")


@router.get("/v/{token}/track.vtt", response_class=Response, responses={200: {"content": {"text/vtt": {}}}})
def metadata_track(token: str, state: StateDep, session: SessionDep) -> Response:
    """WebVTT metadata: one JSON cue per chapter and per CTA window."""
    return _text_track(token, state, session, "track.vtt")
