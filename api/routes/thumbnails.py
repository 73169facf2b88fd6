"""The thumbnail in a campaign's manifest: a small poster JPEG reached by the viewer token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.deps import SessionDep, StateDep
from pvideo.campaigns import render_by_token
from pvideo.models import RenderStatus

router = APIRouter(tags=["viewer"])


@router.get("/v/{token}/thumbnail.jpg", response_class=FileResponse)
def thumbnail(token: str, state: StateDep, session: SessionDep) -> Response:
    render = render_by_token(session, state.tokens, token)
    if render is None or render.status != RenderStatus.DONE or not render.thumbnail_key:
        raise HTTPException(404, "thumbnail not found")
    storage = state.runtime.storage
    direct = storage.url(render.thumbnail_key)
    if direct:
        return RedirectResponse(direct, status_code=307)
    path = storage.local_path(render.thumbnail_key)
    if path is None or not path.is_file():
        raise HTTPException(404, "thumbnail not found")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
