"""Viewer events in (batched, sendBeacon-safe, CORS-open) and raw events out (cursor export)."""

from __future__ import annotations

import json
import math
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from api.deps import AnalyticsKeyDep, SessionDep, StateDep
from api.errors import DATABASE_DOWN, DATABASE_RETRY_SECONDS, is_database_outage
from api.gone import token_refusal
from api.schemas import EventsAccepted, FailedEventPublic
from pvideo.access import audit
from pvideo.db.models import FailedEvent
from pvideo.jobs.campaigns import get_campaign
from pvideo.privacy.consent import honoured_consent
from pvideo.scene.limits import InputLimitError, check_json
from pvideo.tracking.devices import device_class
from pvideo.tracking.events import EventBatch, describe
from pvideo.tracking.export import decode_cursor, encode_cursor, export_page, to_csv, to_ndjson
from pvideo.tracking.groupcommit import Pending

router = APIRouter(prefix="/api/events", tags=["events"])

MAX_BODY = 64 * 1024
MAX_ID = 2**63 - 1  # event ids are 64-bit integers
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": EventBatch.model_json_schema()},
            "text/plain": {"schema": {"type": "string", "description": "the same JSON, as sent by sendBeacon"}},
        },
    }
}


def _reject(status: int, detail: object, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status, detail, headers={**CORS, **(headers or {})})


async def _read_batch(request: Request) -> EventBatch:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            raise _reject(413, f"event batch larger than {MAX_BODY // 1024} KB")
    try:
        check_json(bytes(body), "body")  # sendBeacon's text/plain bodies skip the app-wide JSON check
        return EventBatch.model_validate_json(bytes(body))
    except InputLimitError as exc:
        raise _reject(422, str(exc)) from None
    except ValidationError as exc:
        raise _reject(422, describe(exc)) from None


@router.options("", include_in_schema=False)
def preflight() -> Response:
    return Response(
        status_code=204,
        headers={
            **CORS,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


@router.post("", response_model=EventsAccepted, openapi_extra=_BODY)
async def post_events(request: Request, state: StateDep) -> Response:
    """Store a batch (≤ 100 events, ≤ 64 KB). Bad events are kept in failed_events with the reason;
    the answer counts stored, duplicate and failed events, and comes after the commit (concurrent
    batches share it: ``pvideo.tracking.groupcommit``). 429 + Retry-After past the per-link rate."""
    batch = await _read_batch(request)
    render_id = state.tokens.verify(batch.token)
    if render_id is None:
        raise _reject(404, "unknown viewer token")
    wait = state.event_limiter.take(render_id, len(batch.events))
    if wait > 0:
        raise _reject(429, "too many events for this link", {"Retry-After": str(math.ceil(wait))})
    headers = request.headers
    consent = honoured_consent(batch.consent, sec_gpc=headers.get("sec-gpc"), dnt=headers.get("dnt"))
    try:
        result = await state.events.submit(
            Pending(
                batch.token, render_id, batch.events, batch.sent_at, device_class(headers.get("user-agent")), consent
            )
        )
    except Exception as exc:
        if not is_database_outage(exc):
            raise
        # the tracker keeps the batch queued and sends it again after Retry-After
        raise _reject(503, DATABASE_DOWN, {"Retry-After": str(DATABASE_RETRY_SECONDS)}) from None
    if result is None:
        raise _reject(*await token_refusal(state, batch.token, render_id))
    accepted = EventsAccepted(
        stored=result.stored,
        duplicates=result.duplicates,
        failed=len(result.failed),
        errors=[{"index": i, "reason": r} for i, r in result.failed],
    )
    return Response(accepted.model_dump_json(), media_type="application/json", headers=CORS)


@router.get(
    "",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "one event per line, by id"}
    },
)
def export_events(
    session: SessionDep,
    state: StateDep,
    key: AnalyticsKeyDep,
    campaign_id: str = Query(max_length=32),
    after: str | None = Query(None, max_length=100, description="X-Next-Cursor of the previous page"),
    limit: int = Query(1000, ge=1, le=10_000),
    format: Literal["ndjson", "csv"] = "ndjson",
) -> Response:
    """Raw events of a campaign in stable order. Resume with ``after=`` the ``X-Next-Cursor`` header;
    an empty page keeps the cursor, so polling with it later returns only new events."""
    get_campaign(session, campaign_id)
    try:
        after_id = decode_cursor(after)
    except ValueError as exc:
        raise HTTPException(422, f"after: {exc}") from None
    if after_id > MAX_ID:
        raise HTTPException(422, "after: malformed cursor")
    rows = export_page(
        session, campaign_id, after=after_id, limit=limit, settle=state.runtime.settings.event_export_settle_seconds
    )
    cursor = encode_cursor(rows[-1]["id"]) if rows else (after or encode_cursor(0))
    if rows:  # an empty page (a poller waiting for new events) hands out nothing: no entry
        audit.record(
            session, actor=audit.key_actor(key), role="analytics", action=audit.Action.EVENTS_EXPORT,
            target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"format": format, "events": len(rows)},
        )  # fmt: skip
    headers = {"X-Next-Cursor": cursor, "X-Has-More": "true" if len(rows) == limit else "false"}
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(to_ndjson(rows), media_type="application/x-ndjson", headers=headers)


@router.get("/failed", response_model=list[FailedEventPublic])
def failed_events(
    session: SessionDep,
    _: AnalyticsKeyDep,
    campaign_id: str = Query(max_length=32),
    after: int = Query(0, ge=0, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
) -> list[FailedEventPublic]:
    """Events that failed validation, with the reason and the payload as received (by id)."""
    get_campaign(session, campaign_id)
    rows = session.scalars(
        select(FailedEvent)
        .where(FailedEvent.campaign_id == campaign_id, FailedEvent.id > after)
        .order_by(FailedEvent.id)
        .limit(limit)
    )
    return [
        FailedEventPublic(
            id=r.id,
            render_id=r.render_id,
            event_id=r.event_id,
            reason=r.reason,
            payload=_json_or_text(r.payload),
            received_at=r.received_at,
        )
        for r in rows
    ]


def _json_or_text(payload: str) -> object:
    try:
        return json.loads(payload)
    except ValueError:
        return payload
