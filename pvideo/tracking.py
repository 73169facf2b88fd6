"""Viewer events: each validated on its own, deduplicated by ``event_id``, stored.

The event model follows Snowplow's media schema (``page_view``, ``ready``,
``play``, ``pause``, ``seek_start``/``seek_end``, ``percent_progress``,
``ping``, ``end``, ``cta_impression``, ``cta_click``, ``fullscreen``,
``error``); ``progress`` and ``ended`` from the first tracker are still
accepted. A bad event never sinks its batch: it is stored in
``failed_events`` with the reason, and the good ones are stored.

Three clocks: ``client_ts`` (the device's clock when the event happened),
the batch's ``sent_at`` (the device's clock when it was sent) and
``received_at`` (ours). ``occurred_at = received_at - (sent_at - client_ts)``
corrects a skewed device clock and keeps the time of an event that waited in
the retry queue (Snowplow's derived timestamp).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pvideo.models import Event, FailedEvent, Render, utcnow
from pvideo.rollups import refresh_sessions

EventType = Literal["page_view", "ready", "play", "pause", "seek_start", "seek_end", "percent_progress",
                    "ping", "end", "cta_impression", "cta_click", "fullscreen", "error",
                    "progress", "ended"]
POSITION_TYPES = frozenset({"play", "pause", "seek_start", "seek_end", "percent_progress", "ping", "end"})
CTA_TYPES = frozenset({"cta_impression", "cta_click"})
MAX_BATCH = 100
MAX_PAYLOAD_CHARS = 4000
MAX_QUEUED_AGE = timedelta(days=30)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=100)
    type: EventType
    position: float | None = Field(default=None, ge=0, le=86_400)
    cta_id: str | None = Field(default=None, max_length=100)
    client_ts: datetime | None = None
    session_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    seq: int | None = Field(default=None, ge=0, le=2_000_000_000)
    percent: int | None = Field(default=None, ge=0, le=100)
    duration: float | None = Field(default=None, gt=0, le=86_400)
    detail: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _fields_for_type(self) -> "EventIn":
        if self.type in POSITION_TYPES and self.position is None:
            raise ValueError(f"a {self.type} event needs a position")
        if self.type in CTA_TYPES and not self.cta_id:
            raise ValueError(f"a {self.type} event needs a cta_id")
        if self.type == "percent_progress" and (self.percent is None or self.percent % 10 or not self.percent):
            raise ValueError("a percent_progress event needs percent in 10, 20, ... 100")
        return self


class EventBatch(BaseModel):
    """What the tracker POSTs (JSON, or text/plain JSON from ``sendBeacon``).

    Events stay raw dicts here: each is validated on its own by ``ingest``.
    """

    token: str = Field(min_length=1, max_length=200)
    sent_at: datetime | None = None
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


@dataclass
class Ingested:
    stored: int = 0
    duplicates: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def check_event(raw: Any, render: Render) -> EventIn:
    """One event validated against the schema and against ``render``; ``ValueError`` says why not."""
    try:
        event = EventIn.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(describe(exc)) from None
    if event.type in CTA_TYPES and event.cta_id not in {h.get("id") for h in render.hotspots or []}:
        raise ValueError(f"cta_id {event.cta_id!r} is not a CTA of this video")
    if render.duration and event.position is not None and event.position > render.duration * 1.05 + 1:
        raise ValueError(f"position {event.position:g} is beyond the video's end ({render.duration:g} s)")
    return event


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def occurred_at(client_ts: datetime | None, sent_at: datetime | None, received: datetime) -> datetime:
    """The event time on our clock: the device's delay between event and send, applied to receipt."""
    if client_ts is None or sent_at is None or client_ts.tzinfo is None or sent_at.tzinfo is None:
        return received
    waited = sent_at - client_ts
    if waited < timedelta(0) or waited > MAX_QUEUED_AGE:
        return received
    return received - waited


def ingest(session: Session, render: Render, raw_events: list[Any], *, sent_at: datetime | None = None,
           device: str | None = None, received: datetime | None = None) -> Ingested:
    """Validate each event on its own; store the good ones, keep the bad ones with their reason."""
    result = Ingested()
    good: list[EventIn] = []
    failed_rows = []
    received = received or utcnow()
    for index, raw in enumerate(raw_events):
        try:
            good.append(check_event(raw, render))
        except ValueError as exc:
            result.failed.append((index, str(exc)))
            failed_rows.append(_failed_row(render, raw, str(exc), received))
    if failed_rows:
        session.execute(FailedEvent.__table__.insert(), failed_rows)
    if good:
        result.stored, result.duplicates = record_events(session, render, good, sent_at=sent_at,
                                                         device=device, received=received)
    return result


def _failed_row(render: Render | None, raw: Any, reason: str, received: datetime) -> dict[str, Any]:
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    payload = json.dumps(raw, default=str, ensure_ascii=False)
    return {"campaign_id": render.campaign_id if render else None, "render_id": render.id if render else None,
            "event_id": event_id[:100] if isinstance(event_id, str) else None, "reason": reason[:2000],
            "payload": payload[:MAX_PAYLOAD_CHARS], "received_at": received}


def record_events(session: Session, render: Render, events: list[EventIn], *, sent_at: datetime | None = None,
                  device: str | None = None, received: datetime | None = None) -> tuple[int, int]:
    """Insert ``events`` for ``render``; return (stored, duplicates).

    A repeated ``event_id`` for the same render (a retried batch, a beacon sent
    twice) is ignored by the database's unique constraint, so dedupe holds
    across concurrent requests too. The touched sessions' rollups are rebuilt
    in the same transaction.
    """
    received = received or utcnow()
    unique: dict[str, EventIn] = {}
    for ev in events:
        unique.setdefault(ev.event_id, ev)
    rows = [
        {"campaign_id": render.campaign_id, "render_id": render.id, "event_id": ev.event_id,
         "type": ev.type, "position": ev.position, "cta_id": ev.cta_id, "client_ts": ev.client_ts,
         "received_at": received, "session_id": ev.session_id, "seq": ev.seq, "percent": ev.percent,
         "media_duration": ev.duration, "detail": ev.detail, "device": device,
         "occurred_at": occurred_at(ev.client_ts, sent_at, received)}
        for ev in unique.values()
    ]
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    # executemany of one cached statement (SQLAlchemy batches it into multi-row INSERTs with
    # RETURNING): compiling a fresh VALUES list per batch costs more than the database work
    statement = (insert(Event).on_conflict_do_nothing(index_elements=["render_id", "event_id"])
                 .returning(Event.id))
    stored = len(session.execute(statement, rows).all())
    if stored:
        refresh_sessions(session, render, {row["session_id"] for row in rows})
    return stored, len(events) - stored
