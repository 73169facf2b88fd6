"""A customer's data export (right of access): everything pvideo holds about one customer id.

``customer_export`` gathers, across campaigns (or in one), every render of that customer that
was not erased: the row as submitted, its status, timestamps and personal links; the viewer
events and those that failed validation; the interaction answers; the viewing rollups; the
webhook deliveries that carried their events (payload, status, attempts); how many of their
links were revoked; and the stored media (MP4, poster, thumbnails, captions, tracks, the HLS
playlist and personal parts: never the template's shared segments). ``pvideo.privacy.archive``
writes it as one JSON document, or as a ZIP with that document and the media files.

Rows are dumped column by column, so a column added to a table later is exported without a
change here. The viewer token itself is left out: the links carry it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from pvideo.access import audit
from pvideo.db.bulk import one_of
from pvideo.db.models import (
    Base,
    Campaign,
    Event,
    FailedEvent,
    Render,
    Response,
    RevokedToken,
    WatchCta,
    WatchSession,
    WatchViewer,
    WebhookDelivery,
    utcnow,
)
from pvideo.errors import NotFound
from pvideo.jobs.manifest import render_links
from pvideo.privacy.media import object_size
from pvideo.render import hls
from pvideo.runtime import Runtime
from pvideo.storage import Storage

FORMAT_VERSION = 1
_HIDDEN = frozenset({"viewer_token"})  # a credential: the export's links carry it


@dataclass(frozen=True)
class StoredMedia:
    """One stored object of a render: ``name`` is its file name in the archive, ``size`` in
    bytes (``None`` when storage no longer holds it)."""

    render_id: str
    name: str
    key: str
    size: int | None

    def to_json(self) -> dict[str, Any]:
        return {"render_id": self.render_id, "name": self.name, "key": self.key, "size": self.size}


@dataclass
class CustomerExport:
    """What pvideo holds about ``customer_id`` (in ``campaign_id``, or every campaign)."""

    customer_id: str
    campaign_id: str | None
    generated_at: datetime
    renders: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    failed_events: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    viewing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    webhook_deliveries: list[dict[str, Any]] = field(default_factory=list)
    revoked_links: int = 0
    media: list[StoredMedia] = field(default_factory=list)

    @property
    def render_ids(self) -> list[str]:
        return [r["id"] for r in self.renders]

    def to_json(self) -> dict[str, Any]:
        """The export as one JSON-ready document (dates as ISO 8601 text)."""
        return {
            "format": "pvideo-customer-export",
            "version": FORMAT_VERSION,
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "generated_at": _plain(self.generated_at),
            "renders": self.renders,
            "events": self.events,
            "failed_events": self.failed_events,
            "answers": self.answers,
            "viewing": self.viewing,
            "webhook_deliveries": self.webhook_deliveries,
            "revoked_links": self.revoked_links,
            "media": [m.to_json() for m in self.media],
        }


def customer_export(runtime: Runtime, customer_id: str, *, campaign_id: str | None = None) -> CustomerExport:
    """Everything about ``customer_id``; ``NotFound`` when no render (left) has that id."""
    base_url = runtime.settings.public_base_url
    with runtime.db.session() as session:
        if campaign_id is not None and session.get(Campaign, campaign_id) is None:
            raise NotFound(f"campaign {campaign_id!r} not found")
        query = select(Render).where(Render.customer_id == customer_id, Render.erased_at.is_(None))
        if campaign_id is not None:
            query = query.where(Render.campaign_id == campaign_id)
        renders = list(session.scalars(query.order_by(Render.created_at, Render.campaign_id, Render.row_number)))
        if not customer_id or not renders:
            raise NotFound("no customer with that id" + (" in this campaign" if campaign_id else ""))
        ids = [r.id for r in renders]
        export = CustomerExport(
            customer_id=customer_id,
            campaign_id=campaign_id,
            generated_at=utcnow(),
            renders=[_render_entry(r, base_url) for r in renders],
            events=_rows(session, Event, ids, Event.id),
            failed_events=_rows(session, FailedEvent, ids, FailedEvent.id),
            answers=_rows(session, Response, ids, Response.id),
            viewing={
                "sessions": _rows(session, WatchSession, ids, WatchSession.started),
                "viewers": _rows(session, WatchViewer, ids, WatchViewer.started),
                "ctas": _rows(session, WatchCta, ids, WatchCta.cta_id),
            },
            webhook_deliveries=_deliveries(session, renders),
            revoked_links=session.scalar(
                select(func.count())
                .select_from(RevokedToken)
                .where(one_of(session.connection(), RevokedToken.render_id, ids))
            )
            or 0,
        )
        export.media = [m for r in renders for m in personal_media(r, runtime.storage)]
    return export


def record_export(runtime: Runtime, export: CustomerExport, *, actor: str, role: str | None, format: str) -> None:
    """The audit entry of an export: who, the format and the counts; never the customer id."""
    with runtime.db.session() as session:
        audit.record(
            session,
            actor=actor,
            role=role,
            action=audit.Action.CUSTOMER_EXPORT,
            target_type=audit.Target.CAMPAIGN if export.campaign_id else None,
            target_id=export.campaign_id,
            detail={
                "format": format,
                "renders": len(export.renders),
                "events": len(export.events),
                "answers": len(export.answers),
                "media": len(export.media),
            },
        )


def personal_media(render: Render, storage: Storage) -> list[StoredMedia]:
    """The render's own stored objects, with their sizes; none once its outputs expired."""
    if render.outputs_expired_at is not None:
        return []
    named = {
        "video.mp4": render.video_key,
        "poster.jpg": render.poster_key,
        "thumbnail.jpg": render.thumbnail_key,
        **(render.outputs or {}),
    }
    named.update(_hls_media(render, storage))
    return [
        StoredMedia(render.id, name, key, object_size(storage, key))
        for name, key in named.items()
        if isinstance(key, str) and key
    ]


