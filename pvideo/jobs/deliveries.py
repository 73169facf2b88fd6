"""Campaign webhook deliveries: written with the answer, sent by every process, logged, replayable.

``publish`` runs in the transaction that stores a viewer's answer (or event) and only inserts
one ``pending`` row per subscription that asked for the event type, so the viewer's request
never waits for a receiver; ``(subscription, event_id)`` is unique, so a replayed answer adds
nothing. After the commit the deliverers (``workers.deliverer``) are woken and send the row at
once (``pvideo.jobs.delivery_wake``); they also poll.

Every state change is one conditional ``UPDATE``:

* ``claim``: due rows (``pending``, ``next_attempt_at`` past, no live claim) get this pass's
  claim token and a lease, if they are still due; two processes never hold one row, and a
  process killed mid-delivery leaves it to the others once the lease lapses.
* ``record``: only while the claim is still this pass's (a replay or a takeover meanwhile wins):
  2xx is ``delivered``; anything else (no answer, timeout, 4xx, 5xx) is tried again after a
  backoff, and ``failed`` once ``RetryPolicy.max_attempts`` attempts since the last replay failed.
* ``replay`` (``pvideo.jobs.delivery_log``): back to ``pending`` now, with the same id (``webhook-id``) and a
  new retry budget.

Deliveries are at least once: a receiver dedupes on ``webhook-id``.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from pvideo.db.bulk import insert_rows, on_conflict
from pvideo.db.engine import Database
from pvideo.db.models import Campaign, Render, WebhookDelivery, WebhookSubscription, utcnow
from pvideo.errors import DataError
from pvideo.jobs import hubspot
from pvideo.jobs.delivery_wake import listen as listen
from pvideo.jobs.delivery_wake import unlisten as unlisten
from pvideo.jobs.delivery_wake import wake as wake
from pvideo.jobs.delivery_wake import wake_after_commit as wake_after_commit
from pvideo.jobs.manifest import render_links
from pvideo.jobs.signed_post import Attempt, encode
from pvideo.settings import Settings


class WebhookEvent(StrEnum):
    FORM_SUBMITTED = "form_submitted"
    POLL_ANSWERED = "poll_answered"
    BRANCH_CHOSEN = "branch_chosen"
    INTERACTION_SKIPPED = "interaction_skipped"
    CTA_CLICKED = "cta_clicked"
    VIDEO_COMPLETED = "video_completed"


WEBHOOK_EVENTS = tuple(e.value for e in WebhookEvent)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


MAX_EVENT_ID = 100
LOGGED_ATTEMPTS = 10  # the attempt history kept per delivery


# -- publishing ---------------------------------------------------------------------------------


def new_message_id() -> str:
    """A Standard Webhooks message id: ``msg_`` and 26 base32 characters (fits ``String(32)``)."""
    return "msg_" + base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()


def _iso(moment: datetime) -> str:
    return _aware(moment).isoformat().replace("+00:00", "Z")


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Published(NamedTuple):
    """One viewer event to hand to the campaign's subscriptions (``publish_many``)."""

    campaign_id: str
    event_type: str
    event_id: str
    data: dict[str, Any]
    occurred_at: datetime | None = None


def publish(
    session: Session,
    *,
    campaign_id: str,
    event_type: str,
    event_id: str,
    data: dict[str, Any],
    occurred_at: datetime | None = None,
) -> int:
    """In the caller's transaction: one pending delivery per active subscription of the campaign
    that asked for ``event_type``; how many were added (0 for an event id already published).

    One indexed query when the campaign has no subscription. The body is
    ``{"type", "timestamp", "data"}``, ``data`` as given, with ``event_id`` unless it has one.
    """
    return publish_many(session, [Published(campaign_id, event_type, event_id, data, occurred_at)])


