"""Viewer answers in: ``POST /api/responses`` (the player; CORS-open, sendBeacon-safe) and the
landing page's forms without JavaScript (``POST /v/{token}/answers/{interaction_id}``).

Both check and store through ``pvideo.tracking.responses`` (the events' group commit, one
transaction per group of concurrent answers, acknowledged after the commit). The form route
answers a browser: 303 back to the page on success, else a small HTML page saying what is wrong
(the values never travel in a URL: they may be personal data).
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import escape
from pydantic import ValidationError

from api.deps import StateDep
from api.errors import DATABASE_DOWN, DATABASE_RETRY_SECONDS, is_database_outage
from api.gone import token_refusal
from api.routes.events import CORS, preflight
from api.state import AppState
from pvideo.jobs.campaigns import render_by_token
from pvideo.plan.interactive import find
from pvideo.privacy.consent import honoured_consent
from pvideo.scene.answers import form_answer
from pvideo.scene.limits import InputLimitError, check_json
from pvideo.tracking.devices import device_class
from pvideo.tracking.events import describe
from pvideo.tracking.responses import MAX_BODY, Answered, AnswerIn, AnswerStatus, AnswerWriter, asked_of

router = APIRouter(tags=["responses"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": AnswerIn.model_json_schema()},
            "text/plain": {"schema": {"type": "string", "description": "the same JSON, as sent by sendBeacon"}},
        },
    }
}
_ANSWERS: dict[int | str, dict[str, Any]] = {
    201: {"description": 'stored: `{"status": "stored", "id": ...}`'},
    200: {"description": 'a repeat of a stored event_id: `{"status": "duplicate"}`'},
    404: {"description": "unknown viewer token"},
    403: {"description": "personal fields the campaign may not record without the viewer's consent"},
    409: {"description": "this interaction was already answered in this session (another event_id)"},
    422: {"description": "the answer does not fit the interaction: `detail` names the field"},
}
REFUSALS = {AnswerStatus.CONFLICT: 409, AnswerStatus.UNCONSENTED: 403}  # any other refusal: 422
InteractionId = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(max_length=200)]


def writer(request: Request) -> AnswerWriter:
    """The app's answer writer (``api.main`` makes one per app)."""
    found: AnswerWriter = request.app.state.answers
    return found


