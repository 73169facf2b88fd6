"""What a viewer did, written back to the campaign's webhook subscriptions as it is stored.

Which stored viewer event or answer becomes which webhook event, and the ``data`` each carries,
are defined here once; ``pvideo.jobs.deliveries.publish`` adds the pending deliveries in the
transaction that stores the event (so an acknowledged answer always has its deliveries) and
wakes the process's deliverer after the commit.

* answers (``pvideo.tracking.responses``): form and gate -> ``form_submitted``; poll, nps and
  rating -> ``poll_answered``; choice -> ``branch_chosen``; calendar -> ``cta_clicked``;
* events (``pvideo.tracking.events``): ``cta_click`` -> ``cta_clicked``; ``interaction_skipped``
  -> ``interaction_skipped``; ``end`` (or the old ``ended``) -> ``video_completed``, once per
  viewer session (its webhook event id is derived from the render and the session).

The events' hot path pays one dictionary lookup per stored event when none of its types is
published, and one indexed query per group of requests that stored one, when no subscription of
the campaign asked for it. The webhook's event id is the viewer's own ``event_id`` (a random
UUID from the tracker or the player), so the receiver can match it with what the page sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvideo.db.bulk import one_of
from pvideo.db.models import Render, WebhookSubscription
from pvideo.jobs.deliveries import Published, WebhookEvent, publish_many

EVENT_WEBHOOKS: dict[str, WebhookEvent] = {
    "cta_click": WebhookEvent.CTA_CLICKED,
    "interaction_skipped": WebhookEvent.INTERACTION_SKIPPED,
    "end": WebhookEvent.VIDEO_COMPLETED,
    "ended": WebhookEvent.VIDEO_COMPLETED,
}
ANSWER_WEBHOOKS: dict[str, WebhookEvent] = {
    "form": WebhookEvent.FORM_SUBMITTED,
    "gate": WebhookEvent.FORM_SUBMITTED,
    "poll": WebhookEvent.POLL_ANSWERED,
    "nps": WebhookEvent.POLL_ANSWERED,
    "rating": WebhookEvent.POLL_ANSWERED,
    "choice": WebhookEvent.BRANCH_CHOSEN,
    "calendar": WebhookEvent.CTA_CLICKED,
}


def subscribed(session: Session, campaign_ids: Iterable[str]) -> dict[str, frozenset[str]]:
    """Per campaign, the event types any of its active subscriptions asked for (one query)."""
    ids = sorted(set(campaign_ids))
    if not ids:
        return {}
    conn = session.connection()
    found: dict[str, set[str]] = {}
    rows = conn.execute(
        select(WebhookSubscription.campaign_id, WebhookSubscription.events).where(
            one_of(conn, WebhookSubscription.campaign_id, ids), WebhookSubscription.active.is_(True)
        )
    )
    for campaign_id, events in rows:
        found.setdefault(campaign_id, set()).update(e for e in events or () if isinstance(e, str))
    return {k: frozenset(v) for k, v in found.items()}


def viewer_data(
    *,
    campaign_id: str,
    render_id: str,
    customer_id: str | None,
    session_id: str | None,
    event_id: str,
    occurred_at: datetime | None,
    position: float | None = None,
    interaction_id: str | None = None,
    interaction_type: str | None = None,
    answer: Any = None,
) -> dict[str, Any]:
    """The ``data`` of every viewer webhook (some types add a key or two)."""
    return {
        "campaign_id": campaign_id,
        "render_id": render_id,
        "customer_id": customer_id,
        "session_id": session_id or None,
        "interaction_id": interaction_id,
        "interaction_type": interaction_type,
        "answer": answer,
        "position": position,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z") if occurred_at else None,
        "event_id": event_id,
    }


def completed_event_id(render_id: str, session_id: str | None) -> str:
    """``video_completed``'s webhook event id: one per viewer session, however many ``end`` events."""
    digest = hashlib.sha256(f"{render_id}\x00{session_id or ''}".encode()).hexdigest()
    return f"completed-{digest[:48]}"


def publish_events(session: Session, stored: Sequence[dict[str, Any]], asked: Mapping[str, Mapping[str, str]]) -> None:
    """Publish the newly ``stored`` event rows that are webhook events; ``asked``: per render id,
    its interactions' types by id (for ``interaction_skipped``)."""
    wanted = [row for row in stored if row["type"] in EVENT_WEBHOOKS]
    if not wanted:
        return
    types = subscribed(session, {row["campaign_id"] for row in wanted})
    wanted = [row for row in wanted if EVENT_WEBHOOKS[row["type"]] in types.get(row["campaign_id"], ())]
    if not wanted:
        return
    conn = session.connection()
    customers = dict(
        conn.execute(
            select(Render.id, Render.customer_id).where(one_of(conn, Render.id, {r["render_id"] for r in wanted}))
        ).all()
    )
    published: list[Published] = []
    for row in wanted:
        kind = EVENT_WEBHOOKS[row["type"]]
        interaction = row.get("interaction_id")
        data = viewer_data(
            campaign_id=row["campaign_id"],
            render_id=row["render_id"],
            customer_id=customers.get(row["render_id"]),
            session_id=row["session_id"],
            event_id=row["event_id"],
            occurred_at=row["occurred_at"],
            position=row["position"],
            interaction_id=interaction,
            interaction_type=asked.get(row["render_id"], {}).get(interaction) if interaction else None,
        )
        event_id = row["event_id"]
        if kind == WebhookEvent.CTA_CLICKED:
            data["cta_id"] = row["cta_id"]
        elif kind == WebhookEvent.INTERACTION_SKIPPED:
            data["reason"] = row["detail"]
        else:
            event_id = completed_event_id(row["render_id"], row["session_id"])
        published.append(Published(row["campaign_id"], kind.value, event_id, data, row["occurred_at"]))
    publish_many(session, published)