def publish_many(session: Session, events: Sequence[Published]) -> int:
    """``publish`` for a batch (a group commit's answers): one query for the subscriptions of all
    their campaigns and one insert for all the deliveries, whatever the batch's size."""
    for item in events:
        if item.event_type not in WEBHOOK_EVENTS:
            raise DataError(f"unknown webhook event type {item.event_type!r}", field="event_type")
        if not item.event_id or len(item.event_id) > MAX_EVENT_ID:
            raise DataError(f"1 to {MAX_EVENT_ID} characters", field="event_id")
    campaigns = sorted({item.campaign_id for item in events})
    if not campaigns:
        return 0
    subscribed: dict[str, list[tuple[str, Any]]] = {}
    for sub_id, campaign_id, wanted in session.execute(
        select(WebhookSubscription.id, WebhookSubscription.campaign_id, WebhookSubscription.events).where(
            WebhookSubscription.campaign_id.in_(campaigns), WebhookSubscription.active.is_(True)
        )
    ):
        subscribed.setdefault(campaign_id, []).append((sub_id, wanted or ()))
    if not subscribed:
        return 0
    now = utcnow()
    rows = []
    for item in events:
        targets = [sub_id for sub_id, wanted in subscribed.get(item.campaign_id, ()) if item.event_type in wanted]
        if not targets:
            continue
        payload = {
            "type": item.event_type,
            "timestamp": _iso(item.occurred_at or now),
            "data": {"event_id": item.event_id, **item.data},
        }
        rows += [
            {
                "id": new_message_id(),
                "subscription_id": sub_id,
                "campaign_id": item.campaign_id,
                "event_id": item.event_id,
                "event_type": item.event_type,
                "payload": payload,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "attempts_at_replay": 0,
                "attempt_log": [],
                "next_attempt_at": now,
                "created_at": now,
            }
            for sub_id in targets
        ]
    if not rows:
        return 0
    # one statement of fixed text, the rows one JSON parameter (``pvideo.db.bulk``): the ORM's bulk
    # insert spent a fifth of an answering server's CPU here at 500 answers/s
    inserted = insert_rows(
        session.connection(), _DELIVERIES, rows, conflict=on_conflict(["subscription_id", "event_id"]), returning=["id"]
    )
    if inserted:
        wake_after_commit(session)
    return len(inserted)


