"""Analytics: a campaign's engagement numbers (defined in ``pvideo.tracking.analytics``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import AnalyticsKeyDep, SessionDep
from pvideo.jobs.campaigns import get_campaign
from pvideo.tracking.analytics import campaign_analytics

router = APIRouter(prefix="/api/campaigns", tags=["analytics"])


@router.get("/{campaign_id}/analytics")
def get_analytics(
    campaign_id: str,
    session: SessionDep,
    _: AnalyticsKeyDep,
    start: date | None = Query(None, description="first day (UTC) of sessions to count"),
    end: date | None = Query(None, description="last day (UTC), inclusive"),
) -> dict[str, Any]:
    """Rendered, opened, viewers, play rate, % watched, completion, funnel, drop-off, CTAs,
    by day and by device. Every metric is defined in the pvideo.tracking.analytics docstring, and in docs/analytics.md."""
    if start and end and end < start:
        raise HTTPException(422, "end is before start")
    get_campaign(session, campaign_id)
    return campaign_analytics(session, campaign_id, start=start, end=end)
