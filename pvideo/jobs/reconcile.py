"""The reconciler: the database says what work is open; make sure the queue has it.

Messages get lost in ordinary faults: Redis restarts empty, a message is
dead-lettered while the database was down (so nothing could be recorded), a
submission commits while Redis is unreachable, a worker is killed mid-render.
The rows stay ``queued`` or ``rendering`` with nothing to move them. One pass
(``reconcile``), run every ``reconcile_interval`` seconds by one worker of the
deployment (a database lease, ``pvideo.db.leases``), repairs all of them:

1. relays the outbox (campaigns submitted while Redis was down);
2. ``rendering`` rows whose lease lapsed (their worker died): sent again at the
   *front* of the queue, or failed with the reason once their attempts are spent;
3. ``queued`` rows the fan-out has passed, whose message is older than the grace
   period and no longer on the queue: sent again;
4. campaigns whose fan-out stopped (its message lost) before reaching every row:
   their fan-out is sent again (it resumes from its watermark).

Re-sending is always safe: a claim is a conditional update (``pvideo.jobs.claims``),
so a duplicate message finds the row taken or finished and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, exists, or_, select

from pvideo.db.engine import Database
from pvideo.db.models import (
    Campaign,
    CampaignStatus,
    OutboxEntry,
    Render,
    RenderMode,
    RenderStatus,
    utcnow,
)
from pvideo.jobs import claims, outbox
from pvideo.jobs.fanout import mark_enqueued

log = logging.getLogger(__name__)


class WorkQueue(Protocol):
    """What the reconciler needs of the queue (``workers.queue.RenderQueue`` on Redis or in-process)."""

    def send_renders(self, render_ids: Sequence[str], *, first: bool = False) -> None: ...

    def send_fan_out(self, campaign_id: str) -> None: ...

    def live_refs(self) -> Collection[str]:
        """The render and campaign ids that have a message waiting, delayed or in flight."""
        ...


@dataclass(frozen=True)
class Pass:
    """What one pass did, for the log and for tests."""

    relayed: int = 0
    rescued: int = 0
    """``rendering`` rows with a lapsed lease, sent again at the front."""
    resent: int = 0
    """``queued`` rows whose message was lost, sent again."""
    fanned_out: int = 0
    failed: int = 0
    """Rows failed because their attempts were spent."""

    def __bool__(self) -> bool:
        return any((self.relayed, self.rescued, self.resent, self.fanned_out, self.failed))


def reconcile(
    db: Database,
    queue: WorkQueue,
    *,
    grace_seconds: float,
    lease_seconds: float,
    max_attempts: int,
    limit: int = 1000,
    now: datetime | None = None,
) -> Pass:
    """One pass; see the module docstring. Raises if the database or the queue is down (the next pass retries)."""
    now = now or utcnow()
    relayed = outbox.relay(db, {outbox.FAN_OUT: queue.send_fan_out}, now=now)
    outbox.prune(db, now=now)
    rescued, failed = _rescue_lapsed(db, queue, now, lease_seconds, max_attempts, limit)
    resent, fanned_out = _resend_lost(db, queue, now, grace_seconds, limit)
    result = Pass(relayed=relayed, rescued=rescued, resent=resent, fanned_out=fanned_out, failed=failed)
    if result:
        log.info("reconciled: %s", result)
    return result


def _rescue_lapsed(
    db: Database, queue: WorkQueue, now: datetime, lease_seconds: float, max_attempts: int, limit: int
) -> tuple[int, int]:
    """``rendering`` rows whose worker stopped renewing the lease: to the front of the queue, or failed."""
    not_recently_sent = or_(Render.enqueued_at.is_(None), Render.enqueued_at < now - timedelta(seconds=lease_seconds))
    with db.session() as session:
        lapsed = session.execute(
            select(Render.id, Render.attempts, Render.error)
            .where(Render.status == RenderStatus.RENDERING, Render.claimed_until < now, not_recently_sent)
            .order_by(Render.claimed_until)
            .limit(limit)
        ).all()
    spent = [
        (render_id, claims.spent_reason(attempts, error))
        for render_id, attempts, error in lapsed
        if attempts >= max_attempts
    ]
    failed = sum(claims.fail_lapsed(db, render_id, reason, now) for render_id, reason in spent)
    again = [render_id for render_id, attempts, _ in lapsed if attempts < max_attempts]
    _send(db, again, lambda ids: queue.send_renders(ids, first=True))
    return len(again), failed


def _resend_lost(db: Database, queue: WorkQueue, now: datetime, grace_seconds: float, limit: int) -> tuple[int, int]:
    """``queued`` rows and fan-outs whose message is gone: send them again."""
    before = now - timedelta(seconds=grace_seconds)
    eager = and_(Campaign.status == CampaignStatus.ACTIVE, Campaign.render_mode == RenderMode.EAGER)
    with db.session() as session:
        rows = (
            session.execute(
                select(Render.id)
                .join(Campaign, Campaign.id == Render.campaign_id)
                .where(
                    eager,
                    Render.status == RenderStatus.QUEUED,
                    Render.row_number <= Campaign.enqueued_through,
                    or_(Render.enqueued_at < before, and_(Render.enqueued_at.is_(None), Render.created_at < before)),
                )
                .order_by(Render.enqueued_at.nulls_first())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        pending_or_recent = exists().where(
            OutboxEntry.ref == Campaign.id,
            or_(OutboxEntry.sent_at.is_(None), OutboxEntry.sent_at >= before),
        )
        beyond_watermark = exists().where(
            Render.campaign_id == Campaign.id,
            Render.status == RenderStatus.QUEUED,
            Render.row_number > Campaign.enqueued_through,
        )
        stalled = (
            session.execute(
                select(Campaign.id)
                .where(eager, Campaign.created_at < before, beyond_watermark, ~pending_or_recent)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    if not rows and not stalled:
        return 0, 0
    live = queue.live_refs()
    lost = [render_id for render_id in rows if render_id not in live]
    with db.session() as session:  # the live ones are fine: look at them again after the grace period
        mark_enqueued(session, [render_id for render_id in rows if render_id in live])
    _send(db, lost, queue.send_renders)
    fanned_out = 0
    for campaign_id in stalled:
        if campaign_id not in live:
            with db.session() as session:
                entry = outbox.add(session, outbox.FAN_OUT, campaign_id)
            outbox.dispatch(db, entry.id, queue.send_fan_out)
            fanned_out += 1
    return len(lost), fanned_out


def _send(db: Database, render_ids: list[str], send: Callable[[Sequence[str]], None]) -> None:
    if render_ids:
        send(render_ids)
        with db.session() as session:
            mark_enqueued(session, render_ids)
