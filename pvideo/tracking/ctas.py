"""A campaign's CTA table: per CTA, impressions and clicks, the viewers behind them, and the CTR
(defined with the other numbers in ``pvideo.tracking.analytics``), read from the per-session CTA
rollups (``watch_ctas``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from pvideo.db.models import Campaign, WatchCta, WatchSession


class CtaCounts(NamedTuple):
    impressions: int
    impressed: int  # viewers shown the CTA
    clicks: int
    clickers: int  # viewers who clicked it
    converted: int  # viewers who clicked it and were shown it


_NONE = CtaCounts(0, 0, 0, 0, 0)


def cta_table(conn: Connection, campaign: Campaign, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """Per CTA of the scene (and any other shown or clicked) in the sessions that started in [start, end]."""
    c = WatchCta
    per_viewer = select(c.cta_id, c.render_id, func.sum(c.impressions).label("i"), func.sum(c.clicks).label("k"))
    per_viewer = per_viewer.where(c.campaign_id == campaign.id).group_by(c.cta_id, c.render_id)
    if start is not None or end is not None:
        s = WatchSession
        per_viewer = per_viewer.join(s, and_(s.render_id == c.render_id, s.session_id == c.session_id)).where(
            s.events > 0
        )
        if start is not None:
            per_viewer = per_viewer.where(s.started >= datetime.combine(start, time.min, UTC))
        if end is not None:
            per_viewer = per_viewer.where(s.started < datetime.combine(end + timedelta(days=1), time.min, UTC))
    v = per_viewer.subquery()

    def viewers(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    rows = conn.execute(
        select(
            v.c.cta_id,
            func.sum(v.c.i),
            viewers(v.c.i > 0),
            func.sum(v.c.k),
            viewers(v.c.k > 0),
            viewers(and_(v.c.i > 0, v.c.k > 0)),
        ).group_by(v.c.cta_id)
    )
    per_cta = {
        layer["id"]: _NONE
        for layer in (campaign.scene or {}).get("layers", [])
        if isinstance(layer, dict) and layer.get("type") == "cta" and layer.get("id")
    }
    per_cta.update({cta: CtaCounts._make(int(n) for n in numbers) for cta, *numbers in rows})
    return [
        {
            "cta_id": cta,
            "impressions": n.impressions,
            "impressed": n.impressed,
            "clicks": n.clicks,
            "clickers": n.clickers,
            "ctr": round(n.converted / n.impressed, 4) if n.impressed else 0.0,
        }
        for cta, n in sorted(per_cta.items())
    ]
