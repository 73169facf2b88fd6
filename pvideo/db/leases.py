"""Named leases in the database: one holder at a time, across processes and machines.

A lease is a row (``leases``) with a holder and an expiry. ``acquire`` takes a
free or lapsed lease, or renews one the caller already holds, in one
conditional statement, so two contenders never both win. A holder that dies
simply stops renewing, and the lease is free again when it lapses. Used for
the reconciler (one pass at a time in a whole deployment) and for ingesting a
template version once across worker machines.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.exc import IntegrityError

from pvideo.db.engine import Database, rows_changed
from pvideo.db.models import Lease, utcnow

log = logging.getLogger(__name__)


def new_holder() -> str:
    """A holder name that says which machine and process holds a lease (for operators)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(db: Database, name: str, holder: str, seconds: float) -> bool:
    """Take ``name`` for ``seconds`` (or extend it, if ``holder`` has it); False while another holds it."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    with db.session() as session:
        taken = rows_changed(
            session,
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=until),
        )
    if taken:
        return True
    try:
        with db.session() as session:
            session.execute(insert(Lease).values(name=name, holder=holder, expires_at=until))
    except IntegrityError:  # someone else holds it (or took it between our two statements)
        return False
    return True


def release(db: Database, name: str, holder: str) -> None:
    """Give ``name`` up now, if ``holder`` still has it."""
    with db.session() as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


@contextmanager
def renewed(db: Database, name: str, holder: str, seconds: float) -> Iterator[None]:
    """Keep ``name`` (acquired by ``holder``) for the block, renewed every third of ``seconds``; release it after.

    Work that outlasts one lease period keeps it while the holder lives. A renewal
    that fails (database unreachable, or the lease lapsed and someone took it over)
    is logged and the block goes on: whatever it guards must tolerate a second
    holder (the lease saves duplicate work; correctness never rests on it).
    """

    def renew() -> None:
        if not acquire(db, name, holder, seconds):
            log.warning("lease %s lapsed and was taken over while %s held it", name, holder)

    with renewing(renew, every=seconds / 3, what=f"lease {name}"):
        yield
    try:
        release(db, name, holder)
    except Exception as exc:  # it lapses on its own
        log.warning("cannot release lease %s: %s", name, exc)


@contextmanager
def renewing(renew: Callable[[], None], *, every: float, what: str) -> Iterator[None]:
    """Call ``renew`` every ``every`` seconds in a background thread while the block runs.

    A failing renewal (the database may be down for a while) is logged and tried again
    at the next tick; the block is never interrupted. Used for named leases and for a
    render's claim (``pvideo.jobs.claims.keep_lease``).
    """
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                renew()
            except Exception as exc:
                log.warning("cannot renew %s: %s", what, exc)

    thread = threading.Thread(target=loop, name=f"renew-{what[:24]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
