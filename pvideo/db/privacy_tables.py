"""Tables of privacy: the audit log, durable erasure jobs, and the interaction tallies that keep
a campaign's numbers once the raw events and answers behind them are erased or expired."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pvideo.db.base import Base, new_id, utcnow


class AuditEntry(Base):
    """Who did what, when (``pvideo.access.audit``). Append-only: nothing updates or deletes a row.

    ``actor`` is a studio user's email, ``api key <prefix>``, ``cli`` or ``system`` (retention);
    ``target_id`` is a campaign, user, key or job id, never a customer id or row data (an
    erasure names its job, whose ``subject`` is a keyed digest)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_action_at", "action", "at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ErasureState:
    PENDING = "pending"
    DONE = "done"


class ErasureJob(Base):
    """One customer's erasure (``pvideo.privacy.erasure``): durable, so a crash or a storage outage
    halfway only delays it. ``subject`` is an HMAC of the customer id (the id itself is never
    kept): erasing the same id again finds the same job. ``render_ids`` and ``keys`` are what was
    left to remove when it was last saved; ``removed`` counts what is gone, for the audit."""

    __tablename__ = "erasure_jobs"
    __table_args__ = (Index("ix_erasure_jobs_state", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    campaign_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=ErasureState.PENDING)
    render_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    removed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(320))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class InteractionTally(Base):
    """Counts folded out of raw interaction events and answers before they are removed
    (``pvideo.tracking.tallies``), per campaign, day, interaction, ``metric`` (shown, skipped,
    answered, option, score, ...) and ``key`` (the option or score; "" when none)."""

    __tablename__ = "interaction_tallies"

    campaign_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    interaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    count: Mapped[int] = mapped_column(Integer, default=0)
