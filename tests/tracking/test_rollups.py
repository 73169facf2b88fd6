"""Rollups kept as events are stored (extended in place, or rebuilt when events arrive out of
order) equal rollups rebuilt from all events at once; analytics reads them, and recomputes a
viewer whose rollup is missing or stale. Group commit stores concurrent batches in one
transaction. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, update

from pvideo.access.tokens import ViewerTokens
from pvideo.db.bulk import insert_rows, on_conflict
from pvideo.db.models import Event, Render, WatchCta, WatchSession, WatchViewer
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.events import Batch, ingest_many
from pvideo.tracking.groupcommit import EventWriter, Pending
from pvideo.tracking.rollups import rebuild_campaign
from tests.conftest import SECRET
from tests.viewers import done_campaign

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STEPS = ["play", "ping", "ping", "pause", "play", "seek_start", "seek_end", "percent_progress", "ping", "end"]


def _visit(rng: random.Random, session_id: str | None) -> list[dict]:
    """A session's events in the order they happened (positions mostly forward, some jumps)."""
    events, position = [{"type": "page_view"}], 0.0
    for kind in rng.choices(STEPS, k=rng.randrange(3, 14)):
        position = min(40.0, max(0.0, position + rng.choice([2.5, 5, 7.5, 30, -10])))
        ev = {"type": kind, "position": position}
        if kind == "percent_progress":
            ev["percent"] = 10
        events.append(ev)
    if rng.random() < 0.5:
        events.append({"type": "cta_impression", "cta_id": "buy", "position": 3.0})
    if rng.random() < 0.3:
        events.append({"type": "cta_click", "cta_id": rng.choice(["buy", "more"]), "position": 3.5})
    for seq, ev in enumerate(events, start=1):
        ev["event_id"] = f"{session_id}-{seq}-{rng.random()}"
        ev["client_ts"] = (T0 + timedelta(seconds=seq)).isoformat()
        if session_id is not None:
            ev.update(session_id=session_id, seq=seq)
    return events


def _snapshot(db, campaign_id: str) -> dict:
    with db.session() as session:
        return {
            model.__tablename__: sorted(
                tuple(getattr(row, c.name) for c in model.__table__.columns)
                for row in session.scalars(select(model).where(model.campaign_id == campaign_id))
            )
            for model in (WatchSession, WatchViewer, WatchCta)
        }


def _deliver(db, campaign_id: str, viewers, rng: random.Random, *, shuffled: bool) -> None:
    """Each viewer's sessions in batches; shuffled: random batches in random order, some sent twice,
    several viewers' batches stored together (one group)."""
    batches = []
    for n, viewer in enumerate(viewers):
        for s in range(n % 3 + 1):
            events = _visit(rng, None if (n, s) == (0, 2) else f"s{n}{s}")
            if shuffled:
                rng.shuffle(events)
            cut = sorted(rng.sample(range(1, len(events)), k=min(3, len(events) - 1)))
            batches += [(viewer.render_id, events[a:b]) for a, b in zip([0, *cut], [*cut, len(events)], strict=True)]
    if shuffled:
        batches += rng.sample(batches, k=3)  # retried batches
        rng.shuffle(batches)
    for start in range(0, len(batches), 4):
        with db.session() as session:
            ingest_many(
                session,
                [
                    Batch(session.get(Render, rid), events, T0 + timedelta(minutes=1), "mobile")
                    for rid, events in batches[start : start + 4]
                ],
                received=T0 + timedelta(minutes=1),
            )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_kept_while_storing_equal_rollups_rebuilt_from_all_events(db, seed):
    rng = random.Random(seed)
    campaign_id, viewers = done_campaign(db, ViewerTokens(SECRET), viewers=4, duration=40.0)
    _deliver(db, campaign_id, viewers, rng, shuffled=True)
    kept = _snapshot(db, campaign_id)
    with db.session() as session:
        numbers = campaign_analytics(session, campaign_id)
        assert rebuild_campaign(session, campaign_id) == len(kept["watch_sessions"])
    assert _snapshot(db, campaign_id) == kept
    assert kept["watch_viewers"] and kept["watch_ctas"]
    with db.session() as session:
        assert campaign_analytics(session, campaign_id) == numbers


def test_in_order_delivery_extends_the_rollup_without_reading_events(db):
    """The usual case: each new batch continues the session, so the stored state is extended."""
    _campaign_id, (viewer,) = done_campaign(db, ViewerTokens(SECRET), viewers=1, duration=40.0)
    events = [
        {"event_id": str(i), "type": kind, "position": pos, "session_id": "s", "seq": i}
        for i, (kind, pos) in enumerate([("play", 0.0), ("ping", 10.0), ("ping", 20.0), ("pause", 30.0)], 1)
    ]
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    for ev in events:
        with db.session() as session:
            ingest_many(session, [Batch(session.get(Render, viewer.render_id), [ev])])
    sa_event.remove(db.engine, "before_cursor_execute", record)
    assert len(statements) > 4 * 4
    assert [s for s in statements if s.lstrip().startswith("SELECT") and "FROM events" in s] == []
    with db.session() as session:
        row = session.get(WatchSession, (viewer.render_id, "s"))
        assert (row.intervals, row.last_seq, row.last_kind, row.last_position) == ([[0.0, 30.0]], 4, "pause", 30.0)
        assert session.get(WatchViewer, viewer.render_id).watched == 30.0


