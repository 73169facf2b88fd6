"""Viewer events: each validated on its own, deduplicated by ``event_id``, stored.

The event model follows Snowplow's media schema (``page_view``, ``ready``,
``play``, ``pause``, ``seek_start``/``seek_end``, ``percent_progress``,
``ping``, ``end``, ``cta_impression``, ``cta_click``, ``fullscreen``,
``error``); ``progress`` and ``ended`` from the first tracker are still
accepted. A bad event never sinks its batch: it is stored in
``failed_events`` with the reason, and the good ones are stored.

The player adds ``interaction_shown`` and ``interaction_skipped`` (with the
``interaction_id``, checked against the interactions that render asks, and
for a skip the ``detail`` skip, escape or timeout). ``interaction_answered``
and ``branch_chosen`` are written by the server when an answer is stored
(``pvideo.tracking.responses``), never accepted from a page. Stored events
that are webhook events (a CTA click, a skip, the end) are published to the
campaign's subscriptions in the same transaction (``pvideo.tracking.writeback``).

Three clocks: ``client_ts`` (the device's clock when the event happened),
the batch's ``sent_at`` (the device's clock when it was sent) and
``received_at`` (ours). ``occurred_at = received_at - (sent_at - client_ts)``
corrects a skewed device clock and keeps the time of an event that waited in
the retry queue (Snowplow's derived timestamp).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from pvideo.db.bulk import insert_rows, on_conflict, one_of
from pvideo.db.models import Event, FailedEvent, Render, utcnow
from pvideo.errors import PermanentError
from pvideo.plan.interactive import render_interactive
from pvideo.tracking.anonymity import anonymous_event, anonymous_payload, campaign_modes, records_personal
from pvideo.tracking.rollups import apply as apply_rollups
from pvideo.tracking.writeback import publish_events

EventType = Literal[
    "page_view",
    "ready",
    "play",
    "pause",
    "seek_start",
    "seek_end",
    "percent_progress",
    "ping",
    "end",
    "cta_impression",
    "cta_click",
    "fullscreen",
    "error",
    "progress",
    "ended",
    "interaction_shown",
    "interaction_skipped",
    "interaction_answered",
    "branch_chosen",
]


class InteractionEvent(StrEnum):
    """The events about an interaction: the player sends the first two; the server writes the
    others when it stores an answer."""

    SHOWN = "interaction_shown"
    SKIPPED = "interaction_skipped"
    ANSWERED = "interaction_answered"
    BRANCH_CHOSEN = "branch_chosen"


PLAYER_INTERACTION_TYPES = frozenset({InteractionEvent.SHOWN.value, InteractionEvent.SKIPPED.value})
SERVER_INTERACTION_TYPES = frozenset({InteractionEvent.ANSWERED.value, InteractionEvent.BRANCH_CHOSEN.value})
SKIP_REASONS = ("skip", "escape", "timeout")
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
    interaction_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _fields_for_type(self) -> EventIn:
        if any("\x00" in v for v in (self.event_id, self.cta_id, self.detail, self.interaction_id) if v):
            raise ValueError("text must not contain NUL characters")  # PostgreSQL text cannot hold them
        if self.type in POSITION_TYPES and self.position is None:
            raise ValueError(f"a {self.type} event needs a position")
        if self.type in CTA_TYPES and not self.cta_id:
            raise ValueError(f"a {self.type} event needs a cta_id")
        if self.type == "percent_progress" and (self.percent is None or self.percent % 10 or not self.percent):
            raise ValueError("a percent_progress event needs percent in 10, 20, ... 100")
        if self.type in SERVER_INTERACTION_TYPES:
            raise ValueError(
                f"{self.type} events are written by the server when an answer is stored (POST /api/responses)"
            )
        if self.type in PLAYER_INTERACTION_TYPES and not self.interaction_id:
            raise ValueError(f"a {self.type} event needs an interaction_id")
        if self.type == InteractionEvent.SKIPPED.value and self.detail is not None and self.detail not in SKIP_REASONS:
            raise ValueError(f"detail: an interaction_skipped event says why: {', '.join(SKIP_REASONS)}")
        return self


class EventBatch(BaseModel):
    """What the tracker POSTs (JSON, or text/plain JSON from ``sendBeacon``).

    Events stay raw dicts here: each is validated on its own by ``ingest``.
    """

    token: str = Field(min_length=1, max_length=200)
    sent_at: datetime | None = None
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)
    consent: bool = Field(
        default=False,
        description="the viewer accepted tracking (a campaign in consent mode); ignored with Sec-GPC: 1 or DNT: 1",
    )


@dataclass
class Ingested:
    stored: int = 0
    duplicates: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def check_event(raw: Any, render: Render, asked: Collection[str] = ()) -> EventIn:
    """One event validated against the schema and against ``render`` (``asked``: the ids of the
    interactions it asks); ``ValueError`` says why not."""
    try:
        event = EventIn.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(describe(exc)) from None
    if event.type in CTA_TYPES and event.cta_id not in {h.get("id") for h in render.hotspots or []}:
        raise ValueError(f"cta_id {event.cta_id!r} is not a CTA of this video")
    if event.type in PLAYER_INTERACTION_TYPES and event.interaction_id not in asked:
        raise ValueError(f"interaction_id {event.interaction_id!r} is not an interaction of this video")
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


@dataclass
class Batch:
    """One request's events for ``render`` (a ``Render``, or any row with its id, campaign_id,
    duration, hotspots and optionally its campaign's ``tracking``); ``consent``: the viewer's
    agreement as the server honours it (``pvideo.privacy.consent``)."""

    render: Any
    events: list[Any]
    sent_at: datetime | None = None
    device: str | None = None
    consent: bool = False


def ingest(
    session: Session,
    render: Render,
    raw_events: list[Any],
    *,
    sent_at: datetime | None = None,
    device: str | None = None,
    received: datetime | None = None,
    consent: bool = False,
) -> Ingested:
    """Validate each event on its own; store the good ones, keep the bad ones with their reason."""
    return ingest_many(session, [Batch(render, raw_events, sent_at, device, consent)], received=received)[0]


def ingest_many(session: Session, batches: list[Batch], *, received: datetime | None = None) -> list[Ingested]:
    """``ingest`` for several batches (several requests) in one transaction: one statement per step,
    whatever the number of batches (group commit). A batch its campaign may not record personally
    (``pvideo.tracking.anonymity``) is stored anonymous and published to no webhook."""
    received = received or utcnow()
    results = [Ingested() for _ in batches]
    failed_rows, rows, owner = [], [], {}
    modes = campaign_modes(session, (b.render for b in batches))
    anonymous: set[tuple[str, str]] = set()
    asked = asked_interactions(
        session,
        {
            b.render.id
            for b in batches
            if any(isinstance(e, dict) and e.get("type") in PLAYER_INTERACTION_TYPES for e in b.events)
        },
    )
    for n, (batch, result) in enumerate(zip(batches, results, strict=True)):
        render = batch.render
        personal = records_personal(modes.get(render.campaign_id), batch.consent)
        for index, raw in enumerate(batch.events):
            try:
                event = check_event(raw, render, asked.get(render.id, {}))
            except ValueError as exc:
                result.failed.append((index, str(exc)))
                failed_rows.append(_failed_row(render, raw if personal else anonymous_payload(raw), str(exc), received))
                continue
            result.duplicates += 1  # until stored
            if (render.id, event.event_id) not in owner:  # the first batch to carry an event owns it
                owner[(render.id, event.event_id)] = n
                row = _event_row(render, event, batch.sent_at, batch.device, received)
                rows.append(row if personal else anonymous_event(row))
                if not personal:
                    anonymous.add((render.id, event.event_id))
    if failed_rows:
        session.execute(FailedEvent.__table__.insert(), failed_rows)
    stored = _insert_events(session, rows)
    for row in stored:
        result = results[owner[(row["render_id"], row["event_id"])]]
        result.stored += 1
        result.duplicates -= 1
    apply_rollups(session, stored, {b.render.id: (b.render.campaign_id, b.render.duration) for b in batches})
    publish_events(session, [r for r in stored if (r["render_id"], r["event_id"]) not in anonymous], asked)
    return results


def asked_interactions(session: Session, render_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Per render, the interactions its viewer is asked (``pvideo.plan.interactive``): id -> type.
    A render whose scene no longer reads has none."""
    ids = list(render_ids)
    if not ids:
        return {}
    query = select(Render).options(selectinload(Render.campaign)).where(one_of(session.connection(), Render.id, ids))
    return {render.id: _interaction_types(render) for render in session.scalars(query)}


