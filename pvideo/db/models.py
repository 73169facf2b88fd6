"""Database tables: a campaign, one render per customer row, viewer events (and failed ones).

Every table is importable from here. The write-back's (``pvideo.db.webhook_tables``), the
viewers' answers (``pvideo.db.answer_tables``), the studio's and access's
(``pvideo.db.studio_tables``) and privacy's (``pvideo.db.privacy_tables``) live in modules of
their own.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pvideo.db.answer_tables import Response as Response
from pvideo.db.base import Base as Base
from pvideo.db.base import new_id as new_id
from pvideo.db.base import utcnow as utcnow
from pvideo.db.privacy_tables import AuditEntry as AuditEntry
from pvideo.db.privacy_tables import ErasureJob as ErasureJob
from pvideo.db.privacy_tables import InteractionTally as InteractionTally
from pvideo.db.studio_tables import ApiKey as ApiKey
from pvideo.db.studio_tables import Asset as Asset
from pvideo.db.studio_tables import AssetKind as AssetKind
from pvideo.db.studio_tables import ColumnMapping as ColumnMapping
from pvideo.db.studio_tables import IngestState as IngestState
from pvideo.db.studio_tables import Scene as Scene
from pvideo.db.studio_tables import SceneVersion as SceneVersion
from pvideo.db.studio_tables import StudioUpload as StudioUpload
from pvideo.db.studio_tables import User as User
from pvideo.db.webhook_tables import WebhookDelivery as WebhookDelivery
from pvideo.db.webhook_tables import WebhookSubscription as WebhookSubscription


class RenderStatus:
    QUEUED = "queued"
    RENDERING = "rendering"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ALL = (QUEUED, RENDERING, DONE, FAILED, CANCELLED)
    OPEN = (QUEUED, RENDERING)
    FINISHED = (DONE, FAILED, CANCELLED)


class RenderMode(StrEnum):
    """When a campaign's rows render: all at submission, or each on its first view."""

    EAGER = "eager"
    ON_DEMAND = "on_demand"


class Outputs(StrEnum):
    """What a render stores: one MP4, an HLS playlist of shared + personal segments, or both."""

    BOTH = "both"
    MP4 = "mp4"
    HLS = "hls"


class TrackingMode(StrEnum):
    """What a campaign's landing pages record (``pvideo.privacy.consent``): everything, only
    anonymous counts, or everything once the viewer agrees (anonymous counts until then)."""

    FULL = "full"
    ANONYMOUS = "anonymous"
    CONSENT = "consent"


class CampaignStatus:
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    scene_name: Mapped[str] = mapped_column(String(200))
    scene: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.ACTIVE)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_through: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    render_mode: Mapped[str] = mapped_column(String(16), default=RenderMode.EAGER)
    outputs: Mapped[str] = mapped_column(String(8), default=Outputs.BOTH)
    submitted_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    """Who submitted it: a studio user's email, ``api key <prefix>`` or ``cli``; shown in the studio's list."""
    scene_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The ``SceneVersion`` it was submitted with (``None``: a scene file, or before versions existed)."""

    tracking: Mapped[str] = mapped_column(String(16), default=TrackingMode.FULL, server_default=TrackingMode.FULL.value)
    retention: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """This campaign's own retention (``pvideo.privacy.retention``), over the deployment's:
    ``events_days``, ``outputs_days``, ``row_data`` ("keep" or "after_render")."""
    ends_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """When the campaign ends: outputs' retention counts from here (else from ``completed_at``)."""

    renders: Mapped[list[Render]] = relationship(back_populates="campaign", order_by="Render.row_number")


