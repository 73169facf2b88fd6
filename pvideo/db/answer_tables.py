"""The table of viewers' answers to a scene's interactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pvideo.db.base import Base, utcnow


class Response(Base):
    """A viewer's answer to an interaction of the scene (``pvideo.tracking.responses``), checked
    against what that render asked (``pvideo.scene.answers``).

    Deduplicated by ``(render_id, event_id)``, and one answer per interaction and viewer session
    (``session_id`` "" = an answer sent without one: the page without JavaScript). ``pii``: the
    answer holds a filled email, phone or free-text field. ``(campaign_id, interaction_id)`` also
    serves the campaign's lookups and cascades."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("render_id", "event_id", name="uq_responses_render_event"),
        UniqueConstraint("render_id", "session_id", "interaction_id", name="uq_responses_render_session_interaction"),
        Index("ix_responses_campaign_interaction", "campaign_id", "interaction_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    render_id: Mapped[str] = mapped_column(ForeignKey("renders.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(64), default="")
    event_id: Mapped[str] = mapped_column(String(100))
    interaction_id: Mapped[str] = mapped_column(String(64))
    interaction_type: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    pii: Mapped[bool] = mapped_column(default=False)
    consent: Mapped[bool | None] = mapped_column(nullable=True)
    position: Mapped[float | None] = mapped_column(Float, nullable=True)
    client_ts: Mapped[datetime | None] = mapped_column(nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
