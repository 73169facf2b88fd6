"""Who renders a row, and when it is finished: conditional status transitions.

Every transition is one ``UPDATE ... WHERE status ...`` so two workers holding
copies of the same message (a redelivery after a presumed-dead worker, a
re-run fan-out batch) never both render a row:

* ``claim``: ``queued`` -> ``rendering``, or takes over a ``rendering`` row
  whose lease has run out (its worker died). The holder renews the lease
  while it works (``keep_lease``), so a live worker is never displaced.
  Each claim counts an attempt in the row itself, so however often a message
  is re-sent (a retry, a redelivery, the reconciler), a row gets at most
  ``max_attempts``; a claim past them fails the row with the reason.
* ``finish``/``fail``/``requeue``: only from an open state, so a cancelled or
  already-finished row is left as it is.
* ``complete_campaign``: sets ``completed_at`` once, when no row is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, true, update

from pvideo.db import leases
from pvideo.db.engine import Database, rows_changed
from pvideo.db.models import Campaign, Outputs, Render, RenderStatus, utcnow
from pvideo.errors import NotFound, RenderBusy


@dataclass(frozen=True)
class Job:
    """What a claimed render needs to run, copied out of the session."""

    render_id: str
    campaign_id: str
    scene: dict[str, Any]
    data: dict[str, Any]
    customer_id: str
    row_number: int
    attempts: int
    outputs: str = Outputs.BOTH  # the campaign's
    retention: dict[str, Any] | None = None  # the campaign's (``pvideo.jobs.privacy_options``)
    data_kept: bool = True  # False: the row's data was cleared after an earlier render (storage-less)


def claim(db: Database, render_id: str, lease_seconds: float, *, max_attempts: int | None = None) -> Job | str:
    """Claim ``render_id``; returns the ``Job``, or the final status if there is nothing to do.

    A row whose ``max_attempts`` are spent (its workers died, or could not record
    the outcome) is failed here with the last reason known. Raises ``RenderBusy``
    while another worker's lease is live, ``NotFound`` for an unknown id.
    """
    now = utcnow()
    lapsed = or_(Render.claimed_until.is_(None), Render.claimed_until < now)
    claimable = or_(Render.status == RenderStatus.QUEUED, and_(Render.status == RenderStatus.RENDERING, lapsed))
    budget = Render.attempts < max_attempts if max_attempts is not None else true()
    with db.session() as session:
        claimed = rows_changed(
            session,
            update(Render)
            .where(Render.id == render_id, claimable, budget)
            .values(
                status=RenderStatus.RENDERING,
                attempts=Render.attempts + 1,
                claimed_until=now + timedelta(seconds=lease_seconds),
                updated_at=now,
            ),
        )
        row = session.get(Render, render_id)
        if row is None:
            raise NotFound(f"render {render_id!r} not found")
        if not claimed:
            live = row.status == RenderStatus.RENDERING and row.claimed_until and _aware(row.claimed_until) >= now
            if live:
                left = (_aware(row.claimed_until) - now).total_seconds() if row.claimed_until else 0
                raise RenderBusy(
                    f"render {render_id} is held by another worker for {left:.0f} s", retry_after=max(left, 0) + 1
                )
            if row.status in RenderStatus.OPEN:  # open, claimable, but its attempts are spent
                reason = spent_reason(row.attempts, row.error)
                rows_changed(
                    session,
                    update(Render)
                    .where(Render.id == render_id, claimable)
                    .values(
                        status=RenderStatus.FAILED, error=reason, finished_at=now, claimed_until=None, updated_at=now
                    ),
                )
                return RenderStatus.FAILED
            return row.status
        if not isinstance(row.data, dict | None):  # written by hand or by a bug: rendering it cannot succeed
            reason = f"the stored customer data of row {row.row_number} is not an object"
            rows_changed(
                session,
                update(Render)
                .where(Render.id == render_id)
                .values(status=RenderStatus.FAILED, error=reason, finished_at=now, claimed_until=None, updated_at=now),
            )
            return RenderStatus.FAILED
        return Job(
            render_id=row.id,
            campaign_id=row.campaign_id,
            scene=row.campaign.scene,
            data=dict(row.data or {}),
            customer_id=row.customer_id,
            row_number=row.row_number,
            attempts=row.attempts,
            outputs=row.campaign.outputs,
            retention=row.campaign.retention,
            data_kept=row.data is not None,
        )


def spent_reason(attempts: int, last_error: str | None) -> str:
    """Why a row whose attempts ran out failed: the last error recorded, else a lost worker."""
    last = (last_error or "").removeprefix("retrying: ") or "the worker stopped (killed or lost) while rendering"
    return f"gave up after {attempts} attempts: {last}"


@contextmanager
def keep_lease(db: Database, render_id: str, lease_seconds: float) -> Iterator[None]:
    """Renew the row's lease every third of its length until the block ends."""

    def renew() -> None:
        with db.session() as session:
            session.execute(
                update(Render)
                .where(Render.id == render_id, Render.status == RenderStatus.RENDERING)
                .values(claimed_until=utcnow() + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)
            )

    with leases.renewing(renew, every=lease_seconds / 3, what=f"the claim of render {render_id}"):
        yield


def finish(db: Database, render_id: str, **values: Any) -> bool:
    """``rendering`` -> ``done`` with ``values``; False if the row was cancelled or finished meanwhile."""
    return _transition(
        db,
        render_id,
        (RenderStatus.RENDERING,),
        status=RenderStatus.DONE,
        error=None,
        finished_at=utcnow(),
        claimed_until=None,
        **values,
    )


def fail(db: Database, render_id: str, reason: str) -> bool:
    return _transition(
        db,
        render_id,
        RenderStatus.OPEN,
        status=RenderStatus.FAILED,
        error=reason,
        finished_at=utcnow(),
        claimed_until=None,
    )


def fail_lapsed(db: Database, render_id: str, reason: str, now: datetime) -> bool:
    """Fail a ``rendering`` row whose lease had lapsed by ``now`` (its worker is gone, its attempts spent)."""
    with db.session() as session:
        return bool(
            rows_changed(
                session,
                update(Render)
                .where(Render.id == render_id, Render.status == RenderStatus.RENDERING, Render.claimed_until < now)
                .values(status=RenderStatus.FAILED, error=reason, finished_at=now, claimed_until=None, updated_at=now),
            )
        )


def requeue(db: Database, render_id: str, reason: str) -> bool:
    return _transition(
        db,
        render_id,
        (RenderStatus.RENDERING,),
        status=RenderStatus.QUEUED,
        error=f"retrying: {reason}",
        claimed_until=None,
    )


def _transition(db: Database, render_id: str, sources: tuple[str, ...], **values: Any) -> bool:
    with db.session() as session:
        return bool(
            rows_changed(
                session,
                update(Render)
                .where(Render.id == render_id, Render.status.in_(sources))
                .values(updated_at=utcnow(), **values),
            )
        )


def complete_campaign(db: Database, campaign_id: str) -> bool:
    """Mark the campaign complete if no row is open; True only for the call that marked it."""
    with db.session() as session:
        open_rows = exists().where(Render.campaign_id == campaign_id, Render.status.in_(RenderStatus.OPEN))
        return bool(
            rows_changed(
                session,
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.completed_at.is_(None), ~open_rows)
                .values(completed_at=utcnow()),
            )
        )


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
