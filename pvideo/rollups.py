"""Per-session rollups (``watch_sessions``): what analytics reads instead of every event.

Whenever a batch is stored, each session it touched is rebuilt from all of
its events (so arrival order never matters). On PostgreSQL the rollup row is
locked first, so two batches of one session rebuild one after the other and
the second sees the first's events. ``rebuild_campaign`` recomputes a whole
campaign from its events (backfill after a migration or a bulk load).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pvideo.models import Event, Render, WatchSession
from pvideo.watching import watched_intervals

_COLUMNS = (Event.type, Event.position, Event.device, Event.occurred_at, Event.received_at)


def _insert(session: Session):
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[session.get_bind().dialect.name]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def summarize(rows: Iterable[tuple[str, float | None, str | None, datetime | None, datetime]]) -> dict[str, Any]:
    """One session's rollup from its ``(type, position, device, occurred_at, received_at)`` rows in order."""
    rows = list(rows)
    starts = [_aware(occurred or received) for _, _, _, occurred, received in rows]
    devices = [d for _, _, d, _, _ in rows if d]
    kinds = [k for k, *_ in rows]
    return {"started": min(starts) if starts else None, "device": max(devices) if devices else None,
            "page_views": kinds.count("page_view"), "played": "play" in kinds,
            "ended": "end" in kinds or "ended" in kinds, "events": len(rows),
            "intervals": [[s, e] for s, e in watched_intervals((k, p) for k, p, *_ in rows)]}


def refresh_sessions(session: Session, render: Render, session_ids: Iterable[str | None]) -> None:
    """Rebuild the rollups of ``render``'s sessions ``session_ids`` (None: events without a session)."""
    insert = _insert(session)
    for sid in sorted({s or "" for s in session_ids}):
        session.execute(insert(WatchSession).values(render_id=render.id, session_id=sid,
                                                    campaign_id=render.campaign_id, intervals=[])
                        .on_conflict_do_nothing(index_elements=["render_id", "session_id"]))
        session.execute(select(WatchSession.render_id).where(WatchSession.render_id == render.id,
                                                             WatchSession.session_id == sid).with_for_update())
        match = Event.session_id == sid if sid else Event.session_id.is_(None)
        rows = session.execute(select(*_COLUMNS).where(Event.render_id == render.id, match)
                               .order_by(Event.seq, Event.id)).all()
        session.execute(WatchSession.__table__.update()
                        .where(WatchSession.render_id == render.id, WatchSession.session_id == sid)
                        .values(**summarize(rows)))


def rebuild_campaign(session: Session, campaign_id: str, *, chunk: int = 5000) -> int:
    """Recompute every session rollup of a campaign from its events, streaming; return how many."""
    session.execute(WatchSession.__table__.delete().where(WatchSession.campaign_id == campaign_id))
    query = (select(Event.render_id, func.coalesce(Event.session_id, ""), *_COLUMNS)
             .where(Event.campaign_id == campaign_id)
             .order_by(Event.render_id, func.coalesce(Event.session_id, ""), Event.seq, Event.id))
    pending: list[dict[str, Any]] = []
    key, rows, count = None, [], 0

    def close() -> None:
        nonlocal count
        if key is not None:
            pending.append({"render_id": key[0], "session_id": key[1], "campaign_id": campaign_id, **summarize(rows)})
            count += 1
        if len(pending) >= chunk:
            session.execute(WatchSession.__table__.insert(), pending)
            pending.clear()

    for render_id, sid, *row in session.execute(query.execution_options(yield_per=chunk)):
        if (render_id, sid) != key:
            close()
            key, rows = (render_id, sid), []
        rows.append(tuple(row))
    close()
    if pending:
        session.execute(WatchSession.__table__.insert(), pending)
    return count
