"""A campaign followed live: its progress and the rows that failed since the last look.

The studio's campaign page asks for a ``LiveUpdate`` every second (Server-Sent Events, or
polling), each time in a fresh, short session. A cursor, the (finish time, row) of the
last failure sent, makes each update carry only the failures that are new to the page; it
is the event id, so a reconnecting ``EventSource`` resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pvideo.db.models import Render, RenderStatus
from pvideo.jobs.campaigns import Progress, progress

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAILURES_PER_UPDATE = 100


@dataclass(frozen=True)
class Failure:
    row: int
    customer_id: str
    error: str
    cursor: str


@dataclass(frozen=True)
class LiveUpdate:
    progress: Progress
    failures: list[Failure]
    cursor: str | None
    """The last failure sent (or the cursor asked with): the next update's starting point."""

    @property
    def open(self) -> int:
        return sum(self.progress.counts[s] for s in RenderStatus.OPEN)

    @property
    def percent(self) -> int:
        p = self.progress
        return round(100 * p.finished / p.total) if p.total else 100

    @property
    def eta(self) -> str:
        return eta_text(self.progress.eta_seconds)

    @property
    def complete(self) -> bool:
        """No row is queued or rendering: nothing will change unless someone retries."""
        return self.open == 0

    def to_json(self) -> dict[str, Any]:
        p = self.progress
        return {
            "counts": p.counts,
            "total": p.total,
            "finished": p.finished,
            "percent": self.percent,
            "rate_per_minute": p.rate_per_minute,
            "eta_seconds": p.eta_seconds,
            "eta": self.eta,
            "complete": self.complete,
            "failures": [{"row": f.row, "customer_id": f.customer_id, "error": f.error} for f in self.failures],
            "cursor": self.cursor,
        }


def eta_text(seconds: float | None) -> str:
    """``2 h 5 min``, ``3 min 20 s``, ``45 s``; ``done`` at zero; ``unknown`` before anything finished."""
    if seconds is None:
        return "unknown"
    if seconds <= 0:
        return "done"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def make_cursor(finished_at: datetime, row: int) -> str:
    micros = (_utc(finished_at) - EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{row}"


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """A cursor back as (finish time, row); ``None`` (from the start) for anything else."""
    micros, _, row = (value or "").partition(".")
    if not (micros.isdigit() and row.isdigit() and len(micros) <= 18 and len(row) <= 10):
        return None
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(row)
    except OverflowError:
        return None


def failures_after(
    session: Session, campaign_id: str, cursor: str | None, *, limit: int = FAILURES_PER_UPDATE
) -> list[Failure]:
    """The campaign's failed rows past ``cursor``, in the order they failed (then by row)."""
    query = select(Render.row_number, Render.customer_id, Render.error, Render.finished_at).where(
        Render.campaign_id == campaign_id, Render.status == RenderStatus.FAILED, Render.finished_at.is_not(None)
    )
    after = parse_cursor(cursor)
    if after is not None:
        at, row = after
        naive = at.replace(tzinfo=None)  # stored naive (UTC) by SQLite; PostgreSQL compares the same
        query = query.where(or_(Render.finished_at > naive, and_(Render.finished_at == naive, Render.row_number > row)))
    rows = session.execute(query.order_by(Render.finished_at, Render.row_number).limit(limit)).all()
    return [Failure(r.row_number, r.customer_id, r.error or "", make_cursor(r.finished_at, r.row_number)) for r in rows]


def live_update(
    session: Session,
    campaign_id: str,
    cursor: str | None,
    *,
    window_seconds: float = 300.0,
    limit: int = FAILURES_PER_UPDATE,
) -> LiveUpdate:
    """Progress now, and (up to ``limit`` of) the failures since ``cursor``; raises ``NotFound``
    for an unknown campaign."""
    now = progress(session, campaign_id, window_seconds=window_seconds)
    failures = failures_after(session, campaign_id, cursor, limit=limit)
    return LiveUpdate(now, failures, failures[-1].cursor if failures else cursor)
