"""HLS for customers: their playlist and its segments, reached only by their token.

The stored playlist names storage keys; here each becomes this router's
segment route, which serves only segments that this render's playlist lists,
and only while the token is live: each segment request checks the token again,
then answers with the file or a presigned URL made for that request (valid
``PVIDEO_PRESIGNED_URL_SECONDS``). Presigned URLs written into the playlist
would outlive a revocation, and expire mid-video once they are short-lived.
"""

from __future__ import annotations

import re
import time
from pathlib import PurePosixPath

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from api.deps import SessionDep, StateDep
from api.media import stored_file
from pvideo.db.models import Render, RenderMode, RenderStatus
from pvideo.errors import NotFound
from pvideo.jobs.campaigns import render_by_token
from pvideo.render import hls
from pvideo.storage import Storage

router = APIRouter(tags=["viewer"])

_SEGMENT_NAME = re.compile(r"^(seg|part)_\d{5}\.ts$")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


_STREAMABLE = (RenderStatus.DONE, RenderStatus.RENDERING, RenderStatus.QUEUED)
PART_WAIT_SECONDS = 30.0
PLAN_WAIT_SECONDS = 10.0
"""How long a first view's landing page waits for the plan (the playlist, the CTAs): a burst of first
views compiles many plans at once, and a page without them only says "come back in a moment"."""


def hls_url(render: Render, token: str, storage: Storage) -> str | None:
    """The landing page's HLS source, once this render's playlist is stored (on demand: before
    its personal parts are all encoded)."""
    if render.status in _STREAMABLE and render.plan_digest and storage.exists(hls.playlist_key(render.plan_digest)):
        return f"/v/{token}/index.m3u8"
    return None


def start_on_demand(render: Render, state: StateDep, session: SessionDep, wait: float = PLAN_WAIT_SECONDS) -> None:
    """A first view of an on-demand render starts it and waits (briefly) for its playlist."""
    if render.campaign.render_mode != RenderMode.ON_DEMAND or render.status not in (
        RenderStatus.QUEUED,
        RenderStatus.RENDERING,
    ):
        return
    if render.status == RenderStatus.QUEUED:
        state.ondemand.request(render.id)
    deadline = time.monotonic() + wait
    while not render.plan_digest and time.monotonic() < deadline:
        time.sleep(0.02)
        session.refresh(render)


def _playlist(token: str, state: StateDep, session: SessionDep) -> str:
    """The render's stored playlist; on demand, once its first personal part is stored too, so
    that a player starts when the first part is there (later parts are encoded by their play time,
    ``pvideo.jobs.scheduling``)."""
    render = render_by_token(session, state.tokens, token)
    if render is not None:
        start_on_demand(render, state, session, wait=PART_WAIT_SECONDS)
    if render is None or render.status not in _STREAMABLE or not render.plan_digest:
        raise HTTPException(404, "video not found")
    storage = state.runtime.storage
    try:
        text = storage.get_bytes(hls.playlist_key(render.plan_digest)).decode()
    except NotFound:
        raise HTTPException(404, "video not found") from None
    if render.status != RenderStatus.DONE:
        first = next((k for k in hls.playlist_keys(text) if PurePosixPath(k).name.startswith("part_")), None)
        if first is not None:
            _wait_for(storage, first)
    return text


def _wait_for(storage: Storage, key: str) -> None:
    """Return once ``key`` is stored (an on-demand part being encoded); 503 after ``PART_WAIT_SECONDS``."""
    deadline = time.monotonic() + PART_WAIT_SECONDS
    while not storage.exists(key):
        if time.monotonic() > deadline:
            raise HTTPException(503, "segment not ready", headers={"Retry-After": "1"})
        time.sleep(0.05)


@router.get("/v/{token}/index.m3u8")
def playlist(token: str, state: StateDep, session: SessionDep) -> Response:
    text = hls.rewrite(_playlist(token, state, session), lambda key: f"/v/{token}/hls/{PurePosixPath(key).name}")
    return Response(text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "private, max-age=60"})


@router.get("/v/{token}/hls/{name}")
def segment(token: str, name: str, state: StateDep, session: SessionDep) -> Response:
    if not _SEGMENT_NAME.match(name):
        raise HTTPException(404, "segment not found")
    keys = [k for k in hls.playlist_keys(_playlist(token, state, session)) if PurePosixPath(k).name == name]
    if not keys:
        raise HTTPException(404, "segment not found")
    storage = state.runtime.storage
    _wait_for(storage, keys[0])  # on demand: this part may still be being encoded
    return stored_file(
        storage,
        keys[0],
        "video/mp2t",
        not_found="segment not found",
        expires=state.runtime.settings.presigned_url_seconds,
        headers={"Cache-Control": "private, max-age=86400"},
    )