def _interaction_types(render: Render) -> dict[str, str]:
    try:
        return {i["id"]: i["type"] for i in render_interactive(render)["interactions"]}
    except (ValueError, PermanentError):
        return {}


def _event_row(
    render: Any, ev: EventIn, sent_at: datetime | None, device: str | None, received: datetime
) -> dict[str, Any]:
    return {
        "campaign_id": render.campaign_id,
        "render_id": render.id,
        "event_id": ev.event_id,
        "type": ev.type,
        "position": ev.position,
        "cta_id": ev.cta_id,
        "client_ts": ev.client_ts,
        "received_at": received,
        "session_id": ev.session_id,
        "seq": ev.seq,
        "percent": ev.percent,
        "media_duration": ev.duration,
        "detail": ev.detail,
        "device": device,
        "occurred_at": occurred_at(ev.client_ts, sent_at, received),
        "interaction_id": ev.interaction_id,
    }


def _insert_events(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert ``rows``; return those stored (not already there), each with its new ``id``.

    A repeated ``event_id`` for the same render (a retried batch, a beacon sent twice) is ignored
    by the database's unique constraint, so dedupe holds across concurrent requests too. Rows go
    in key order, so two transactions wait for each other's keys in the same order.
    """
    if not rows:
        return []
    rows.sort(key=lambda r: (r["render_id"], r["event_id"]))
    by_key = {(r["render_id"], r["event_id"]): r for r in rows}
    stored = insert_rows(
        session.connection(),
        Event.__table__,
        rows,
        conflict=on_conflict(["render_id", "event_id"]),
        returning=("id", "render_id", "event_id"),
    )
    return [dict(by_key[(rid, eid)], id=id_) for id_, rid, eid in stored]


def _failed_row(render: Render | None, raw: Any, reason: str, received: datetime) -> dict[str, Any]:
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    payload = json.dumps(raw, default=str, ensure_ascii=False)
    return {
        "campaign_id": render.campaign_id if render else None,
        "render_id": render.id if render else None,
        "event_id": event_id[:100].replace("\x00", "\ufffd") if isinstance(event_id, str) else None,
        "reason": reason[:2000],
        "payload": payload[:MAX_PAYLOAD_CHARS],
        "received_at": received,
    }
