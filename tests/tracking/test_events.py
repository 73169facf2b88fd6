"""Pure parts of tracking: event checks, derived time, rate limit, device class, chapters, cursors, intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pvideo.access.ratelimit import RateLimiter
from pvideo.db.models import Render
from pvideo.render.chapters import Chapter, chapters_from_ctas, to_webvtt
from pvideo.tracking.devices import device_class
from pvideo.tracking.events import check_event, occurred_at
from pvideo.tracking.export import decode_cursor, encode_cursor, to_csv
from pvideo.tracking.rollups import SessionRow, viewer_rollup
from pvideo.tracking.watching import buckets_covered, merge

T = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_occurred_at_corrects_skew_and_keeps_queue_delay():
    received = T
    # device clock 5 h behind; event waited 40 s before it was sent
    client, sent = T - timedelta(hours=5, seconds=40), T - timedelta(hours=5)
    assert occurred_at(client, sent, received) == T - timedelta(seconds=40)
    assert occurred_at(None, sent, received) == received
    assert occurred_at(T + timedelta(seconds=5), T, received) == received  # event "after" its send: nonsense
    assert occurred_at(T - timedelta(days=90), T, received) == received  # older than the queue keeps events


def test_check_event_validates_against_the_render():
    render = Render(id="r", hotspots=[{"id": "buy"}], duration=10.0)
    ok = check_event(
        {"event_id": "1", "type": "cta_click", "cta_id": "buy", "position": 3, "seq": 4, "session_id": "abc_DEF-1"},
        render,
    )
    assert (ok.cta_id, ok.seq) == ("buy", 4)
    for raw, reason in [
        ({"event_id": "1", "type": "cta_click", "cta_id": "nope"}, "not a CTA"),
        ({"event_id": "1", "type": "cta_impression"}, "needs a cta_id"),
        ({"event_id": "1", "type": "ping", "position": 11.6}, "beyond the video's end"),
        ({"event_id": "1", "type": "ping", "position": 1, "session_id": "a b"}, "session_id"),
        ({"event_id": "1", "type": "ping", "position": -1}, "position"),
        ({"event_id": "", "type": "ping", "position": 1}, "event_id"),
        ([1, 2], "valid dictionary"),
    ]:
        with pytest.raises(ValueError, match=reason):
            check_event(raw, render)
    assert check_event({"event_id": "1", "type": "ended", "position": 10.5}, render).type == "ended"  # old type


def test_rate_limiter_token_bucket():
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=100, clock=lambda: now[0], max_keys=2)
    assert limiter.take("a", 100) == 0
    assert limiter.take("a", 5) == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.take("a", 10) == 0  # earned 10 back
    assert limiter.take("b", 1) == 0 and limiter.take("c", 1) == 0  # "a" falls out of the LRU ...
    assert limiter.take("a", 100) == 0  # ... and comes back with a full bucket
    assert limiter.take("d", 500) == 0  # more than the burst: takes a full bucket ...
    assert limiter.take("d", 1) == pytest.approx(0.1)  # ... and leaves it empty


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36", "tablet"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "tablet"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36", "desktop"),
        ("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120", "bot"),
        ("Slackbot-LinkExpanding 1.0", "bot"),
        ("curl/8.0", "unknown"),
        (None, "unknown"),
    ],
)
def test_device_class(agent, device):
    assert device_class(agent) == device


def test_chapters_from_overlapping_and_no_ctas():
    ctas = [{"id": "b", "label": "B", "start": 5, "end": 9}, {"id": "a", "label": "A", "start": 2, "end": 6}]
    assert chapters_from_ctas(ctas, 10) == [
        Chapter(0.0, 2.0, "Start"),
        Chapter(2.0, 5.0, "A"),
        Chapter(5.0, 6.0, "B"),
        Chapter(6.0, 9.0, "Continue"),
        Chapter(9.0, 10.0, "Continue"),
    ]
    assert chapters_from_ctas([], 10) == [] and chapters_from_ctas(ctas, 0) == []
    vtt = to_webvtt([Chapter(0, 3725.5, "a --> b\n<i>")])
    assert "01:02:05.500" in vtt and "a -&gt; b &lt;i&gt;" in vtt


def test_cursors_round_trip_and_reject_garbage():
    assert decode_cursor(encode_cursor(12345)) == 12345 and decode_cursor(None) == 0
    for bad in ("x", encode_cursor(1)[:-2] + "!!", "ZXYx"):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_csv_export_defuses_spreadsheet_formulas():
    row = dict.fromkeys(
        (
            "id",
            "event_id",
            "campaign_id",
            "render_id",
            "session_id",
            "seq",
            "type",
            "position",
            "percent",
            "media_duration",
            "cta_id",
            "detail",
            "device",
            "client_ts",
            "occurred_at",
            "received_at",
        )
    )
    text = to_csv([dict(row, id=1, detail='=HYPERLINK("x")', position=-0.0)], header=False)
    assert "'=HYPERLINK" in text


def test_intervals_union_once_and_buckets():
    assert merge([(5, 15), (0, 24), (35, 40), (24, 24)]) == [(0, 24), (35, 40)]
    # a viewer's watched seconds: what its sessions watched, rewatched parts counted once
    sessions = [
        SessionRow("a", T, "mobile", 1, True, False, [[0, 10], [5, 15]]),
        SessionRow("b", T + timedelta(hours=1), "desktop", 1, True, False, [[5, 15]]),
    ]
    assert viewer_rollup(sessions, None)["watched"] == 15
    assert buckets_covered([(0, 10)], 40) == [True] * 5 + [False] * 15
