"""What to tell the caller once a render is finished: its webhook, and the campaign's if it was the last."""

from __future__ import annotations

from typing import Any

from pvideo.db.engine import Database
from pvideo.db.models import Campaign, Render, RenderStatus
from pvideo.jobs import claims, webhooks
from pvideo.jobs.campaigns import status_counts

Delivery = tuple[str, dict[str, Any]]


def after_render(db: Database, render_id: str, base_url: str) -> list[Delivery]:
    """Webhook deliveries due now that ``render_id`` is finished (none if it is still open).

    Also marks the campaign complete when this was its last open row; the
    ``campaign.completed`` webhook goes out from the one call that marked it. A render or
    campaign deleted meanwhile has no webhook of its own.
    """
    with db.session() as session:
        render = session.get(Render, render_id)
        if render is None or render.status not in RenderStatus.FINISHED:
            return []
        campaign_id = render.campaign_id
    completed = claims.complete_campaign(db, campaign_id)
    deliveries: list[Delivery] = []
    with db.session() as session:
        render, campaign = session.get(Render, render_id), session.get(Campaign, campaign_id)
        if campaign is None or not campaign.webhook_url:
            return deliveries
        if render is not None:
            deliveries.append((campaign.webhook_url, webhooks.render_event(render, campaign, base_url)))
        if completed:
            deliveries.append(
                (campaign.webhook_url, webhooks.campaign_event(campaign, status_counts(session, campaign_id)))
            )
    return deliveries
