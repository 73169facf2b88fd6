"""Analytics pinned by a golden fixture: every number, on SQLite and PostgreSQL, whatever the
arrival order of the events and however wrong the devices' clocks are."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.events import ingest
from tests.conftest import SECRET
from tests.viewers import done_campaign

DAY = {d: datetime(2026, 11, d, 9, 0, tzinfo=UTC) for d in (20, 21, 22)}

# (viewer, session, device, day) -> events in the order they happened: (type, position, extra)
SESSIONS = {
    # A: watches 0-24, rewatches 5-15 (counts once), jumps to 35 by seeking and watches to the end: 29 s
    ("A", "a1", "desktop", 20): [
        ("page_view", None, {}),
        ("ready", 0, {}),
        ("play", 0, {}),
        ("cta_impression", 2.5, {"cta_id": "buy"}),
        ("percent_progress", 4, {"percent": 10}),
        ("ping", 10, {}),
        ("percent_progress", 16, {"percent": 40}),
        ("ping", 20, {}),
        ("cta_impression", 20, {"cta_id": "more"}),
        ("pause", 24, {}),
        ("seek_start", 24, {}),
        ("seek_end", 5, {}),
        ("play", 5, {}),
        ("ping", 15, {}),
        ("seek_start", 15, {}),
        ("seek_end", 35, {}),
        ("fullscreen", 36, {"detail": "enter"}),
        ("end", 40, {}),
        ("cta_click", 40, {"cta_id": "buy"}),
    ],
    # B: watches everything on the phone, clicks "more" twice; another day on a desktop, 0-12 again
    ("B", "b1", "mobile", 21): [
        ("page_view", None, {}),
        ("play", 0, {}),
        ("cta_impression", 2.5, {"cta_id": "buy"}),
        ("ping", 10, {}),
        ("ping", 20, {}),
        ("cta_impression", 20, {"cta_id": "more"}),
        ("cta_click", 21, {"cta_id": "more"}),
        ("cta_click", 22, {"cta_id": "more"}),
        ("ping", 30, {}),
        ("end", 40, {}),
    ],
    ("B", "b2", "desktop", 22): [("page_view", None, {}), ("play", 0, {}), ("ping", 10, {}), ("pause", 12, {})],
    # C: opens the page, never plays; clicks "buy" in the no-JS list (no session id, no impression)
    ("C", "c1", "mobile", 21): [("page_view", None, {})],
    ("C", None, "mobile", 21): [("cta_click", None, {"cta_id": "buy"})],
    # E: 0-10, then a 28 s jump without seek events (not watched), then 38-39: 11 s
    ("E", "e1", "desktop", 22): [
        ("page_view", None, {}),
        ("play", 0, {}),
        ("ping", 10, {}),
        ("ping", 38, {}),
        ("pause", 39, {}),
        ("error", 39, {"detail": "media error 3"}),
    ],
    # D: rendered, never opened
}


def _raw_events(skewed: bool) -> list[tuple[str, str | None, str, datetime, timedelta, dict]]:
    """(viewer, session, device, true time, device clock skew, event) in true order."""
    out = []
    for (viewer, session, device, day), events in SESSIONS.items():
        skew = timedelta(hours=(7 if viewer == "A" else -5 if viewer == "B" else 0)) if skewed else timedelta(0)
        for seq, (kind, position, extra) in enumerate(events, start=1):
            true = DAY[day] + timedelta(minutes=10 if session is None else 0, seconds=seq)
            ev = {"event_id": f"{session}-{seq}", "type": kind, **extra}
            if session is not None:
                ev.update(session_id=session, seq=seq)
            if position is not None:
                ev["position"] = float(position)
            out.append((viewer, session, device, true, skew, ev))
    return out


def _load(db, *, shuffled: bool, skewed: bool) -> str:
    campaign_id, viewers = done_campaign(db, ViewerTokens(SECRET), viewers=5, duration=40.0)
    renders = dict(zip("ABCDE", (v.render_id for v in viewers), strict=True))
    rng = random.Random(6)
    batches: dict[tuple, list] = {}
    for viewer, session, device, true, skew, ev in _raw_events(skewed):
        # a session's events arrive in 1-3 batches; shuffled: in random batches and random order
        key = (viewer, session, device, rng.randrange(3) if shuffled else 0)
        batches.setdefault(key, []).append((true, skew, ev))
    order = list(batches.items())
    if shuffled:
        rng.shuffle(order)
    for (viewer, _, device, _), items in order:
        if shuffled:
            rng.shuffle(items)
        sent = max(t for t, _, _ in items) + timedelta(seconds=rng.randrange(1, 90) if shuffled else 1)
        skew = items[0][1]
        events = [dict(ev, client_ts=(t + skew).isoformat()) for t, skew, ev in items]
        with db.session() as session:
            render = session.get(Render, renders[viewer])
            result = ingest(session, render, events, sent_at=sent + skew, device=device, received=sent)
            assert result.failed == [] and result.duplicates == 0
    return campaign_id


def _drop_off() -> list[dict]:
    viewers = [3] * 5 + [2] * 7 + [1] * 5 + [2, 2, 3]
    share = {3: 1.0, 2: 0.6667, 1: 0.3333}
    return [
        {"from_percent": 5 * b, "to_percent": 5 * b + 5, "viewers": v, "share": share[v]} for b, v in enumerate(viewers)
    ]


GOLDEN = {
    "range": {"start": None, "end": None},
    "rendered": 5,
    "sessions": 6,
    "page_views": 5,
    "links_opened": 4,
    "open_rate": 0.8,
    "unique_viewers": 3,
    "play_rate": 0.75,
    "content_watched_seconds": 80.0,
    "avg_percent_watched": 66.67,
    "completed_viewers": 1,
    "completion_rate": 0.3333,
    "funnel": [
        {"step": "rendered", "viewers": 5},
        {"step": "opened", "viewers": 4},
        {"step": "played", "viewers": 3},
        {"step": "watched_25", "viewers": 3},
        {"step": "watched_50", "viewers": 2},
        {"step": "watched_75", "viewers": 1},
        {"step": "completed", "viewers": 1},
    ],
    "drop_off": _drop_off(),
    "ctas": [
        {"cta_id": "buy", "impressions": 2, "impressed": 2, "clicks": 2, "clickers": 2, "ctr": 0.5},
        {"cta_id": "more", "impressions": 2, "impressed": 2, "clicks": 2, "clickers": 1, "ctr": 0.5},
    ],
    "interactions": [],  # the card scene asks nothing: see tests/tracking/test_interaction_stats.py
    "by_day": [
        {
            "day": "2026-11-20",
            "sessions": 1,
            "page_views": 1,
            "links_opened": 1,
            "unique_viewers": 1,
            "play_rate": 1.0,
            "avg_percent_watched": 72.5,
            "completed_viewers": 0,
            "completion_rate": 0.0,
        },
        {
            "day": "2026-11-21",
            "sessions": 3,
            "page_views": 2,
            "links_opened": 2,
            "unique_viewers": 1,
            "play_rate": 0.5,
            "avg_percent_watched": 100.0,
            "completed_viewers": 1,
            "completion_rate": 1.0,
        },
        {
            "day": "2026-11-22",
            "sessions": 2,
            "page_views": 2,
            "links_opened": 1,
            "unique_viewers": 1,
            "play_rate": 1.0,
            "avg_percent_watched": 27.5,
            "completed_viewers": 0,
            "completion_rate": 0.0,
        },
    ],
    "by_device": [
        {
            "device": "desktop",
            "sessions": 3,
            "page_views": 3,
            "links_opened": 2,
            "unique_viewers": 2,
            "play_rate": 1.0,
            "avg_percent_watched": 50.0,
            "completed_viewers": 0,
            "completion_rate": 0.0,
        },
        {
            "device": "mobile",
            "sessions": 3,
            "page_views": 2,
            "links_opened": 2,
            "unique_viewers": 1,
            "play_rate": 0.5,
            "avg_percent_watched": 100.0,
            "completed_viewers": 1,
            "completion_rate": 1.0,
        },
    ],
    "landing_views": 5,
    "viewers": 4,
    "plays": 3,
    "completions": 2,
    "cta_clicks": {"buy": {"clicks": 2, "clickers": 2}, "more": {"clicks": 2, "clickers": 1}},
}


def _numbers(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in ("campaign_id", "renders")}


@pytest.mark.parametrize(("shuffled", "skewed"), [(False, False), (True, True)], ids=["in-order", "shuffled-skewed"])
def test_golden_numbers(db, shuffled, skewed):
    campaign_id = _load(db, shuffled=shuffled, skewed=skewed)
    with db.session() as session:
        stats = campaign_analytics(session, campaign_id)
    assert _numbers(stats) == GOLDEN
    assert stats["renders"]["done"] == 5


def test_date_range_counts_only_sessions_that_started_in_it(db):
    campaign_id = _load(db, shuffled=True, skewed=True)
    with db.session() as session:
        day22 = campaign_analytics(session, campaign_id, start=date(2026, 11, 22), end=date(2026, 11, 22))
        before = campaign_analytics(session, campaign_id, end=date(2026, 11, 19))
    assert (day22["sessions"], day22["links_opened"], day22["unique_viewers"]) == (2, 2, 2)
    assert day22["avg_percent_watched"] == 28.75  # B watched 0-12 that day (30 %), E 27.5 %
    assert day22["content_watched_seconds"] == 23.0 and day22["completed_viewers"] == 0
    assert [c["clicks"] for c in day22["ctas"]] == [0, 0] and day22["range"] == {
        "start": "2026-11-22",
        "end": "2026-11-22",
    }
    assert (before["sessions"], before["links_opened"], before["rendered"]) == (0, 0, 5)
    assert [d["viewers"] for d in before["drop_off"]] == [0] * 20


def test_an_empty_campaign_has_zeros_not_errors(db):
    campaign_id, _ = done_campaign(db, ViewerTokens(SECRET), viewers=2)
    with db.session() as session:
        stats = campaign_analytics(session, campaign_id)
    assert (stats["links_opened"], stats["play_rate"], stats["avg_percent_watched"]) == (0, 0.0, 0.0)
    assert [c["cta_id"] for c in stats["ctas"]] == ["buy", "more"] and stats["by_day"] == []


def test_the_position_stream_is_read_by_sequence_not_by_client_time(db):
    """Same events, client clock jumping backwards mid-session: the watched content stays 0-30 s."""
    campaign_id, (v,) = done_campaign(db, ViewerTokens(SECRET), viewers=1, duration=40.0)
    t0 = DAY[20]
    times = [t0, t0 + timedelta(seconds=10), t0 - timedelta(hours=2), t0 + timedelta(days=1)]
    events = [
        {
            "event_id": str(i),
            "type": kind,
            "position": pos,
            "session_id": "s",
            "seq": i + 1,
            "client_ts": times[i].isoformat(),
        }
        for i, (kind, pos) in enumerate([("play", 0.0), ("ping", 10.0), ("ping", 20.0), ("pause", 30.0)])
    ]
    with db.session() as session:
        ingest(session, session.get(Render, v.render_id), list(reversed(events)), received=t0)
    with db.session() as session:
        stats = campaign_analytics(session, campaign_id)
    assert stats["content_watched_seconds"] == 30.0 and stats["avg_percent_watched"] == 75.0
