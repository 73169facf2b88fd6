"""Per-campaign engagement numbers, each defined once, here.

Units. A *viewer* is a render (one per customer: the link is personal and
carries no other identity). A *session* is one tracker session id of a
render (a tab; reloads in it keep it). Events without a session id (the
first tracker, the no-JS click redirect) form one session per render.

Time. A session's *start* is its earliest ``occurred_at`` (client time
corrected for clock skew, see ``pvideo.tracking.events``). ``start``/``end`` dates
(UTC, inclusive) select the sessions that started in the range; every number
below counts only those sessions. A viewer's *day* and *device* are those of
its first selected session; ``by_day``/``by_device`` split viewers by them
(``sessions``/``page_views`` by each session's own day and device).

Watched content. Within a session, position events (play, pause, seek_start,
seek_end, percent_progress, ping, end, and the old progress/ended) are
ordered by the tracker's sequence number (then arrival), never by client
time. The segment between two consecutive ones is *watched* when the first
opens playback (play, ping, percent_progress, progress, seek_end), the second
continues or closes it (ping, percent_progress, progress, pause, end, ended,
seek_start), and the position moved forward by at most 25 s (more is a jump
nobody watched; ``pvideo.tracking.watching``). A viewer's watched content is the union
of its segments over all selected sessions: rewatched seconds count once.

Everything is read from rollups (``pvideo.tracking.rollups``) kept as events are
stored: sessions, CTA counts per session, and viewers (first session, watched
seconds and drop-off buckets of the union). With a date range, the viewers are
recomputed from the selected sessions by the same function
(``rollups.viewer_rollup``); so is a viewer whose rollup is missing or was
computed for another video duration.

Metrics.
- ``rendered``: renders with status done (not date-filtered).
- ``page_views``: page_view events. ``sessions``: selected sessions.
- ``links_opened``: viewers with a page_view. ``open_rate`` = links_opened / rendered.
- ``unique_viewers``: viewers who played: a play event or any watched second.
  ``play_rate`` = unique_viewers / links_opened.
- ``content_watched_seconds``: sum over viewers of watched content (union).
- ``avg_percent_watched``: mean over unique_viewers of watched / video duration x 100.
- ``completed_viewers``: unique_viewers with >= 90 % watched;
  ``completion_rate`` = completed_viewers / unique_viewers.
- ``funnel``: rendered, opened, played, watched >= 25 %, >= 50 %, >= 75 %, completed (>= 90 %).
- ``drop_off``: per 5 % bucket of the video, the unique_viewers whose watched
  content covers the bucket's midpoint (count, and share of unique_viewers).
- ``ctas``: per CTA id: impression and click events, ``impressed`` and
  ``clickers`` (distinct viewers), ``ctr`` = viewers who clicked after an
  impression / impressed viewers (``pvideo.tracking.ctas``).
- ``interactions``: per interaction of the scene, shown, answered, skipped, the answer rate and
  its results (poll bars, NPS, ratings, form submissions, branches and their completion),
  defined in ``pvideo.tracking.interaction_stats``.
- Kept for the first API's clients: ``landing_views`` (= page_views),
  ``viewers`` (= links_opened), ``plays`` (viewers with a play event),
  ``completions`` (viewers with an end/ended event), ``cta_clicks``
  ({cta: {clicks, clickers}}).
Rates are fractions rounded to 4 places; percents and seconds to 2.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, SQLColumnExpression, String, Text, case, cast, func, or_, select
from sqlalchemy.orm import Session

from pvideo.db.models import Render, WatchSession, WatchViewer
from pvideo.jobs.campaigns import get_campaign, status_counts
from pvideo.tracking.ctas import cta_table
from pvideo.tracking.interaction_stats import interaction_table
from pvideo.tracking.rollups import SessionRow, viewer_rollup
from pvideo.tracking.watching import BUCKETS

COMPLETE = 0.9
QUARTILES = (25, 50, 75)


class _Viewer(NamedTuple):
    render_id: str
    started: datetime | str
    day: str
    device: str
    opened: bool
    play_event: bool
    end_event: bool
    duration: float
    watched: float
    buckets: int  # drop-off buckets covered, bit b = bucket b
    played: bool  # a play event or any watched second
    fraction: float  # of the video watched, at most 1


class _Session(NamedTuple):
    """A session as ``_SESSION`` reads it, its start in UTC and its device named."""

    render_id: str
    session_id: str
    started: datetime
    device: str
    page_views: int
    played: bool
    ended: bool
    intervals: str | None  # JSON


def _viewer(
    render_id: str,
    started: datetime,
    device: str,
    opened: bool,
    play_event: bool,
    end_event: bool,
    duration: float,
    watched: float,
    buckets: int,
) -> _Viewer:
    return _Viewer(
        render_id,
        started,
        started.date().isoformat(),
        device,
        opened,
        play_event,
        end_event,
        duration,
        watched,
        buckets,
        play_event or watched > 0,
        min(1.0, watched / duration) if duration else 0.0,
    )


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rate(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _day(conn: Connection, column: SQLColumnExpression[Any]) -> SQLColumnExpression[Any]:
    """A timestamp's UTC day as YYYY-MM-DD text."""
    if conn.dialect.name == "postgresql":
        return cast(func.date(func.timezone("UTC", column)), String)
    return func.substr(column, 1, 10)  # SQLite keeps UTC timestamps as ISO text


