"""Per-campaign engagement numbers, each defined once here.

- ``landing_views``: page_view events; ``viewers``: renders with at least one.
- ``plays``: renders whose video was played at least once.
- ``completions``: renders whose video reached its end (an ``ended`` event).
- ``cta_clicks``: per CTA id, click events and distinct renders that clicked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from pvideo.campaigns import status_counts
from pvideo.models import Event


def campaign_analytics(session: Session, campaign_id: str) -> dict[str, Any]:
    by_type = dict(session.execute(
        select(Event.type, func.count()).where(Event.campaign_id == campaign_id).group_by(Event.type)
    ).all())
    renders_by_type = dict(session.execute(
        select(Event.type, func.count(distinct(Event.render_id)))
        .where(Event.campaign_id == campaign_id).group_by(Event.type)
    ).all())
    clicks = session.execute(
        select(Event.cta_id, func.count(), func.count(distinct(Event.render_id)))
        .where(Event.campaign_id == campaign_id, Event.type == "cta_click")
        .group_by(Event.cta_id).order_by(Event.cta_id)
    ).all()
    counts = status_counts(session, campaign_id)
    return {
        "campaign_id": campaign_id,
        "renders": counts,
        "landing_views": by_type.get("page_view", 0),
        "viewers": renders_by_type.get("page_view", 0),
        "plays": renders_by_type.get("play", 0),
        "completions": renders_by_type.get("ended", 0),
        "cta_clicks": {cta or "(unknown)": {"clicks": n, "clickers": who} for cta, n, who in clicks},
    }
