"""The dashboard's campaign list: each campaign with its render counts and progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvideo.db.models import Campaign, Render, RenderStatus


@dataclass
class CampaignProgress:
    id: str
    name: str
    scene: str
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        """Renders that will not change any more (done or failed)."""
        return self.counts.get(RenderStatus.DONE, 0) + self.counts.get(RenderStatus.FAILED, 0)

    @property
    def percent(self) -> int:
        return round(100 * self.finished / self.total) if self.total else 100


def campaign_progress(session: Session, *, limit: int = 200) -> list[CampaignProgress]:
    """The newest ``limit`` campaigns, newest first, with renders counted per status."""
    campaigns = session.execute(
        select(Campaign.id, Campaign.name, Campaign.scene_name, Campaign.created_at)
        .order_by(Campaign.created_at.desc(), Campaign.id)
        .limit(limit)
    ).all()
    out = {c.id: CampaignProgress(c.id, c.name, c.scene_name, c.created_at) for c in campaigns}
    if out:
        rows = session.execute(
            select(Render.campaign_id, Render.status, func.count())
            .where(Render.campaign_id.in_(list(out)))
            .group_by(Render.campaign_id, Render.status)
        )
        for campaign_id, status, n in rows:
            out[campaign_id].counts[status] = n
    return list(out.values())
