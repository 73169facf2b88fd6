"""The studio's assets: the list of uploaded videos, images, audio and fonts, and the upload.

An upload is streamed, checked and stored by ``pvideo.jobs.assetlibrary`` (in the
configured storage, by content hash); a video's ingest is then sent to a worker, and
its row on the page polls ``/studio/assets/{sha256}/state`` (htmx) until it is ready.
``POST /studio/assets`` answers JSON (the path a scene names it by) to a request that
accepts JSON, else redirects back to the list, so the form works without JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import StateDep
from api.routes.studio.signed_in import PAGE_HEADERS, CsrfChecked, SubmitterUser, ViewerUser, page
from api.state import AppState
from pvideo.db.models import Asset, IngestState, User
from pvideo.errors import AssetError, NotFound
from pvideo.jobs import assetlibrary

router = APIRouter()
_POLLED = (IngestState.QUEUED, IngestState.INGESTING)


def asset_view(asset: Asset) -> dict[str, Any]:
    """What the page and the JSON answer show of an asset."""
    return {
        "sha256": asset.sha256,
        "name": asset.name,
        "path": assetlibrary.asset_path(asset),
        "kind": asset.kind,
        "size": asset.size,
        "width": asset.width,
        "height": asset.height,
        "duration": asset.duration,
        "ingest_state": asset.ingest_state,
        "ingest_error": asset.ingest_error,
        "template_hash": asset.template_hash,
        "polled": asset.ingest_state in _POLLED,
        "thumbnail": f"/studio/assets/{asset.sha256}/thumbnail.png" if asset.kind != "audio" else None,
    }


def _assets_page(
    request: Request, state: AppState, user: User, *, error: str | None = None, status_code: int = 200
) -> Response:
    with state.runtime.db.session() as session:
        assets = [asset_view(a) for a in assetlibrary.list_assets(session)]
    uploaded = request.query_params.get("uploaded", "")
    context = {"nav": "assets", "assets": assets, "error": error, "uploaded": uploaded}
    return page(request, "studio/assets.html", context, user=user, status_code=status_code)


@router.get("/assets")
def assets(request: Request, state: StateDep, user: ViewerUser) -> Response:
    """Every uploaded asset, newest first, with the upload form for marketing and admins."""
    return _assets_page(request, state, user)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refuse(request: Request, state: AppState, user: User, message: str, status_code: int) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status_code)
    return _assets_page(request, state, user, error=message, status_code=status_code)


def _store(state: AppState, user: User, file: UploadFile) -> dict[str, Any]:
    runtime = state.runtime
    with runtime.db.session() as session:
        asset = assetlibrary.store_asset(
            session, runtime.storage, runtime.settings, file.file, filename=file.filename, uploaded_by=user.email
        )
        view = asset_view(asset)
    return view


@router.post("/assets", dependencies=[CsrfChecked])
async def upload_asset(request: Request, state: StateDep, user: SubmitterUser) -> Response:
    """Check and store one file; a new video's ingest starts at once on a worker."""
    form = await request.form(max_files=1, max_fields=5)  # parts past 1 MB spool to disk
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return _refuse(request, state, user, "Choose a video, image, audio or font file.", 422)
        try:
            view = await run_in_threadpool(_store, state, user, file)
        except AssetError as exc:
            return _refuse(request, state, user, str(exc), 422)
    finally:
        await form.close()
    if view["ingest_state"] == IngestState.QUEUED:
        state.queue.ingest_asset(view["sha256"])
    if _wants_json(request):
        return JSONResponse(view, status_code=201)
    return RedirectResponse(f"/studio/assets?uploaded={view['sha256']}", status_code=303)


def _find(state: AppState, sha256: str) -> dict[str, Any] | None:
    with state.runtime.db.session() as session:
        try:
            return asset_view(assetlibrary.get_asset(session, sha256))
        except NotFound:
            return None


@router.get("/assets/{sha256}/state")
def ingest_state(request: Request, state: StateDep, user: ViewerUser, sha256: str) -> Response:
    """The asset's ingest state: JSON, or (htmx) its status cell, which polls again until it is final."""
    view = _find(state, sha256)
    if view is None:
        return Response("no such asset", status_code=404, media_type="text/plain")
    if _wants_json(request):
        return JSONResponse(view)
    return page(request, "studio/asset_state.html", {"asset": view}, user=user)


@router.get("/assets/{sha256}/thumbnail.png")
def thumbnail(state: StateDep, user: ViewerUser, sha256: str) -> Response:
    """The small picture made at upload (from storage, so any API machine serves it)."""
    try:
        if _find(state, sha256) is None:
            raise NotFound(sha256)
        data = state.runtime.storage.get_bytes(assetlibrary.thumbnail_key(sha256))
    except NotFound:
        return Response("no thumbnail", status_code=404, media_type="text/plain")
    headers = {**PAGE_HEADERS, "Cache-Control": "private, max-age=86400, immutable"}
    return Response(data, media_type="image/png", headers=headers)
