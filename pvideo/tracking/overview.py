"""The studio's campaign list: each campaign with who submitted it, its status and render counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from pvideo.db.models import Campaign, CampaignStatus, Render, RenderStatus

ACTIVE, COMPLETE, CANCELLED = "active", "complete", "cancelled"
STATUSES = (ACTIVE, COMPLETE, CANCELLED)
"""A campaign as the studio shows it: rendering (or waiting for views), every row finished, or cancelled."""


def shown_status(status: str, completed_at: datetime | None) -> str:
    if status == CampaignStatus.CANCELLED:
        return CANCELLED
    return COMPLETE if completed_at is not None else ACTIVE


def _where(status: str) -> ColumnElement[bool]:
    live = Campaign.status != CampaignStatus.CANCELLED
    if status == CANCELLED:
        return Campaign.status == CampaignStatus.CANCELLED
    if status == COMPLETE:
        return and_(live, Campaign.completed_at.is_not(None))
    return and_(live, Campaign.completed_at.is_(None))


@dataclass
class CampaignProgress:
    id: str
    name: str
    scene: str
    created_at: datetime
    status: str = ACTIVE
    submitted_by: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        """Renders that will not change any more (done, failed or cancelled)."""
        return sum(self.counts.get(s, 0) for s in RenderStatus.FINISHED)

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 100


def campaign_progress(
    session: Session, *, status: str | None = None, scene: str | None = None, limit: int = 200
) -> list[CampaignProgress]:
    """The newest ``limit`` campaigns (of a status in ``STATUSES``, of a scene), newest first,
    with renders counted per status."""
    query = select(
        Campaign.id,
        Campaign.name,
        Campaign.scene_name,
        Campaign.created_at,
        Campaign.status,
        Campaign.completed_at,
        Campaign.submitted_by,
    )
    if status in STATUSES:
        query = query.where(_where(status))
    if scene:
        query = query.where(Campaign.scene_name == scene)
    campaigns = session.execute(query.order_by(Campaign.created_at.desc(), Campaign.id).limit(limit)).all()
    out = {
        c.id: CampaignProgress(
            c.id, c.name, c.scene_name, c.created_at, shown_status(c.status, c.completed_at), c.submitted_by
        )
        for c in campaigns
    }
    if out:
        rows = session.execute(
            select(Render.campaign_id, Render.status, func.count())
            .where(Render.campaign_id.in_(list(out)))
            .group_by(Render.campaign_id, Render.status)
        )
        for campaign_id, render_status, n in rows:
            out[campaign_id].counts[render_status] = n
    return list(out.values())


def scene_names(session: Session) -> list[str]:
    """Every scene some campaign used, for the list's filter."""
    return list(session.scalars(select(Campaign.scene_name).distinct().order_by(Campaign.scene_name)))
