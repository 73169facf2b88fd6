"""Rollups that analytics reads instead of events: per session (``watch_sessions``), per viewer
(``watch_viewers``) and per session and CTA (``watch_ctas``).

``apply`` folds newly stored events into them in the same transaction, a set at a time (one
statement per step for a whole group of requests). A viewer's row is its lock: taken in render id
order before its sessions are read, so batches of one viewer apply one after the other and see
each other's events. A session whose new events all come after its last ``seq`` (the usual case)
is extended from its stored state (where its position stream stopped); any other (out-of-order
arrival, events without ``seq``) is rebuilt from all its events, so arrival order never changes
a number. A viewer is then recomputed from all its sessions. ``rebuild_campaign`` recomputes a
campaign's rollups from its events (after a bulk load or a migration).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvideo.db.bulk import insert_rows, on_conflict, one_of
from pvideo.db.models import Event, Render, WatchCta, WatchSession, WatchViewer
from pvideo.tracking.watching import bucket_mask, clip, credit, merge


class EventRow(NamedTuple):
    """An event as the rollups read it (``_COLUMNS``), in sequence order within its session."""

    type: str
    position: float | None
    device: str | None
    occurred_at: datetime | None
    received_at: datetime
    seq: int | None


class SessionRow(NamedTuple):
    """A session as a viewer's rollup reads it."""

    session_id: str
    started: datetime
    device: str | None
    page_views: int
    played: bool
    ended: bool
    intervals: list[list[float]]


# Core tables and columns: ORM statements cost more in Python than the database takes, and ORM bulk
# upserts went to the database row by row
_EVENTS, _SESSIONS, _VIEWERS, _CTAS = (m.__table__ for m in (Event, WatchSession, WatchViewer, WatchCta))
_COLUMNS = tuple(_EVENTS.c[k] for k in EventRow._fields)
_STATE = (
    "started",
    "device",
    "page_views",
    "played",
    "ended",
    "events",
    "intervals",
    "last_seq",
    "last_kind",
    "last_position",
)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def fold(state: dict[str, Any] | None, rows: Iterable[EventRow]) -> dict[str, Any]:
    """A session's rollup after ``rows`` (in sequence order) follow the events ``state`` summed up."""
    state = (
        dict(state)
        if state
        else {
            "started": None,
            "device": None,
            "page_views": 0,
            "played": False,
            "ended": False,
            "events": 0,
            "intervals": [],
            "last_seq": None,
            "last_kind": None,
            "last_position": None,
            "_fresh": True,
        }
    )
    rows = list(rows)
    previous = (state["last_kind"], state["last_position"]) if state["last_kind"] is not None else None
    credited, previous = credit(((r.type, r.position) for r in rows), previous)
    starts = [_aware(r.occurred_at or r.received_at) for r in rows]
    if state["started"] is not None:
        starts.append(_aware(state["started"]))
    devices = [r.device for r in rows if r.device] + ([state["device"]] if state["device"] else [])
    kinds = [r.type for r in rows]
    seqs = [r.seq for r in rows if r.seq is not None]
    appendable = (state.pop("_fresh", False) or state["last_seq"] is not None) and len(seqs) == len(rows)
    state.update(
        started=min(starts) if starts else None,
        device=max(devices) if devices else None,
        page_views=state["page_views"] + kinds.count("page_view"),
        played=state["played"] or "play" in kinds,
        ended=state["ended"] or "end" in kinds or "ended" in kinds,
        events=state["events"] + len(rows),
        intervals=[[s, e] for s, e in merge([tuple(i) for i in state["intervals"]] + credited)],
        last_seq=(max([state["last_seq"] or 0, *seqs]) if appendable else None),
        last_kind=previous[0] if previous else None,
        last_position=previous[1] if previous else None,
    )
    return state


def summarize(rows: Iterable[EventRow]) -> dict[str, Any]:
    """One session's rollup from all its rows in order."""
    return fold(None, rows)


