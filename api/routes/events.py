"""Viewer events from the tracker: JSON or text/plain (``sendBeacon``), deduplicated."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from api.deps import SessionDep, StateDep
from api.schemas import EventsAccepted
from pvideo.campaigns import render_by_token
from pvideo.tracking import EventBatch, record_events

router = APIRouter(prefix="/api/events", tags=["events"])

MAX_BODY = 64 * 1024

_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": EventBatch.model_json_schema()},
    "text/plain": {"schema": {"type": "string", "description": "the same JSON, as sent by sendBeacon"}},
}}}


@router.post("", response_model=EventsAccepted, openapi_extra=_BODY)
async def post_events(request: Request, state: StateDep, session: SessionDep) -> EventsAccepted:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"event batch larger than {MAX_BODY // 1024} KB")
    try:
        batch = EventBatch.model_validate_json(bytes(body))
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False, include_input=False)) from None
    render = render_by_token(session, state.tokens, batch.token)
    if render is None:
        raise HTTPException(404, "unknown viewer token")
    stored, duplicates = record_events(session, render, batch.events)
    return EventsAccepted(stored=stored, duplicates=duplicates)
