"""The landing page's tracker in Chromium: events go in batches (on its timer, not one request each),
at once by beacon when the page is hidden or goes away, and a failed send is retried with the same
event ids; every event the tracker made is stored once (rows counted in the database)."""

from __future__ import annotations

import json
import time
from datetime import datetime

from sqlalchemy import select

from bench.tracker import TRACKER, group
from pvideo.db.models import Event

READY = "() => window.pvideoTracker && document.getElementById('pvideo-video').readyState >= 1"
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
  document.dispatchEvent(new Event('visibilitychange'));
}"""


COUNT_BEACONS = """() => {
  window.beacons = 0;
  const send = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (...args) => { window.beacons += 1; return send(...args); };
}"""


class Sent:
    """Every POST to /api/events the page makes: when, how (fetch or beacon), which events."""

    def __init__(self, page) -> None:
        self.page = page
        self.requests: list[dict] = []
        page.on("request", self._seen)

    def _seen(self, request) -> None:
        if request.url.endswith("/api/events") and request.method == "POST":
            data = request.post_data  # None for a beacon's Blob: its events are counted in the database
            events = json.loads(data)["events"] if data else None
            self.requests.append({"at": time.time(), "kind": request.resource_type, "events": events})

    def wait(self, count: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)  # Playwright delivers the page's events while it waits
        return self.requests


def _rows(app, campaign_id: str, session_id: str, count: int, timeout: float = 10.0) -> list[Event]:
    deadline = time.monotonic() + timeout
    while True:
        with app.state.pvideo.runtime.db.session() as session:
            rows = list(
                session.scalars(select(Event).where(Event.campaign_id == campaign_id, Event.session_id == session_id))
            )
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["client_ts"].replace("Z", "+00:00")).timestamp()


def test_events_go_in_batches_and_hidden_or_leaving_pages_flush_at_once(browser, landing):
    _base, app, campaign_id, url = landing
    context = browser.new_context()
    page = context.new_page()
    sent = Sent(page)
    page.goto(url)
    page.wait_for_function(READY)
    page.evaluate("() => { const v = document.getElementById('pvideo-video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.getElementById('pvideo-video').currentTime > 1.5", timeout=15_000)
    page.evaluate("document.getElementById('pvideo-video').pause()")
    made = page.evaluate("window.pvideoTracker.queue.length")
    assert made >= 4  # page_view, ready, play, percent_progress..., pause
    assert sent.requests == []  # nothing yet: the queue waits for its timer

    # the timer: one request, FLUSH_INTERVAL_MS after the first event, carrying everything queued
    (first,) = sent.wait(1, timeout=TRACKER.interval + 5)
    assert first["kind"] == "fetch" and len(first["events"]) == made
    start = _ts(first["events"][0])
    assert first["at"] - start >= TRACKER.interval - 0.5
    times = [_ts(e) - start for e in first["events"]]
    assert group(times, [e["type"] for e in first["events"]], TRACKER) == [list(range(made))]  # as the bench has it
    page.wait_for_function("() => window.pvideoTracker.queue.length === 0")  # acknowledged

    # hidden: what waits goes at once, by beacon, without waiting for the timer
    session_id = page.evaluate("window.pvideoTracker.sessionId")
    page.evaluate("document.getElementById('pvideo-video').currentTime = 0.5")
    page.wait_for_function("() => window.pvideoTracker.queue.length >= 2")  # seek_start, seek_end
    page.evaluate(COUNT_BEACONS)
    page.evaluate(HIDE)
    assert page.evaluate("window.beacons") == 1  # sent inside the visibilitychange handler: at once
    second = sent.wait(2, timeout=30)[1]
    assert second["kind"] == "ping"  # sendBeacon, not the 5 s timer (a fetch)
    seeks = [r for r in _rows(app, campaign_id, session_id, made + 2, timeout=30) if r.type.startswith("seek")]
    assert {r.type for r in seeks} == {"seek_start", "seek_end"}
    assert [r["kind"] for r in sent.requests[1:]] == ["ping"]  # stored from the beacon: the timer sent nothing

    # leaving: pagehide beacons what was queued since
    page.evaluate("document.getElementById('pvideo-video').play()")
    page.wait_for_function("() => window.pvideoTracker.queue.some(e => e.type === 'play' && e.seq > 3)")
    last_seq = page.evaluate("Math.max(...window.pvideoTracker.queue.map(e => e.seq))")
    before = len(sent.requests)
    page.goto("about:blank")
    assert sent.wait(before + 1, timeout=5)[-1]["kind"] == "ping"
    fetched = [e["event_id"] for r in sent.requests if r["events"] for e in r["events"]]
    assert len(fetched) == len(set(fetched))  # no event went twice by fetch

    rows = _rows(app, campaign_id, session_id, last_seq)
    assert sorted(r.seq for r in rows) == list(range(1, last_seq + 1))  # every event the tracker made, once
    assert set(fetched) <= {r.event_id for r in rows}
    context.close()


def test_a_failed_send_is_retried_with_the_same_event_ids(browser, landing):
    _base, app, campaign_id, url = landing
    context = browser.new_context()
    bodies: list[dict] = []

    def flaky(route):
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1", "Access-Control-Allow-Origin": "*"}, body="{}")
        else:
            route.continue_()

    context.route("**/api/events", flaky)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(READY)
    session_id = page.evaluate("window.pvideoTracker.sessionId")
    page.evaluate("window.pvideoTracker.flush()")  # send now rather than in 5 s; the server says 503
    deadline = time.monotonic() + 15
    while len(bodies) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert len(bodies) >= 2, bodies
    failed = [e["event_id"] for e in bodies[0]["events"]]
    retried = [e["event_id"] for e in bodies[1]["events"]]
    assert failed and retried[: len(failed)] == failed  # the same ids again
    page.wait_for_function("() => window.pvideoTracker.queue.length === 0")
    rows = _rows(app, campaign_id, session_id, len(retried))
    assert sorted(r.event_id for r in rows) == sorted(retried)
    context.close()