def viewer_rollup(sessions: Sequence[SessionRow], duration: float | None) -> dict[str, Any]:
    """A viewer from its sessions: its first session's start and device, what any session did, and
    its watched content (the union of all sessions' intervals, clipped to the video) as seconds and
    drop-off buckets."""
    first = min(sessions, key=lambda s: (_aware(s.started), s.session_id))
    raw = [(float(s), float(e)) for session in sessions for s, e in session.intervals or []]
    intervals = clip(raw, duration) if duration else merge(raw)
    return {
        "started": _aware(first.started),
        "device": first.device or "unknown",
        "opened": any(s.page_views > 0 for s in sessions),
        "played": any(s.played for s in sessions),
        "ended": any(s.ended for s in sessions),
        "duration": duration,
        "watched": sum(e - s for s, e in intervals),
        "buckets": bucket_mask(intervals, duration or 0.0),
    }


def apply(session: Session, stored: Sequence[dict[str, Any]], renders: dict[str, tuple[str, float | None]]) -> None:
    """Fold newly ``stored`` event rows (with their ``id``) into the rollups of their sessions, viewers
    and CTAs; ``renders`` maps each render id to its (campaign id, duration)."""
    if not stored:
        return
    by_session: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in stored:
        by_session[(row["render_id"], row["session_id"] or "")].append(row)
    touched = sorted({rid for rid, _ in by_session})
    conn = session.connection()
    # one statement creates the missing viewer rows and locks them all (an upsert locks its row)
    insert_rows(
        conn,
        _VIEWERS,
        [
            {
                "render_id": rid,
                "campaign_id": renders[rid][0],
                "opened": False,
                "played": False,
                "ended": False,
                "watched": 0.0,
                "buckets": 0,
            }
            for rid in touched
        ],
        conflict=on_conflict(["render_id"], campaign_id="excluded.campaign_id"),
    )
    states = {
        (rid, sid): dict(zip(_STATE, state, strict=True))
        for rid, sid, *state in conn.execute(
            select(_SESSIONS.c.render_id, _SESSIONS.c.session_id, *(_SESSIONS.c[k] for k in _STATE)).where(
                one_of(conn, _SESSIONS.c.render_id, touched)
            )
        ).all()
    }
    rebuild = []
    for key, rows in by_session.items():
        state, seqs = states.get(key), [r["seq"] for r in rows]
        if None not in seqs and (state is None or (state["last_seq"] is not None and min(seqs) > state["last_seq"])):
            rows.sort(key=lambda r: (r["seq"], r["id"]))
            states[key] = fold(state, (EventRow._make(r[k] for k in EventRow._fields) for r in rows))
        else:
            rebuild.append(key)
    states.update(_rebuilt(session, rebuild))
    _store_sessions(session, {key: states[key] for key in by_session}, renders)
    _store_viewers(session, touched, states, renders)
    _add_ctas(session, stored, renders)


