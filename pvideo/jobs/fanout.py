"""Fan-out: turn a stored campaign into render messages, one batch at a time.

The fan-out runs as one queue message per campaign. It pages through the
campaign's queued rows in row order and hands each batch to ``send`` (which,
on Redis, enqueues the whole batch in one pipelined round trip), then
records how far it got (``Campaign.enqueued_through``). A fan-out that dies
and is redelivered resumes after the last recorded batch, so at most one
batch is sent twice, and a duplicate message is harmless (``pvideo.jobs.claims``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvideo.db.engine import Database
from pvideo.db.models import Campaign, CampaignStatus, Render, RenderStatus, utcnow

log = logging.getLogger(__name__)

Send = Callable[[Sequence[str]], None]


def fan_out(db: Database, campaign_id: str, send: Send, *, batch_size: int = 1000) -> int:
    """Send every queued row after the watermark; returns how many were sent."""
    sent = 0
    while True:
        with db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status == CampaignStatus.CANCELLED:
                break
            rows = session.execute(
                select(Render.id, Render.row_number)
                .where(
                    Render.campaign_id == campaign_id,
                    Render.status == RenderStatus.QUEUED,
                    Render.row_number > campaign.enqueued_through,
                )
                .order_by(Render.row_number)
                .limit(batch_size)
            ).all()
        if not rows:
            break
        ids = [render_id for render_id, _ in rows]
        send(ids)
        sent += len(rows)
        last = rows[-1][1]
        with db.session() as session:
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.enqueued_through < last)
                .values(enqueued_through=last)
                .execution_options(synchronize_session=False)
            )
            mark_enqueued(session, ids)
    log.info("campaign %s: %d renders enqueued", campaign_id, sent, extra={"campaign_id": campaign_id})
    return sent


def mark_enqueued(session: Session, render_ids: Sequence[str]) -> None:
    """Stamp when these rows' messages were sent: the reconciler leaves them alone for a grace period."""
    if render_ids:
        session.execute(
            update(Render)
            .where(Render.id.in_(render_ids))
            .values(enqueued_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def send_in_batches(ids: Sequence[str], send: Send, *, batch_size: int = 1000) -> int:
    for start in range(0, len(ids), batch_size):
        send(ids[start : start + batch_size])
    return len(ids)
