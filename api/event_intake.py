"""``POST /api/events`` and ``POST /api/responses`` on a short path: the busiest requests, answered
without the framework's routing.

Viewer events are most of a server's requests (a landing page sends a batch every few seconds
while the video plays), and FastAPI's routing, dependency solving and exception layers cost more
CPU than the batch itself. ``EventIntake`` is a plain ASGI layer just inside the app's own
middleware (body limits and timeouts, the JSON scan, security headers: they apply unchanged). It
answers an ordinary batch itself: reads the body, checks it exactly as the route does
(``pvideo.scene.limits.check_json``, ``EventBatch``), verifies the token, spends the link's rate
limit, hands the batch to the group commit (``pvideo.tracking.groupcommit``) and answers 200 with
the route's body and headers once the batch is committed.

Anything else goes to the app as it came, its body replayed: another method or path, a query
string, a body that is not complete and within ``MAX_BODY`` in what was read, or a batch that
will be refused (bad JSON, a bad token, over the rate). So every refusal is the route's own
(``api.routes.events.post_events``), with its status, detail and headers. Only the refusals that
come after the batch was handed to the writer are answered here, in the same shape as the app's
error handler: 503 when the database is down, 404 when the token no longer opens the render
(410 when that link is gone: revoked, erased or expired, ``api.gone``).

A viewer's answer (``POST /api/responses``, ``api.routes.responses.post_response``) takes the
same path to its own group commit (``pvideo.tracking.responses.AnswerWriter``), and once stored
is answered 201, 200 (a repeat) or, as the route answers them, 409 and 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from api.errors import DATABASE_DOWN, DATABASE_RETRY_SECONDS, is_database_outage, short_detail
from api.gone import token_refusal
from api.routes.events import CORS, MAX_BODY
from api.routes.responses import REFUSALS
from api.schemas import EventsAccepted
from api.state import AppState
from pvideo.privacy.consent import honoured_consent
from pvideo.scene.limits import InputLimitError, check_json
from pvideo.tracking.devices import device_class
from pvideo.tracking.events import EventBatch, Ingested
from pvideo.tracking.groupcommit import Pending
from pvideo.tracking.responses import MAX_BODY as MAX_ANSWER_BODY
from pvideo.tracking.responses import AnswerIn, AnswerStatus, AnswerWriter

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/api/events"
ANSWERS_PATH = "/api/responses"
_CORS_RAW = [(k.lower().encode(), v.encode()) for k, v in CORS.items()]


class EventIntake:
    def __init__(self, app: ASGIApp, *, state: AppState, answers: AnswerWriter | None = None) -> None:
        self.app = app
        self.state = state
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or (path != PATH and (path != ANSWERS_PATH or self.answers is None))
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        limit = MAX_BODY if path == PATH else MAX_ANSWER_BODY
        read: list[Message] = []
        refusal: HTTPException | None = None
        size, complete = 0, False
        try:
            while size <= limit:
                message = await receive()
                read.append(message)
                if message["type"] != "http.request":
                    break
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    complete = True
                    break
        except HTTPException as exc:  # the JSON scan refused the body as it came in
            refusal = exc
        if complete and size <= limit and refusal is None:
            body = read[0]["body"] if len(read) == 1 else b"".join(m.get("body", b"") for m in read)
            store = self._store if path == PATH else self._store_answer
            if await store(scope, body, send):
                return
        await self.app(scope, _replay(read, refusal, receive), send)

    async def _store(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Store and answer an acceptable batch (True); False, having sent nothing, for one the route refuses."""
        try:
            check_json(body, "body")
            batch = EventBatch.model_validate_json(body)
        except (InputLimitError, ValidationError):
            return False
        state = self.state
        render_id = state.tokens.verify(batch.token)
        if render_id is None or state.event_limiter.take(render_id, len(batch.events)) > 0:
            return False
        try:
            consent = _consent(scope, batch.consent)
            result = await state.events.submit(
                Pending(batch.token, render_id, batch.events, batch.sent_at, device_class(_agent(scope)), consent)
            )
        except Exception as exc:
            if not is_database_outage(exc):
                raise
            # the tracker keeps the batch queued and sends it again after Retry-After
            await _refuse(scope, send, 503, DATABASE_DOWN, {"Retry-After": str(DATABASE_RETRY_SECONDS)})
            return True
        if result is None:
            await _refuse(scope, send, *await token_refusal(state, batch.token, render_id))
            return True
        await _json(send, 200, _accepted(result))
        return True

    async def _store_answer(self, scope: Scope, body: bytes, send: Send) -> bool:
        """``POST /api/responses`` as its route answers it (``api.routes.responses.post_response``);
        False, having sent nothing, for a body the route refuses before storing."""
        assert self.answers is not None
        try:
            check_json(body, "body")
            answer = AnswerIn.model_validate_json(body)
        except (InputLimitError, ValidationError):
            return False
        state = self.state
        render_id = state.tokens.verify(answer.token)
        if render_id is None or state.event_limiter.take(render_id, 1) > 0:
            return False
        answer = answer.model_copy(update={"consent": _consent(scope, answer.consent)})
        try:
            result = await self.answers.answer(answer, render_id, device_class(_agent(scope)))
        except Exception as exc:
            if not is_database_outage(exc):
                raise
            await _refuse(scope, send, 503, DATABASE_DOWN, {"Retry-After": str(DATABASE_RETRY_SECONDS)})
            return True
        if result is None:
            await _refuse(scope, send, *await token_refusal(state, answer.token, render_id))
        elif result.status == AnswerStatus.STORED:
            await _json(send, 201, b'{"status":"stored","id":%d}' % (result.response_id or 0))
        elif result.status == AnswerStatus.DUPLICATE:
            await _json(send, 200, b'{"status":"duplicate"}')
        else:
            await _refuse(scope, send, REFUSALS.get(result.status, 422), result.detail or "refused")
        return True


def _agent(scope: Scope) -> str | None:
    return _header(scope, b"user-agent")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _consent(scope: Scope, claimed: bool) -> bool:
    """The viewer's agreement as the server takes it (``pvideo.privacy.consent``)."""
    return honoured_consent(claimed, sec_gpc=_header(scope, b"sec-gpc"), dnt=_header(scope, b"dnt"))


async def _json(send: Send, status: int, content: bytes) -> None:
    headers = [(b"content-length", str(len(content)).encode()), (b"content-type", b"application/json"), *_CORS_RAW]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _accepted(result: Ingested) -> bytes:
    """The route's ``EventsAccepted`` body."""
    if not result.failed:
        return b'{"stored":%d,"duplicates":%d,"failed":0,"errors":[]}' % (result.stored, result.duplicates)
    errors = [{"index": i, "reason": r} for i, r in result.failed]
    accepted = EventsAccepted(stored=result.stored, duplicates=result.duplicates, failed=len(errors), errors=errors)
    return accepted.model_dump_json().encode()


async def _refuse(scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """What the app's ``HTTPException`` handler answers for the route's ``_reject``."""

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    response = JSONResponse({"detail": short_detail(detail)}, status_code=status, headers={**CORS, **(headers or {})})
    await response(scope, nothing, send)


def _replay(read: list[Message], refusal: HTTPException | None, receive: Receive) -> Receive:
    """``receive`` as if nothing had been read: the messages read, then the refusal raised while
    reading (if any), then whatever the client sends next."""
    pending = list(read)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        if refusal is not None:
            raise refusal
        return await receive()

    return replayed
