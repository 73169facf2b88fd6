"""What to tell the caller once a render is finished: its webhook, and the campaign's if it was the last.

The queued message carries a reference (which render or campaign, in what state), never the
payload: a message waits in Redis, is retried, and may end in the dead-letter queue, and a
render's payload names the customer. ``payload_for`` builds the payload when it is sent, from
the rows as they are then; a customer erased meanwhile gets no webhook.
"""

from __future__ import annotations

from typing import Any

from pvideo.db.engine import Database
from pvideo.db.models import Campaign, Render, RenderStatus
from pvideo.jobs import claims, webhooks
from pvideo.jobs.campaigns import status_counts

Delivery = tuple[str, dict[str, Any]]
"""A campaign's webhook URL and a reference: ``{"ref": "render", "render_id", "status",
"attempts"}`` or ``{"ref": "campaign", "campaign_id"}``."""


def after_render(db: Database, render_id: str) -> list[Delivery]:
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
        if render is not None and render.erased_at is None:
            ref = {"ref": "render", "render_id": render.id, "status": render.status, "attempts": render.attempts}
            deliveries.append((campaign.webhook_url, ref))
        if completed:
            deliveries.append((campaign.webhook_url, {"ref": "campaign", "campaign_id": campaign_id}))
    return deliveries


def payload_for(db: Database, ref: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    """The payload a reference from ``after_render`` stands for, or ``None`` when there is no
    longer anything to say (the render or campaign is gone, or the customer was erased)."""
    with db.session() as session:
        if ref.get("ref") == "campaign":
            campaign = session.get(Campaign, ref["campaign_id"])
            return None if campaign is None else webhooks.campaign_event(campaign, status_counts(session, campaign.id))
        render = session.get(Render, ref["render_id"])
        if render is None or render.erased_at is not None or render.campaign is None:
            return None
        payload = webhooks.render_event(render, render.campaign, base_url)
        # the state that was finished when it was queued: a retry of the row since is its own webhook
        status, attempts = ref.get("status", render.status), ref.get("attempts", render.attempts)
        payload.update(id=f"render.{status}.{render.id}.{attempts}", type=f"render.{status}", status=status)
        return payload
