"""Tables of the write-back: a campaign's webhook subscriptions and each event's deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pvideo.db.base import Base, new_id, utcnow


class WebhookSubscription(Base):
    """A campaign's receiver of viewer events (``pvideo.jobs.subscriptions``): a URL, the event
    types it asked for and its Standard Webhooks secret; ``preset`` "hubspot" posts HubSpot's
    Forms API payload instead (``pvideo.jobs.hubspot``)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[Any]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    preset: Mapped[str | None] = mapped_column(String(16), nullable=True)
    preset_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)


class WebhookDelivery(Base):
    """One event for one subscription, and what became of it (``pvideo.jobs.deliveries``).

    ``id`` is the Standard Webhooks message id (``webhook-id``), the same on every attempt and
    replay. Due rows are ``pending`` with ``next_attempt_at`` past and no live claim."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    campaign_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_at_replay: Mapped[int] = mapped_column(Integer, default=0)
    """``attempts`` when it was last replayed: the retry budget counts from here."""
    attempt_log: Mapped[list[Any]] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