# -- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery, ready to POST: the target, the exact body, whose claim it is, and its
    counts as claimed (no one else changes them while the claim holds)."""

    id: str
    claim: str
    url: str
    secret: str
    body: str
    event_type: str
    attempts: int = 0
    attempts_at_replay: int = 0
    attempt_log: tuple[dict[str, Any], ...] = ()


class RetryPolicy(NamedTuple):
    max_attempts: int
    backoff_seconds: float
    backoff_max_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_max_attempts, settings.webhook_backoff_seconds, settings.webhook_backoff_max_seconds
        )

    def delay(self, failures: int, jitter: Callable[[], float] = random.random) -> float:
        """Seconds before the next attempt after ``failures`` failed ones: doubling, capped, ±20 %."""
        base = min(self.backoff_max_seconds, self.backoff_seconds * 2.0 ** min(failures - 1, 60))
        return base * (0.8 + 0.4 * jitter())


def _due(now: datetime) -> Any:
    lapsed = or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)
    return and_(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now, lapsed)


_DELIVERIES = WebhookDelivery.__table__
_SUBSCRIPTIONS = WebhookSubscription.__table__
_D, _S = _DELIVERIES.c, _SUBSCRIPTIONS.c
_CLAIMED = (  # what a claimed delivery needs to be sent and recorded
    _D.id, _D.campaign_id, _D.event_type, _D.payload, _D.attempts, _D.attempts_at_replay, _D.attempt_log,
    _S.url, _S.secret, _S.preset, _S.preset_config,
)  # fmt: skip


def claim(db: Database, *, holder: str, limit: int, lease_seconds: float, base_url: str) -> list[Outgoing]:
    """Claim up to ``limit`` due deliveries for ``lease_seconds``, oldest due first.

    A read first: the poll that finds nothing (most of them) writes nothing. The ``UPDATE``
    checks again that each row is due, so of two processes that read the same rows, each row
    goes to one. Core statements, not ORM objects: this runs for every delivery, in the API
    process too."""
    now = utcnow()
    token = f"{holder}:{uuid.uuid4().hex[:8]}"
    with db.session() as session:
        conn = session.connection()
        rows = conn.execute(
            select(*_CLAIMED)
            .join_from(_DELIVERIES, _SUBSCRIPTIONS, _S.id == _D.subscription_id)
            .where(_due(now))
            .order_by(_D.next_attempt_at)
            .limit(limit)
        ).all()
        if not rows:
            return []
        claimed = conn.execute(
            _DELIVERIES.update()
            .where(_D.id.in_([row.id for row in rows]), _due(now))
            .values(claimed_by=token, claimed_until=now + timedelta(seconds=lease_seconds))
        ).rowcount
        if claimed < len(rows):  # another process took some first
            mine = set(conn.execute(select(_D.id).where(_D.claimed_by == token)).scalars())
            rows = [row for row in rows if row.id in mine]
        return [
            Outgoing(
                row.id,
                token,
                row.url,
                row.secret,
                _body(session, row, base_url),
                row.event_type,
                row.attempts,
                row.attempts_at_replay,
                tuple(row.attempt_log or ()),
            )
            for row in rows
        ]


def _body(session: Session, row: Any, base_url: str) -> str:
    """What is POSTed: the event, or for the HubSpot preset its Forms API submission (made now,
    so a replay after fixing the mapping sends the fixed one)."""
    if row.preset != hubspot.PRESET or not row.preset_config:
        return encode(row.payload)
    data = row.payload.get("data") or {}
    campaign = session.get(Campaign, row.campaign_id)
    render = session.get(Render, data["render_id"]) if isinstance(data.get("render_id"), str) else None
    page_uri = (render_links(render, base_url)["landing_url"] if render else None) or base_url
    return encode(
        hubspot.submission(
            hubspot.HubSpotConfig.model_validate(row.preset_config),
            data,
            submitted_at=datetime.fromisoformat(row.payload["timestamp"].replace("Z", "+00:00")),
            page_uri=page_uri,
            page_name=campaign.name if campaign else "pvideo",
        )
    )


def record(db: Database, outcomes: Sequence[tuple[Outgoing, Attempt]], policy: RetryPolicy) -> list[str | None]:
    """Store attempts' outcomes in one transaction of two round trips: which claims are still
    held, then one ``UPDATE`` per outcome sent as one batch (each still checks its claim). Per
    outcome the new status, or None if the claim was no longer ours (a replay, or a takeover
    after the lease lapsed)."""
    if not outcomes:
        return []
    now = utcnow()
    with db.session() as session:
        conn = session.connection()
        held = dict(conn.execute(select(_D.id, _D.claimed_by).where(_D.id.in_([o.id for o, _ in outcomes]))).all())
        mine = [(o, a) for o, a in outcomes if held.get(o.id) == o.claim]
        values = {(o.id, o.claim): _outcome(o, a, policy, now) for o, a in mine}
        if mine:
            conn.execute(_RECORD, [{"b_id": i, "b_claim": c, **v} for (i, c), v in values.items()])
    return [str(values[o.id, o.claim]["status"]) if (o.id, o.claim) in values else None for o, _ in outcomes]


_OUTCOME_COLUMNS = (
    "attempts",
    "attempt_log",
    "last_status_code",
    "last_error",
    "last_latency_ms",
    "claimed_by",
    "claimed_until",
    "status",
    "delivered_at",
    "next_attempt_at",
)
_RECORD = (
    _DELIVERIES.update()
    .where(_D.id == bindparam("b_id"), _D.claimed_by == bindparam("b_claim"))
    .values({name: bindparam(name, type_=_D[name].type) for name in _OUTCOME_COLUMNS})
)
"""An attempt's outcome, if the claim is still the attempt's (executed for many at once)."""


def _outcome(outgoing: Outgoing, attempt: Attempt, policy: RetryPolicy, now: datetime) -> dict[str, Any]:
    attempts = outgoing.attempts + 1
    entry = {"at": _iso(now), "status": attempt.status, "latency_ms": attempt.latency_ms, "error": attempt.error}
    values: dict[str, Any] = {
        "attempts": attempts,
        "attempt_log": [*outgoing.attempt_log, entry][-LOGGED_ATTEMPTS:],
        "last_status_code": attempt.status,
        "last_error": attempt.error,
        "last_latency_ms": attempt.latency_ms,
        "claimed_by": None,
        "claimed_until": None,
    }
    failures = attempts - outgoing.attempts_at_replay
    values.update(status=DeliveryStatus.PENDING.value, delivered_at=None, next_attempt_at=now)
    if attempt.ok:
        values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now)
    elif failures >= policy.max_attempts:
        values.update(status=DeliveryStatus.FAILED.value)
    else:
        values.update(next_attempt_at=now + timedelta(seconds=policy.delay(failures)))
    return values
