"""A viewer link that is gone: 410 with a neutral answer, whatever made it go.

A revoked link, one whose customer was erased and one whose outputs expired all answer the
same: the page says only ``GONE_TEXT`` (no name, no campaign, no reason: the reason could
itself say something about the person), media paths under ``/v/{token}`` get that page too,
and the API routes a JSON ``detail``. Unknown tokens stay 404: 410 is only for links that were.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.pages import templates
from api.state import AppState
from pvideo.access.revocation import link_gone
from pvideo.db.models import Render

GONE_TEXT = "This video is no longer available."
GONE_DETAIL = "this video is no longer available"
UNKNOWN_DETAIL = "unknown viewer token"
NO_STORE = {"Cache-Control": "no-store"}


async def gone_response(request: Request, _: Exception) -> Response:
    """The app's handler for ``LinkGone``: the neutral page on viewer paths, else JSON."""
    if request.url.path.startswith("/v/"):
        return templates.TemplateResponse(request, "gone.html", {"text": GONE_TEXT}, status_code=410, headers=NO_STORE)
    return JSONResponse({"detail": GONE_DETAIL}, status_code=410, headers=NO_STORE)


async def token_refusal(state: AppState, token: str, render_id: str) -> tuple[int, str]:
    """Why a verified token's events or answer were refused by the group commit: 410 for a gone
    link, 404 for one that never opened this render. Asked only on refusal: stored batches pay nothing."""

    def gone() -> bool:
        with state.runtime.db.session() as session:
            return link_gone(session, token, session.get(Render, render_id))

    return (410, GONE_DETAIL) if await run_in_threadpool(gone) else (404, UNKNOWN_DETAIL)
