"""A subscription's delivery log: read newest first, a page at a time, with counts by status;
and a delivery sent again from it (``replay``).

The cursor is opaque to callers: the last row's ``created_at`` and id, so a page never skips or
repeats a row however many deliveries are added meanwhile (they are newer: they come first).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from pvideo.db.engine import rows_changed
from pvideo.db.models import WebhookDelivery, utcnow
from pvideo.errors import DataError, NotFound
from pvideo.jobs.deliveries import DeliveryStatus
from pvideo.jobs.delivery_wake import wake_after_commit


class LogPage(NamedTuple):
    deliveries: list[WebhookDelivery]
    next_cursor: str | None


def _cursor(row: WebhookDelivery) -> str:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)  # SQLite: no zone
    return base64.urlsafe_b64encode(f"{created.isoformat()}|{row.id}".encode()).decode()


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        moment, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(moment), delivery_id
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise DataError("not a cursor this API returned", field="cursor") from None


def delivery_log(
    session: Session,
    subscription_id: str,
    *,
    status: DeliveryStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> LogPage:
    """A subscription's deliveries, newest first, ``limit`` at a time."""
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if cursor:
        created, last_id = _after(cursor)
        query = query.where(
            or_(
                WebhookDelivery.created_at < created,
                and_(WebhookDelivery.created_at == created, WebhookDelivery.id < last_id),
            )
        )
    newest_first = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    rows = list(session.scalars(newest_first.limit(limit + 1)))
    return LogPage(rows[:limit], _cursor(rows[limit - 1]) if len(rows) > limit else None)


def status_counts(session: Session, subscription_id: str) -> dict[str, int]:
    """How many of a subscription's deliveries are pending, delivered and failed."""
    rows = session.execute(
        select(WebhookDelivery.status, func.count())
        .where(WebhookDelivery.subscription_id == subscription_id)
        .group_by(WebhookDelivery.status)
    ).all()
    return {str(status): count for status, count in rows}


def get_delivery(session: Session, campaign_id: str, delivery_id: str) -> WebhookDelivery:
    row = session.get(WebhookDelivery, delivery_id) if len(delivery_id) <= 32 else None
    if row is None or row.campaign_id != campaign_id:
        raise NotFound(f"webhook delivery {delivery_id[:40]!r} not found in this campaign")
    return row


def replay(session: Session, campaign_id: str, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again now (whatever its status), with the same ``webhook-id``.

    One statement, so an attempt being recorded meanwhile either lands first (and its count is
    in the new budget's base) or finds its claim gone."""
    row = get_delivery(session, campaign_id, delivery_id)
    rows_changed(
        session,
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=DeliveryStatus.PENDING,
            next_attempt_at=utcnow(),
            claimed_by=None,
            claimed_until=None,
            attempts_at_replay=WebhookDelivery.attempts,
        ),
    )
    wake_after_commit(session)
    session.refresh(row)
    return row
