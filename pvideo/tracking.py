"""Viewer events: validated, deduplicated by the client's ``event_id``, stored."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pvideo.models import Event, Render, utcnow

EventType = Literal["page_view", "play", "pause", "progress", "ended", "cta_click"]
MAX_BATCH = 100


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=100)
    type: EventType
    position: float | None = Field(default=None, ge=0, le=86_400)
    cta_id: str | None = Field(default=None, max_length=100)
    client_ts: datetime | None = None


class EventBatch(BaseModel):
    """What the tracker POSTs (JSON, or text/plain JSON from ``sendBeacon``)."""

    token: str = Field(min_length=1, max_length=200)
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


def record_events(session: Session, render: Render, events: list[EventIn]) -> tuple[int, int]:
    """Insert ``events`` for ``render``; return (stored, duplicates).

    A repeated ``event_id`` for the same render (a retried batch, a beacon sent
    twice) is ignored by the database's unique constraint, so dedupe holds
    across concurrent requests too.
    """
    received = utcnow()
    unique: dict[str, EventIn] = {}
    for ev in events:
        unique.setdefault(ev.event_id, ev)
    rows = [
        {"campaign_id": render.campaign_id, "render_id": render.id, "event_id": ev.event_id,
         "type": ev.type, "position": ev.position, "cta_id": ev.cta_id,
         "client_ts": ev.client_ts, "received_at": received}
        for ev in unique.values()
    ]
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (insert(Event).values(rows)
                 .on_conflict_do_nothing(index_elements=["render_id", "event_id"])
                 .returning(Event.id))
    stored = len(session.execute(statement).all())
    return stored, len(events) - stored
