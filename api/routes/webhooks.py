"""Marketing: a campaign's webhook subscriptions, their delivery log, and replay.

Thin: the library checks and stores (``pvideo.jobs.subscriptions``, ``pvideo.jobs.deliveries``);
a subscription's secret is in the answer to its creation only, masked everywhere after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.deps import CampaignsKeyDep, SessionDep, StateDep
from pvideo.access import audit
from pvideo.db.models import WebhookDelivery, WebhookSubscription
from pvideo.jobs import delivery_log, subscriptions
from pvideo.jobs.campaigns import get_campaign
from pvideo.jobs.deliveries import DeliveryStatus
from pvideo.jobs.subscriptions import SubscriptionCreate, SubscriptionUpdate

router = APIRouter(prefix="/api/campaigns", tags=["webhooks"])


def _utc(moment: datetime | None) -> datetime | None:
    """Stored times are UTC; SQLite hands them back without their zone."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class SubscriptionPublic(BaseModel):
    id: str
    campaign_id: str
    url: str
    events: list[str]
    preset: str | None
    preset_config: dict[str, Any] | None
    active: bool
    secret: str = Field(description="masked; the whole secret is shown once, when the subscription is created")
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, row: WebhookSubscription, *, secret: str | None = None) -> SubscriptionPublic:
        return cls(
            id=row.id,
            campaign_id=row.campaign_id,
            url=row.url,
            events=list(row.events),
            preset=row.preset,
            preset_config=row.preset_config,
            active=row.active,
            secret=secret or subscriptions.masked(row.secret),
            created_at=_utc(row.created_at),
            created_by=row.created_by,
        )


class AttemptPublic(BaseModel):
    at: str
    status: int | None
    latency_ms: int
    error: str | None


class DeliveryPublic(BaseModel):
    id: str = Field(description="the webhook-id header: the same on every attempt and replay")
    subscription_id: str
    event_type: str
    event_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when it is tried next (pending only)")

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryPublic:
        return cls(
            id=row.id,
            subscription_id=row.subscription_id,
            event_type=row.event_type,
            event_id=row.event_id,
            status=DeliveryStatus(row.status),
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_latency_ms=row.last_latency_ms,
            last_error=row.last_error,
            created_at=_utc(row.created_at),
            delivered_at=_utc(row.delivered_at),
            next_attempt_at=_utc(row.next_attempt_at) if row.status == DeliveryStatus.PENDING else None,
        )


class DeliveryDetail(DeliveryPublic):
    payload: dict[str, Any] = Field(description="the event as sent: {type, timestamp, data}")
    attempt_log: list[AttemptPublic] = Field(description="the last attempts, oldest first")

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryDetail:
        return cls(**DeliveryPublic.of(row).model_dump(), payload=row.payload, attempt_log=row.attempt_log or [])


class DeliveryLog(BaseModel):
    deliveries: list[DeliveryPublic]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page; null on the last")


def _who(key: str) -> str:
    """A stored key by its public prefix (``pvk_<prefix>_...``); a configured key by no part of it."""
    return audit.key_actor(key)


def _audit(
    session: Session, key: str, action: audit.Action, target: audit.Target, target_id: str, campaign: str
) -> None:
    """One API action on a campaign's webhooks, recorded in the request's transaction, with the change."""
    audit.record(
        session, actor=_who(key), role="campaigns", action=action, target_type=target, target_id=target_id,
        detail={"campaign": campaign},
    )  # fmt: skip


@router.post("/{campaign_id}/webhooks", status_code=201, response_model=SubscriptionPublic)
def create_subscription(
    campaign_id: str, body: SubscriptionCreate, session: SessionDep, state: StateDep, key: CampaignsKeyDep
) -> SubscriptionPublic:
    """Subscribe a URL (or the HubSpot preset) to viewer events; the answer holds the secret, once."""
    row, secret = subscriptions.create(
        session, campaign_id, body, settings=state.runtime.settings, created_by=_who(key)
    )
    _audit(session, key, audit.Action.WEBHOOK_CREATE, audit.Target.WEBHOOK, row.id, campaign_id)
    return SubscriptionPublic.of(row, secret=secret)


@router.get("/{campaign_id}/webhooks", response_model=list[SubscriptionPublic])
def list_subscriptions(campaign_id: str, session: SessionDep, _: CampaignsKeyDep) -> list[SubscriptionPublic]:
    get_campaign(session, campaign_id)
    return [SubscriptionPublic.of(row) for row in subscriptions.for_campaign(session, campaign_id)]


@router.get("/{campaign_id}/webhooks/{subscription_id}", response_model=SubscriptionPublic)
def get_subscription(
    campaign_id: str, subscription_id: str, session: SessionDep, _: CampaignsKeyDep
) -> SubscriptionPublic:
    return SubscriptionPublic.of(subscriptions.get(session, campaign_id, subscription_id))


@router.patch("/{campaign_id}/webhooks/{subscription_id}", response_model=SubscriptionPublic)
def update_subscription(
    campaign_id: str,
    subscription_id: str,
    body: SubscriptionUpdate,
    session: SessionDep,
    state: StateDep,
    key: CampaignsKeyDep,
) -> SubscriptionPublic:
    """Change the URL, events, preset config or pause it (``active: false``); checked as a whole again."""
    row = subscriptions.update(session, campaign_id, subscription_id, body, settings=state.runtime.settings)
    _audit(session, key, audit.Action.WEBHOOK_CHANGE, audit.Target.WEBHOOK, subscription_id, campaign_id)
    return SubscriptionPublic.of(row)


@router.delete("/{campaign_id}/webhooks/{subscription_id}", status_code=204)
def delete_subscription(campaign_id: str, subscription_id: str, session: SessionDep, key: CampaignsKeyDep) -> Response:
    """Remove it with its delivery log; deliveries not yet sent are dropped."""
    subscriptions.delete(session, campaign_id, subscription_id)
    _audit(session, key, audit.Action.WEBHOOK_DELETE, audit.Target.WEBHOOK, subscription_id, campaign_id)
    return Response(status_code=204)


@router.get("/{campaign_id}/webhooks/{subscription_id}/deliveries", response_model=DeliveryLog)
def list_deliveries(
    campaign_id: str,
    subscription_id: str,
    session: SessionDep,
    _: CampaignsKeyDep,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryLog:
    """The delivery log, newest first: status, attempts, last answer and latency."""
    subscriptions.get(session, campaign_id, subscription_id)
    page = delivery_log.delivery_log(session, subscription_id, status=status, limit=limit, cursor=cursor)
    return DeliveryLog(deliveries=[DeliveryPublic.of(d) for d in page.deliveries], next_cursor=page.next_cursor)


@router.get("/{campaign_id}/webhook-deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(campaign_id: str, delivery_id: str, session: SessionDep, _: CampaignsKeyDep) -> DeliveryDetail:
    """One delivery with its body and its last attempts."""
    return DeliveryDetail.of(delivery_log.get_delivery(session, campaign_id, delivery_id))


@router.post(
    "/{campaign_id}/webhook-deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryPublic,
)
def replay_delivery(campaign_id: str, delivery_id: str, session: SessionDep, key: CampaignsKeyDep) -> DeliveryPublic:
    """Send it again now, whatever its status, with the same ``webhook-id``; a new retry budget."""
    row = delivery_log.replay(session, campaign_id, delivery_id)
    _audit(session, key, audit.Action.WEBHOOK_REPLAY, audit.Target.DELIVERY, delivery_id, campaign_id)
    return DeliveryPublic.of(row)
