"""A campaign followed live (Server-Sent Events, or polling) and its manifest downloads.

``GET /studio/campaigns/{id}/live`` sends one ``progress`` event a second: counts, rate,
ETA and the failures new since the event id (``pvideo.jobs.live``). Each tick reads in a
fresh session on a worker thread, so no connection is held between ticks; the stream ends
when no row is open any more, when the viewer's session ends (signed out, disabled), or
after ``STREAM_SECONDS`` (the browser then reconnects with ``Last-Event-ID``).
``progress.json`` is the same update for ``live.js``'s polling.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from api.deps import StateDep
from api.routes.studio.signed_in import SESSION_COOKIE, ViewerUser, current_user
from api.state import AppState
from pvideo.access import audit
from pvideo.db.models import User
from pvideo.jobs import campaigns
from pvideo.jobs.live import LiveUpdate, live_update
from pvideo.jobs.manifest import csv_chunks, iter_manifest, json_chunks, xlsx_file

router = APIRouter()

STREAM_SECONDS = 600.0
TICK_SECONDS = 1.0
RETRY_MS = 2000
NO_STORE = {"Cache-Control": "no-store"}
Cursor = Annotated[str | None, Query(max_length=40)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _update(state: AppState, campaign_id: str, cursor: str | None) -> LiveUpdate:
    with state.runtime.db.session() as session:
        return live_update(session, campaign_id, cursor, window_seconds=state.runtime.settings.eta_window_seconds)


def _tick(request: Request, state: AppState, campaign_id: str, cursor: str | None) -> LiveUpdate | None:
    """The next update, or ``None`` once the viewer is no longer signed in."""
    if current_user(request, state, request.cookies.get(SESSION_COOKIE)) is None:
        return None
    return _update(state, campaign_id, cursor)


def sse_event(update: LiveUpdate) -> str:
    """One ``progress`` event; its id is the failure cursor (absent until a row failed)."""
    lines = [f"id: {update.cursor}"] if update.cursor else []
    lines += ["event: progress", f"data: {json.dumps(update.to_json(), separators=(',', ':'))}"]
    return "\n".join(lines) + "\n\n"


@router.get("/campaigns/{campaign_id}/live")
async def live(
    campaign_id: str,
    request: Request,
    state: StateDep,
    _: ViewerUser,
    after: Cursor = None,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
) -> StreamingResponse:
    first = await run_in_threadpool(_update, state, campaign_id, last_event_id or after)  # 404 before streaming

    async def events() -> AsyncIterator[str]:
        update: LiveUpdate | None = first
        deadline = time.monotonic() + STREAM_SECONDS
        yield f"retry: {RETRY_MS}\n\n"
        while update is not None:
            yield sse_event(update)
            if update.complete or time.monotonic() >= deadline or await request.is_disconnected():
                return
            await asyncio.sleep(TICK_SECONDS)
            update = await run_in_threadpool(_tick, request, state, campaign_id, update.cursor)

    return StreamingResponse(events(), media_type="text/event-stream", headers={**NO_STORE, "X-Accel-Buffering": "no"})


@router.get("/campaigns/{campaign_id}/progress.json")
def progress_json(campaign_id: str, state: StateDep, _: ViewerUser, after: Cursor = None) -> JSONResponse:
    return JSONResponse(_update(state, campaign_id, after).to_json(), headers=NO_STORE)


def _attachment(campaign_id: str, extension: str) -> dict[str, str]:
    return {**NO_STORE, "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-links.{extension}"'}


def _check(state: AppState, campaign_id: str, user: User, extension: str) -> None:
    """404 before anything is sent; else the download is on record (committed before it starts)."""
    with state.runtime.db.session() as session:
        campaigns.get_campaign(session, campaign_id)
        audit.record(
            session, actor=user.email, role=user.role, action=audit.Action.MANIFEST_DOWNLOAD,
            target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"format": extension},
        )  # fmt: skip


def _streamed(state: AppState, campaign_id: str, user: User, extension: str, media_type: str) -> StreamingResponse:
    _check(state, campaign_id, user, extension)
    db, base = state.runtime.db, state.runtime.settings.public_base_url

    def chunks() -> Iterator[str]:
        with db.session() as session:
            rows = iter_manifest(session, campaign_id, base)
            yield from (csv_chunks(rows) if extension == "csv" else json_chunks(rows))

    return StreamingResponse(chunks(), media_type=media_type, headers=_attachment(campaign_id, extension))


@router.get("/campaigns/{campaign_id}/manifest.csv")
def manifest_csv(campaign_id: str, state: StateDep, user: ViewerUser) -> StreamingResponse:
    return _streamed(state, campaign_id, user, "csv", "text/csv; charset=utf-8")


@router.get("/campaigns/{campaign_id}/manifest.json")
def manifest_json(campaign_id: str, state: StateDep, user: ViewerUser) -> StreamingResponse:
    return _streamed(state, campaign_id, user, "json", "application/json")


@router.get("/campaigns/{campaign_id}/manifest.xlsx")
def manifest_xlsx(campaign_id: str, state: StateDep, user: ViewerUser) -> FileResponse:
    """Written to a temporary file first (a workbook is a zip, its index comes last), then sent and deleted."""
    _check(state, campaign_id, user, "xlsx")
    handle, name = tempfile.mkstemp(prefix="pvideo-manifest-", suffix=".xlsx")
    os.close(handle)
    path = Path(name)
    try:
        with state.runtime.db.session() as session:
            xlsx_file(iter_manifest(session, campaign_id, state.runtime.settings.public_base_url), path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path, media_type=XLSX, headers=_attachment(campaign_id, "xlsx"), background=BackgroundTask(path.unlink)
    )