def _reject(status: int, detail: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status, detail, headers={**CORS, **(headers or {})})


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` past ``limit`` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def _store(state: AppState, request: Request, answer: AnswerIn, render_id: str) -> Answered | None:
    """Spend the link's rate limit, then store; ``HTTPException`` 429 or 503 (with CORS headers).
    The answer's consent counts as the request's headers allow (``pvideo.privacy.consent``)."""
    wait = state.event_limiter.take(render_id, 1)
    if wait > 0:
        raise _reject(429, "too many requests for this link", {"Retry-After": str(math.ceil(wait))})
    headers = request.headers
    consent = honoured_consent(answer.consent, sec_gpc=headers.get("sec-gpc"), dnt=headers.get("dnt"))
    answer = answer.model_copy(update={"consent": consent})
    try:
        return await writer(request).answer(answer, render_id, device_class(request.headers.get("user-agent")))
    except Exception as exc:
        if not is_database_outage(exc):
            raise
        raise _reject(503, DATABASE_DOWN, {"Retry-After": str(DATABASE_RETRY_SECONDS)}) from None


router.add_api_route("/api/responses", preflight, methods=["OPTIONS"], include_in_schema=False)  # as events'


@router.post("/api/responses", status_code=201, openapi_extra=_BODY, responses=_ANSWERS)
async def post_response(request: Request, state: StateDep) -> Response:
    """Store one viewer answer (≤ 16 KB), checked against what that render's scene asks; the
    answer comes after the commit. Shapes per interaction type are in docs/analytics.md."""
    body = await _body(request, MAX_BODY)
    if body is None:
        raise _reject(413, f"answer larger than {MAX_BODY // 1024} KB")
    try:
        check_json(body, "body")  # sendBeacon's text/plain bodies skip the app-wide JSON check
        answer = AnswerIn.model_validate_json(body)
    except InputLimitError as exc:
        raise _reject(422, str(exc)) from None
    except ValidationError as exc:
        raise _reject(422, describe(exc)) from None
    render_id = state.tokens.verify(answer.token)
    if render_id is None:
        raise _reject(404, "unknown viewer token")
    result = await _store(state, request, answer, render_id)
    if result is None:
        raise _reject(*await token_refusal(state, answer.token, render_id))
    if result.status == AnswerStatus.STORED:
        return JSONResponse({"status": "stored", "id": result.response_id}, status_code=201, headers=CORS)
    if result.status == AnswerStatus.DUPLICATE:
        return JSONResponse({"status": "duplicate"}, headers=CORS)
    raise _reject(REFUSALS.get(result.status, 422), result.detail or "refused")


@router.post(
    "/v/{token}/answers/{interaction_id}",
    response_class=HTMLResponse,
    status_code=303,
    responses={303: {"description": "back to the landing page, `?answered={interaction_id}#pvideo-answers`"}},
)
async def post_form_answer(token: Token, interaction_id: InteractionId, request: Request, state: StateDep) -> Response:
    """An answer from the landing page's form without JavaScript (form-encoded; field names in
    docs/analytics.md), checked and stored as ``POST /api/responses`` does."""
    back = f"/v/{quote(token, safe='')}"
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return _page(415, "This form could not be read", "Send it from the video's page.", back)
    body = await _body(request, MAX_BODY)
    if body is None:
        return _page(413, "That answer is too long", f"Answers are at most {MAX_BODY // 1024} KB.", back)
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return _page(422, "This form could not be read", "Send it again from the video's page.", back)

    def load() -> tuple[str, AnswerIn] | str | None:
        """The render's id and the answer the form means; why not (text); ``None``: no such video."""
        with state.runtime.db.session() as session:
            render = render_by_token(session, state.tokens, token)
            if render is None:
                return None
            interaction = find(asked_of(render), interaction_id)
            if interaction is None:
                return f"interaction_id: {interaction_id!r} is not an interaction of this video"
            event_id = dict(form).get("event_id") or uuid.uuid4().hex
            answer = form_answer(interaction, form)
            return render.id, AnswerIn(token=token, event_id=event_id, interaction_id=interaction_id, answer=answer)

    try:
        loaded = await run_in_threadpool(load)
    except ValidationError as exc:
        return _page(422, "That answer could not be saved", describe(exc), back)
    except Exception as exc:
        if not is_database_outage(exc):
            raise
        return _unavailable(back)
    if loaded is None:
        return _page(404, "Video not found", "This link does not open a video any more.", None)
    if isinstance(loaded, str):
        return _page(422, "That answer could not be saved", loaded, back)
    render_id, answer = loaded
    try:
        result = await _store(state, request, answer, render_id)
    except HTTPException as exc:
        if exc.status_code == 503:
            return _unavailable(back)
        retry = (exc.headers or {}).get("Retry-After", "5")
        return _page(exc.status_code, "Please try again shortly", str(exc.detail), back, {"Retry-After": retry})
    if result is None:
        return _page(404, "Video not found", "This link does not open a video any more.", None)
    if result.status in (AnswerStatus.STORED, AnswerStatus.DUPLICATE):
        target = f"{back}?answered={quote(interaction_id, safe='')}#pvideo-answers"
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    if result.status == AnswerStatus.CONFLICT:
        return _page(409, "You already answered this", "Thank you: your first answer is kept.", back)
    if result.status == AnswerStatus.UNCONSENTED:
        return _page(403, "Your details were not saved", result.detail or "", back)
    return _page(422, "That answer could not be saved", result.detail or "", back)


def _unavailable(back: str) -> HTMLResponse:
    retry = {"Retry-After": str(DATABASE_RETRY_SECONDS)}
    return _page(503, "Please try again shortly", "Your answer could not be saved just now.", back, retry)


def _page(
    status: int, title: str, message: str, back: str | None, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A small page for a browser, everything in it escaped."""
    link = f'<p><a href="{escape(back)}#pvideo-answers">Back to the video</a></p>' if back else ""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f'<p role="alert">{escape(message)}</p>{link}</main></body></html>'
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})
