"""The outbox: queue hand-offs committed with the change that needs them.

``POST /api/campaigns`` must not lose a campaign when Redis is down, nor
answer 500 after committing it. So submitting writes an outbox entry
(``fan_out``, the campaign id) in the campaign's own transaction; after the
commit the API tries to send it at once (``dispatch``), and if Redis is
unreachable it answers 202 and leaves the entry pending. The reconciler
(``pvideo.jobs.reconcile``) relays pending entries every few seconds, so the
campaign starts as soon as Redis is back. A fan-out sent twice (the API and the
relay racing) is harmless: fan-out resumes from its watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pvideo.db.engine import Database, rows_changed
from pvideo.db.models import OutboxEntry, utcnow

log = logging.getLogger(__name__)

FAN_OUT = "fan_out"

Senders = dict[str, Callable[[str], None]]
"""What sends each kind of entry: ``{"fan_out": send_fan_out}``."""


def add(session: Session, kind: str, ref: str) -> OutboxEntry:
    """Record a hand-off in the caller's transaction; it commits (or not) with the caller's change."""
    entry = OutboxEntry(kind=kind, ref=ref, created_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def dispatch(db: Database, entry_id: int, send: Callable[[str], None]) -> bool:
    """Send one entry now; False (entry kept pending) if sending fails. Raises nothing from ``send``."""
    with db.session() as session:
        entry = session.get(OutboxEntry, entry_id)
        if entry is None or entry.sent_at is not None:
            return True
        ref = entry.ref
    try:
        send(ref)
    except Exception as exc:
        log.warning("outbox entry %s (%s) not sent, the reconciler will: %s", entry_id, ref, exc)
        return False
    _mark_sent(db, entry_id)
    return True


def relay(
    db: Database, senders: Senders, *, now: datetime | None = None, older_than: float = 2.0, limit: int = 100
) -> int:
    """Send pending entries created over ``older_than`` seconds ago (the API sends fresh ones itself).

    Stops at the first failure (the queue is down: the rest would fail too) and
    returns how many were sent.
    """
    with db.session() as session:
        pending = session.execute(
            select(OutboxEntry.id, OutboxEntry.kind, OutboxEntry.ref)
            .where(
                OutboxEntry.sent_at.is_(None),
                OutboxEntry.created_at < (now or utcnow()) - timedelta(seconds=older_than),
            )
            .order_by(OutboxEntry.id)
            .limit(limit)
        ).all()
    sent = 0
    for entry_id, kind, ref in pending:
        send = senders.get(kind)
        if send is None:
            log.error("outbox entry %s has an unknown kind %r; left pending", entry_id, kind)
            continue
        send(ref)
        _mark_sent(db, entry_id)
        sent += 1
    return sent


def prune(db: Database, *, now: datetime | None = None, keep_days: float = 7.0) -> int:
    """Delete entries sent more than ``keep_days`` ago (kept a while to show what was handed off, and when)."""
    with db.session() as session:
        return rows_changed(
            session,
            delete(OutboxEntry).where(OutboxEntry.sent_at < (now or utcnow()) - timedelta(days=keep_days)),
        )


def _mark_sent(db: Database, entry_id: int) -> None:
    with db.session() as session:
        rows_changed(
            session,
            update(OutboxEntry)
            .where(OutboxEntry.id == entry_id, OutboxEntry.sent_at.is_(None))
            .values(sent_at=utcnow()),
        )