class Render(Base):
    __tablename__ = "renders"
    __table_args__ = (
        Index("ix_renders_campaign_row", "campaign_id", "row_number"),
        Index("ix_renders_campaign_status_row", "campaign_id", "status", "row_number"),
        Index("ix_renders_customer_id", "customer_id"),  # erasure and access export look a person up
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=RenderStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    video_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    poster_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # name -> storage key
    plan_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hotspots: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    viewer_token: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """When a message for this row was last sent: the reconciler leaves recently sent rows alone."""
    render_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """Set when the customer was erased (``pvideo.privacy.erasure``): the row stays, without the
    person (``customer_id`` "", no data, token or outputs), so the campaign's counts hold."""

    outputs_expired_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """Set when retention removed the stored outputs (``pvideo.privacy.retention``): the status
    stays (the campaign's counts hold) and the link answers 410."""

    campaign: Mapped[Campaign] = relationship(back_populates="renders")


class OutboxEntry(Base):
    """Work to hand to the queue, written in the transaction that made it necessary.

    Submitting a campaign commits the campaign and its ``fan_out`` entry together;
    a relay sends pending entries and stamps ``sent_at``, so an unreachable Redis
    delays the work instead of losing it (``pvideo.jobs.outbox``).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)


class Lease(Base):
    """A named lease: one holder at a time across processes and machines (``pvideo.db.leases``)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()


class Event(Base):
    """One viewer event. ``occurred_at`` is the client time corrected for clock
    skew (Snowplow's derived timestamp); ``received_at`` is the server's clock."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("render_id", "event_id", name="uq_events_render_event"),
        Index("ix_events_campaign_id_id", "campaign_id", "id"),
        # partial: the few interaction events only, so other events do not pay for it
        Index(
            "ix_events_campaign_interaction",
            "campaign_id",
            "interaction_id",
            postgresql_where=text("interaction_id IS NOT NULL"),
            sqlite_where=text("interaction_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # no index of its own: the unique (render_id, event_id) serves render_id lookups and cascades
    render_id: Mapped[str] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(32))
    position: Mapped[float | None] = mapped_column(Float, nullable=True)
    cta_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    client_ts: Mapped[datetime | None] = mapped_column(nullable=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    media_duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    device: Mapped[str | None] = mapped_column(String(16), nullable=True)
    occurred_at: Mapped[datetime | None] = mapped_column(nullable=True)
    interaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The interaction an ``interaction_*`` or ``branch_chosen`` event is about (``pvideo.tracking.responses``)."""


class FailedEvent(Base):
    """An event that failed validation, kept with the reason instead of dropped."""

    __tablename__ = "failed_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    campaign_id: Mapped[str | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True, nullable=True
    )
    render_id: Mapped[str | None] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """Audit trail of revoked viewer tokens (only a digest of each token is kept)."""

    __tablename__ = "revoked_tokens"

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    render_id: Mapped[str] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"), index=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class WatchSession(Base):
    """One viewer session's rollup, rebuilt from its events whenever a batch for it is stored:
    what analytics reads instead of scanning every event (see ``pvideo.tracking.rollups``)."""

    __tablename__ = "watch_sessions"

    render_id: Mapped[str] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" = events without one
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    started: Mapped[datetime | None] = mapped_column(nullable=True)
    device: Mapped[str | None] = mapped_column(String(16), nullable=True)
    page_views: Mapped[int] = mapped_column(Integer, default=0)
    played: Mapped[bool] = mapped_column(default=False)
    ended: Mapped[bool] = mapped_column(default=False)
    intervals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    events: Mapped[int] = mapped_column(Integer, default=0)
    # where the position stream stopped: later events extend it; NULL last_seq = rebuild from events
    last_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_position: Mapped[float | None] = mapped_column(Float, nullable=True)


class WatchViewer(Base):
    """One viewer's rollup over all its sessions (first session, length of the union of watched
    content, drop-off buckets as a bit mask), recomputed from its sessions whenever one changes."""

    __tablename__ = "watch_viewers"

    render_id: Mapped[str] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    started: Mapped[datetime | None] = mapped_column(nullable=True)
    device: Mapped[str | None] = mapped_column(String(16), nullable=True)
    opened: Mapped[bool] = mapped_column(default=False)
    played: Mapped[bool] = mapped_column(default=False)
    ended: Mapped[bool] = mapped_column(default=False)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)  # the render's, when computed
    watched: Mapped[float] = mapped_column(Float, default=0.0)
    buckets: Mapped[int] = mapped_column(Integer, default=0)


class WatchCta(Base):
    """CTA impression and click counts of one session, kept as events are stored."""

    __tablename__ = "watch_ctas"

    render_id: Mapped[str] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" = events without one
    cta_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    impressions: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