def _rebuilt(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    if not keys:
        return {}
    wanted = set(keys)
    sid = func.coalesce(_EVENTS.c.session_id, "")
    rows: dict[tuple[str, str], list[EventRow]] = defaultdict(list)
    query = (
        select(_EVENTS.c.render_id, sid, *_COLUMNS)
        .where(_EVENTS.c.render_id.in_({r for r, _ in keys}))
        .order_by(_EVENTS.c.render_id, sid, _EVENTS.c.seq, _EVENTS.c.id)
    )
    for render_id, session_id, *row in session.connection().execute(query):
        if (render_id, session_id) in wanted:
            rows[(render_id, session_id)].append(EventRow._make(row))
    return {key: summarize(rows[key]) for key in keys}


def _store_sessions(
    session: Session, states: dict[tuple[str, str], dict[str, Any]], renders: dict[str, tuple[str, float | None]]
) -> None:
    rows = [
        {"render_id": rid, "session_id": sid, "campaign_id": renders[rid][0], **{k: state[k] for k in _STATE}}
        for (rid, sid), state in sorted(states.items())
    ]
    insert_rows(session.connection(), _SESSIONS, rows, conflict=on_conflict(["render_id", "session_id"], _STATE))


def _store_viewers(
    session: Session,
    touched: list[str],
    states: dict[tuple[str, str], dict[str, Any]],
    renders: dict[str, tuple[str, float | None]],
) -> None:
    """Recompute each touched viewer from all its sessions (those read, plus those just changed)."""
    per_viewer: dict[str, list[SessionRow]] = defaultdict(list)
    for (rid, sid), s in states.items():
        if s["events"] > 0:
            per_viewer[rid].append(
                SessionRow(sid, s["started"], s["device"], s["page_views"], s["played"], s["ended"], s["intervals"])
            )
    columns = ("started", "device", "opened", "played", "ended", "duration", "watched", "buckets")
    rows = [
        {"render_id": rid, "campaign_id": renders[rid][0], **viewer_rollup(per_viewer[rid], renders[rid][1])}
        for rid in touched
        if per_viewer[rid]
    ]
    insert_rows(session.connection(), _VIEWERS, rows, conflict=on_conflict(["render_id"], columns))


def _add_ctas(session: Session, stored: Sequence[dict[str, Any]], renders: dict[str, tuple[str, float | None]]) -> None:
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in stored:
        if row["type"] in ("cta_impression", "cta_click") and row["cta_id"]:
            counts[(row["render_id"], row["session_id"] or "", row["cta_id"])][row["type"] == "cta_click"] += 1
    if not counts:
        return
    conflict = on_conflict(
        ["render_id", "session_id", "cta_id"],
        impressions="watch_ctas.impressions + excluded.impressions",
        clicks="watch_ctas.clicks + excluded.clicks",
    )
    rows = [
        {
            "render_id": rid,
            "session_id": sid,
            "cta_id": cta,
            "campaign_id": renders[rid][0],
            "impressions": n[0],
            "clicks": n[1],
        }
        for (rid, sid, cta), n in sorted(counts.items())
    ]
    insert_rows(session.connection(), _CTAS, rows, conflict=conflict)


def rebuild_campaign(session: Session, campaign_id: str, *, chunk: int = 5000) -> int:
    """Recompute every rollup of a campaign from its events, streaming; return how many sessions."""
    for table in (WatchCta, WatchViewer, WatchSession):
        session.execute(table.__table__.delete().where(table.campaign_id == campaign_id))
    sid = func.coalesce(Event.session_id, "")
    query = (
        select(Event.render_id, sid, Event.cta_id, *_COLUMNS)
        .where(Event.campaign_id == campaign_id)
        .order_by(Event.render_id, sid, Event.seq, Event.id)
    )
    durations = dict(session.execute(select(Render.id, Render.duration).where(Render.campaign_id == campaign_id)).all())
    renders = {rid: (campaign_id, duration) for rid, duration in durations.items()}
    sessions: dict[tuple[str, str], dict[str, Any]] = {}
    ctas: list[dict[str, Any]] = []
    key: tuple[str, str] | None = None
    rows: list[EventRow] = []
    count = 0

    def close() -> None:
        nonlocal count
        if key is not None:
            sessions[key] = summarize(rows)
            count += 1

    def flush() -> None:
        _store_sessions(session, sessions, renders)
        _store_viewers(session, sorted({rid for rid, _ in sessions}), sessions, renders)
        sessions.clear()

    for render_id, session_id, cta_id, *row in session.execute(query.execution_options(yield_per=chunk)):
        if (render_id, session_id) != key:
            close()
            if key is not None and len(sessions) >= chunk and key[0] != render_id:
                flush()  # every session of the viewers read so far is complete
            key, rows = (render_id, session_id), []
        event = EventRow._make(row)
        rows.append(event)
        if cta_id and event.type in ("cta_impression", "cta_click"):
            ctas.append({"render_id": render_id, "session_id": session_id, "cta_id": cta_id, "type": event.type})
    close()
    if sessions:
        flush()
    for start in range(0, len(ctas), chunk * 10):
        _add_ctas(session, ctas[start : start + chunk * 10], renders)
    return count