def test_analytics_recomputes_missing_and_stale_viewer_rollups(db):
    rng = random.Random(9)
    campaign_id, viewers = done_campaign(db, ViewerTokens(SECRET), viewers=4, duration=40.0)
    _deliver(db, campaign_id, viewers, rng, shuffled=False)
    with db.session() as session:
        numbers = campaign_analytics(session, campaign_id)
        session.execute(WatchViewer.__table__.delete().where(WatchViewer.render_id == viewers[1].render_id))
    with db.session() as session:
        assert campaign_analytics(session, campaign_id) == numbers  # missing: computed from its sessions
        session.execute(update(Render).where(Render.id == viewers[2].render_id).values(duration=20.0))
    with db.session() as session:
        stale = campaign_analytics(session, campaign_id)  # the video got shorter after the events
        rebuild_campaign(session, campaign_id)
    with db.session() as session:
        assert campaign_analytics(session, campaign_id) == stale != numbers


def test_group_commit_stores_concurrent_batches_in_few_transactions(db):
    campaign_id, viewers = done_campaign(db, ViewerTokens(SECRET), viewers=6, duration=40.0)
    writer = EventWriter(db, concurrency=1)
    commits: list[int] = []
    sa_event.listen(db.engine, "commit", lambda conn: commits.append(1))
    with db.session() as session:  # a revoked link: its batch is refused, the others are stored
        session.execute(update(Render).where(Render.id == viewers[5].render_id).values(viewer_token=None))
    commits.clear()

    async def send() -> list:
        pending = [
            Pending(
                v.token,
                v.render_id,
                [
                    {"event_id": f"{n % 6}-{k}", "type": "ping", "position": float(k), "session_id": "s", "seq": k}
                    for k in range(1, 4)
                ],
            )
            for n, v in enumerate(viewers * 5)
        ]
        return await asyncio.gather(*(writer.submit(p) for p in pending))

    with ThreadPoolExecutor(1) as pool:  # its own event loop: Playwright's may be running in this thread
        results = pool.submit(asyncio.run, send()).result()
    assert [r is None for r in results] == [n % 6 == 5 for n in range(30)]
    assert [(r.stored, r.duplicates) for r in results if r] == [(3, 0)] * 5 + [(0, 3)] * 20
    assert len(commits) <= 3  # the first batch alone, then everything that queued meanwhile
    with db.session() as session:
        stored = session.scalars(select(Event.event_id).where(Event.campaign_id == campaign_id)).all()
        assert sorted(stored) == sorted(f"{n}-{k}" for n in range(5) for k in range(1, 4))
        assert session.get(WatchViewer, viewers[0].render_id).watched == 2.0


def test_a_group_whose_transaction_fails_is_retried_one_request_at_a_time(db):
    """A batch the database refuses (a lone surrogate passes validation in Python but neither
    PostgreSQL's JSON nor SQLite's UTF-8 takes it; the HTTP body parser refuses it first) sinks
    its group's transaction: every request of the group is then stored on its own, the bad one
    gets its error and nothing of it is kept."""
    campaign_id, viewers = done_campaign(db, ViewerTokens(SECRET), viewers=3, duration=40.0)
    writer = EventWriter(db, concurrency=1)
    commits: list[int] = []
    rollbacks: list[int] = []
    sa_event.listen(db.engine, "commit", lambda conn: commits.append(1))
    sa_event.listen(db.engine, "rollback", lambda conn: rollbacks.append(1))

    def batch(viewer, name: str, **extra) -> Pending:
        return Pending(viewer.token, viewer.render_id, [{"event_id": name, "type": "page_view", **extra}])

    async def send() -> list:
        return await asyncio.gather(
            writer.submit(batch(viewers[0], "first")),
            writer.submit(batch(viewers[1], "good")),
            writer.submit(batch(viewers[2], "bad", detail="x\ud800y")),
            writer.submit(batch(viewers[0], "last")),
            return_exceptions=True,
        )

    with ThreadPoolExecutor(1) as pool:
        first, good, bad, last = pool.submit(asyncio.run, send()).result()
    assert (first.stored, good.stored, last.stored) == (1, 1, 1)
    assert isinstance(bad, Exception)
    # the four queued as one group, which rolled back; then one transaction each: three commits
    # and the bad one's rollback
    assert (len(commits), len(rollbacks)) == (3, 2)
    with db.session() as session:
        stored = session.scalars(select(Event.event_id).where(Event.campaign_id == campaign_id)).all()
        assert sorted(stored) == ["first", "good", "last"]
        assert session.get(WatchViewer, viewers[2].render_id) is None
        assert session.get(WatchViewer, viewers[0].render_id).opened


def test_insert_rows_upserts_in_one_statement(db):
    campaign_id, (viewer,) = done_campaign(db, ViewerTokens(SECRET), viewers=1)
    rows = [
        {
            "render_id": viewer.render_id,
            "session_id": sid,
            "cta_id": "buy",
            "campaign_id": campaign_id,
            "impressions": n,
            "clicks": 0,
        }
        for sid, n in (("a", 1), ("b", 2))
    ]
    conflict = on_conflict(
        ["render_id", "session_id", "cta_id"], impressions="watch_ctas.impressions + excluded.impressions"
    )
    with db.session() as session:
        assert (
            len(
                insert_rows(
                    session.connection(), WatchCta.__table__, rows, conflict=conflict, returning=("session_id",)
                )
            )
            == 2
        )
        insert_rows(session.connection(), WatchCta.__table__, rows[:1], conflict=conflict)
    with db.session() as session:
        ctas = session.scalars(select(WatchCta).where(WatchCta.campaign_id == campaign_id))
        assert sorted((c.session_id, c.impressions) for c in ctas) == [("a", 2), ("b", 2)]