def campaign_analytics(
    session: Session, campaign_id: str, *, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Every number of the module docstring for one campaign, optionally for sessions in [start, end]."""
    campaign = get_campaign(session, campaign_id)
    conn = session.connection()  # Core rows: the ORM's per-row work doubled the run time
    groups: dict[tuple[str, str], list[int]]  # (day, device) -> [sessions, page views]
    if start is None and end is None:
        groups = _session_groups(conn, campaign_id)
        viewers = _stored_viewers(conn, campaign_id)
    else:
        sessions = _sessions_in(conn, campaign_id, start, end)
        groups = defaultdict(lambda: [0, 0])
        for s in sessions:
            counts = groups[(s.started.date().isoformat(), s.device)]
            counts[0] += 1
            counts[1] += s.page_views
        durations = dict(
            conn.execute(select(Render.id, Render.duration).where(Render.campaign_id == campaign_id)).all()
        )
        viewers = sorted(_viewers_of(sessions, durations), key=attrgetter("started", "render_id"))

    by_day: dict[str, dict[str, int]] = defaultdict(lambda: {"sessions": 0, "page_views": 0})
    by_device: dict[str, dict[str, int]] = defaultdict(lambda: {"sessions": 0, "page_views": 0})
    for (day, device), (n, views) in groups.items():
        for group in (by_day[day], by_device[device]):
            group["sessions"] += n
            group["page_views"] += views
    viewers_by_day: dict[str, list[_Viewer]] = defaultdict(list)
    viewers_by_device: dict[str, list[_Viewer]] = defaultdict(list)
    for v in viewers:
        viewers_by_day[v.day].append(v)
        viewers_by_device[v.device].append(v)

    ctas = cta_table(conn, campaign, start, end)
    renders = status_counts(session, campaign_id)
    summary = _summary(viewers, renders["done"])
    page_views = sum(views for _, views in groups.values())
    return {
        "campaign_id": campaign_id,
        "range": {"start": start.isoformat() if start else None, "end": end.isoformat() if end else None},
        "renders": renders,
        "rendered": renders["done"],
        "sessions": sum(n for n, _ in groups.values()),
        "page_views": page_views,
        **summary,
        "ctas": ctas,
        "interactions": interaction_table(conn, campaign, start, end),
        "by_day": [{"day": k, **by_day[k], **_summary(viewers_by_day[k], None, short=True)} for k in sorted(by_day)],
        "by_device": [
            {"device": k, **by_device[k], **_summary(viewers_by_device[k], None, short=True)} for k in sorted(by_device)
        ],
        "landing_views": page_views,
        "viewers": summary["links_opened"],
        "plays": sum(1 for v in viewers if v.play_event),
        "completions": sum(1 for v in viewers if v.end_event),
        "cta_clicks": {c["cta_id"]: {"clicks": c["clicks"], "clickers": c["clickers"]} for c in ctas if c["clicks"]},
    }


_SESSION = (
    WatchSession.render_id,
    WatchSession.session_id,
    WatchSession.started,
    WatchSession.device,
    WatchSession.page_views,
    WatchSession.played,
    WatchSession.ended,
    cast(WatchSession.intervals, Text).label("intervals"),
)


def _sessions(rows: Iterable[Row]) -> list[_Session]:
    """``_SESSION`` rows of sessions with events (which always have a start)."""
    return [
        _Session(
            render_id=r.render_id,
            session_id=r.session_id,
            started=_utc(r.started),
            device=r.device or "unknown",
            page_views=r.page_views,
            played=r.played,
            ended=r.ended,
            intervals=r.intervals,
        )
        for r in rows
        if r.started is not None
    ]


def _sessions_in(conn: Connection, campaign_id: str, start: date | None, end: date | None) -> list[_Session]:
    """The sessions that started in [start, end]."""
    sessions = _sessions(
        conn.execute(select(*_SESSION).where(WatchSession.campaign_id == campaign_id, WatchSession.events > 0))
    )
    return [s for s in sessions if not ((start and s.started.date() < start) or (end and s.started.date() > end))]


def _session_groups(conn: Connection, campaign_id: str) -> dict[tuple[str, str], list[int]]:
    """(day, device) -> [sessions, page views] of all the campaign's sessions."""
    day, device = _day(conn, WatchSession.started), func.coalesce(WatchSession.device, "unknown")
    query = (
        select(day, device, func.count(), func.sum(WatchSession.page_views))
        .where(WatchSession.campaign_id == campaign_id, WatchSession.events > 0)
        .group_by(day, device)
    )
    return {(d, dev): [n, int(views)] for d, dev, n, views in conn.execute(query)}


def _viewers_of(sessions: list[_Session], durations: dict[str, float | None]) -> list[_Viewer]:
    """Viewers recomputed from their sessions."""
    per_viewer: dict[str, list[SessionRow]] = defaultdict(list)
    all_intervals = json.loads("[" + ",".join(s.intervals or "[]" for s in sessions) + "]")  # one parse for all
    for s, intervals in zip(sessions, all_intervals, strict=True):
        per_viewer[s.render_id].append(
            SessionRow(s.session_id, s.started, s.device, s.page_views, s.played, s.ended, intervals)
        )
    out = []
    for rid, rows in per_viewer.items():
        r = viewer_rollup(rows, durations.get(rid))
        out.append(
            _viewer(
                rid,
                r["started"],
                r["device"],
                r["opened"],
                r["played"],
                r["ended"],
                r["duration"] or 0.0,
                r["watched"],
                r["buckets"],
            )
        )
    return out


def _stored_viewers(conn: Connection, campaign_id: str) -> list[_Viewer]:
    """The viewer rollups in (first session, render) order; those missing or computed for another
    video duration are recomputed from their sessions."""
    v = WatchViewer
    fraction = (func.least if conn.dialect.name == "postgresql" else func.min)(1.0, v.watched / v.duration)
    query = (
        select(
            v.render_id,
            v.started,
            _day(conn, v.started),
            func.coalesce(v.device, "unknown"),
            v.opened,
            v.played,
            v.ended,
            func.coalesce(v.duration, 0.0),
            v.watched,
            v.buckets,
            or_(v.played, v.watched > 0),
            case((v.duration > 0, fraction), else_=0.0),
            Render.duration,
        )
        .join(Render, Render.id == v.render_id)
        .where(v.campaign_id == campaign_id, v.started.is_not(None))
        .order_by(v.started, v.render_id)
    )
    viewers: list[_Viewer] = []
    stale: set[str] = set()
    for *row, now in conn.execute(query).all():
        viewer = _Viewer._make(row)
        if (viewer.duration or None) != now:
            stale.add(viewer.render_id)
        else:
            viewers.append(viewer)
    watched = select(WatchSession.render_id).where(WatchSession.campaign_id == campaign_id, WatchSession.events > 0)
    if conn.execute(
        select(func.count(func.distinct(WatchSession.render_id))).where(
            WatchSession.campaign_id == campaign_id, WatchSession.events > 0
        )
    ).scalar_one() > len(viewers) + len(stale):
        # some viewer has sessions but no rollup (events stored before the rollups existed)
        stale.update(
            conn.execute(
                watched.except_(
                    select(WatchViewer.render_id).where(
                        WatchViewer.campaign_id == campaign_id, WatchViewer.started.is_not(None)
                    )
                )
            ).scalars()
        )
    if not stale:
        return viewers
    sessions = _sessions(
        conn.execute(select(*_SESSION).where(WatchSession.render_id.in_(stale), WatchSession.events > 0))
    )
    durations = dict(conn.execute(select(Render.id, Render.duration).where(Render.id.in_(stale))).all())
    viewers = [v._replace(started=_utc(v.started)) for v in viewers] + _viewers_of(sessions, durations)
    return sorted(viewers, key=attrgetter("started", "render_id"))


def _summary(viewers: list[_Viewer], rendered: int | None, *, short: bool = False) -> dict[str, Any]:
    opened = [v for v in viewers if v.opened]
    played = [v for v in viewers if v.played]
    completed = [v for v in played if v.fraction >= COMPLETE]
    out: dict[str, Any] = {
        "links_opened": len(opened),
        "unique_viewers": len(played),
        "play_rate": _rate(len(played), len(opened)),
        "avg_percent_watched": round(100 * sum(v.fraction for v in played) / len(played), 2) if played else 0.0,
        "completed_viewers": len(completed),
        "completion_rate": _rate(len(completed), len(played)),
    }
    if short:
        return out
    out["open_rate"] = _rate(len(opened), rendered or 0)
    out["content_watched_seconds"] = round(sum(v.watched for v in viewers), 2)
    out["funnel"] = (
        [
            {"step": "rendered", "viewers": rendered},
            {"step": "opened", "viewers": len(opened)},
            {"step": "played", "viewers": len(played)},
        ]
        + [{"step": f"watched_{q}", "viewers": sum(v.fraction >= q / 100 for v in played)} for q in QUARTILES]
        + [{"step": "completed", "viewers": len(completed)}]
    )
    covered = [0] * BUCKETS
    for mask, n in Counter(v.buckets for v in played if v.duration).items():  # few distinct masks
        for b in range(BUCKETS):
            covered[b] += n * (mask >> b & 1)
    out["drop_off"] = [
        {
            "from_percent": b * 100 // BUCKETS,
            "to_percent": (b + 1) * 100 // BUCKETS,
            "viewers": covered[b],
            "share": _rate(covered[b], len(played)),
        }
        for b in range(BUCKETS)
    ]
    return out