def _hls_media(render: Render, storage: Storage) -> dict[str, str]:
    """The HLS playlist and the personal parts it lists (keys under the render's own folder)."""
    if not render.plan_digest:
        return {}
    playlist = hls.playlist_key(render.plan_digest)
    try:
        text = storage.get_bytes(playlist).decode()
    except NotFound:
        return {}
    own = f"outputs/{render.plan_digest}/"
    parts = {PurePosixPath(key).name: key for key in hls.playlist_keys(text) if key.startswith(own)}
    return {hls.PLAYLIST: playlist, **parts}


def _render_entry(render: Render, base_url: str) -> dict[str, Any]:
    return {
        **_columns(render),
        "campaign_name": render.campaign.name,
        "links": render_links(render, base_url),
    }


def _rows(session: Session, table: type[Base], render_ids: Sequence[str], order: Any) -> list[dict[str, Any]]:
    column = table.__table__.c.render_id
    query = select(table).where(one_of(session.connection(), column, render_ids)).order_by(order)
    return [_columns(row) for row in session.scalars(query)]


def _deliveries(session: Session, renders: Iterable[Render]) -> list[dict[str, Any]]:
    """Deliveries of the customer's events: each names its render in ``payload.data.render_id``."""
    ids = [r.id for r in renders]
    campaigns = sorted({r.campaign_id for r in renders})
    render_of = WebhookDelivery.payload[("data", "render_id")].as_string()
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.campaign_id.in_(campaigns), render_of.in_(ids))
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    )
    return [_columns(row) for row in session.scalars(query)]


def _columns(row: Base) -> dict[str, Any]:
    """Every mapped column of ``row`` by its attribute name, but the hidden ones."""
    attributes = inspect(row).mapper.column_attrs
    return {a.key: _plain(getattr(row, a.key)) for a in attributes if a.key not in _HIDDEN}


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
