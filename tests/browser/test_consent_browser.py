"""Consent-aware tracking in Chromium, on a real rendered landing page whose campaign tracks with
``consent``: what reaches the server is read back from the events table.

Before Accept no stored event has a session id (plays are still counted); after Accept (by
keyboard) they do. With ``Sec-GPC: 1`` on every request and/or ``navigator.globalPrivacyControl``
none ever does, whatever the page then tries (its own accept(), a banner forced open and clicked,
events with a forged session id, a hand-made batch claiming consent). Decline is remembered
across a reload. axe-core finds no serious or critical violation with the banner shown; the
banner covers none of the video and the page logs no CSP violation."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from pvideo.db.models import Campaign, Event, WatchViewer
from tests.browser.axe import serious_violations

BANNER = "#pvideo-consent"
READY = "() => window.pvideoTracker && window.pvideoConsent && document.getElementById('pvideo-video').readyState >= 1"
PLAY = "() => { const v = document.getElementById('pvideo-video'); v.muted = true; return v.play(); }"
GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });"


def set_mode(app, campaign_id: str, mode: str) -> None:
    with app.state.pvideo.runtime.db.session() as session:
        session.get(Campaign, campaign_id).tracking = mode


def stored(app, campaign_id: str, until=lambda events: True, timeout: float = 15.0) -> list[Event]:
    """The campaign's events once ``until(events)`` holds (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        with app.state.pvideo.runtime.db.session() as session:
            events = list(session.scalars(select(Event).where(Event.campaign_id == campaign_id).order_by(Event.id)))
            session.expunge_all()
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def play_a_little(page, past: float) -> None:
    page.evaluate(PLAY)
    page.wait_for_function(f"() => document.getElementById('pvideo-video').currentTime > {past}", timeout=15_000)
    page.evaluate("document.getElementById('pvideo-video').pause()")


def send_everything(page) -> None:
    """What the tracker holds goes now, and is acknowledged."""
    page.evaluate("window.pvideoTracker.flush()")
    page.wait_for_function("() => window.pvideoTracker.queue.length === 0", timeout=15_000)


class Batches:
    """The bodies of the page's POSTs to /api/events (a beacon's Blob is not readable: None)."""

    def __init__(self, page) -> None:
        self.bodies: list[dict | None] = []
        page.on("request", self._seen)

    def _seen(self, request) -> None:
        if request.url.endswith("/api/events") and request.method == "POST":
            data = request.post_data
            self.bodies.append(json.loads(data) if data else None)


def test_nothing_personal_before_accept_then_the_session_after_it(browser, landing, artifacts):
    _base, app, campaign_id, url = landing
    set_mode(app, campaign_id, "consent")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    batches = Batches(page)
    page.goto(url)
    page.wait_for_function(READY)
    banner = page.locator(BANNER)
    assert banner.is_visible()
    assert banner.get_attribute("role") == "region" and page.locator("#pvideo-consent-title").inner_text()
    page.locator(BANNER).screenshot(path=str(artifacts / "consent-banner.png"))
    page.screenshot(path=str(artifacts / "consent-banner-page.png"))
    video_box, banner_box = page.locator("#pvideo-video").bounding_box(), banner.bounding_box()
    assert banner_box["y"] + banner_box["height"] <= video_box["y"]  # above the player: covers none of it

    # before Accept: plays are counted, nothing carries a session id
    assert page.evaluate("window.pvideoTracker.sessionId") is None
    play_a_little(page, 1.0)
    send_everything(page)
    before = stored(app, campaign_id, lambda events: "play" in {e.type for e in events})
    assert "play" in {e.type for e in before} and "page_view" in {e.type for e in before}
    assert [e for e in before if e.session_id is not None or e.seq is not None or e.client_ts is not None] == []
    assert all(
        b is None or ("consent" not in b and all("session_id" not in e for e in b["events"])) for b in batches.bodies
    )
    with app.state.pvideo.runtime.db.session() as session:
        assert session.scalars(select(WatchViewer).where(WatchViewer.campaign_id == campaign_id)).one().played

    # Accept, by keyboard: the banner's first button is reached with Tab
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.dataset.consent === 'accepted'"):
            break
    else:
        pytest.fail("Accept is not reachable by keyboard")
    page.keyboard.press("Enter")
    assert banner.is_hidden() and page.evaluate("window.pvideoConsent.state()") == "accepted"
    session_id = page.evaluate("window.pvideoTracker.sessionId")
    assert session_id
    seen = len(batches.bodies)
    play_a_little(page, 2.0)
    send_everything(page)
    after = stored(app, campaign_id, lambda events: any(e.session_id == session_id for e in events))
    mine = [e for e in after if e.session_id == session_id]
    assert {"play", "pause"} <= {e.type for e in mine} and all(e.seq and e.client_ts for e in mine)
    assert all(b is None or b.get("consent") is True for b in batches.bodies[seen:])
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == []
    context.close()

    checked = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # for axe's script
    page = checked.new_page()
    page.goto(url)
    page.wait_for_function(READY)
    assert page.locator(BANNER).is_visible()
    assert serious_violations(page) == []
    checked.close()


@pytest.mark.parametrize("refusal", ["header", "browser", "both"])
def test_a_refusing_browser_never_sends_a_session_whatever_the_page_tries(browser, landing, refusal):
    _base, app, campaign_id, url = landing
    set_mode(app, campaign_id, "consent")
    options = {"extra_http_headers": {"Sec-GPC": "1"}} if refusal in ("header", "both") else {}
    context = browser.new_context(**options)
    if refusal in ("browser", "both"):
        context.add_init_script(GPC_SCRIPT)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(READY)
    if refusal == "header":  # the page cannot see the header: it asks, and the viewer accepts
        page.locator(f"{BANNER} [data-consent=accepted]").click()
        assert page.evaluate("window.pvideoTracker.sessionId")  # the page would send it...
    else:
        assert page.locator(BANNER).is_hidden() and page.evaluate("window.pvideoConsent.state()") == "refused"
        # the page's own attempts: its API, the banner forced open and clicked
        page.evaluate("window.pvideoConsent.accept()")
        page.evaluate("document.getElementById('pvideo-consent').hidden = false")
        page.locator(f"{BANNER} [data-consent=accepted]").click()
        assert page.evaluate("window.pvideoConsent.accepted()") is False
        assert page.evaluate("window.pvideoTracker.sessionId") is None
    page.evaluate("window.pvideoTracker.track('fullscreen', {detail: 'enter', session_id: 'forged1', seq: 7})")
    play_a_little(page, 1.0)
    send_everything(page)
    if refusal != "browser":  # a hand-made batch claiming consent: only the header can outrank it
        forged = page.evaluate(
            """async () => {
                const token = JSON.parse(document.getElementById('pvideo-config').textContent).token;
                const events = [{event_id: 'forged-batch', type: 'page_view', session_id: 'forged2', seq: 1}];
                const res = await fetch('/api/events', {method: 'POST', body: JSON.stringify({token, consent: true, events})});
                return res.status;
            }"""
        )
        assert forged == 200
    events = stored(app, campaign_id, lambda events: {"play", "fullscreen"} <= {e.type for e in events})
    assert {"page_view", "play", "fullscreen"} <= {e.type for e in events}  # counted
    assert [(e.type, e.session_id) for e in events if e.session_id is not None or e.seq is not None] == []
    context.close()


def test_decline_is_remembered_across_a_reload(browser, landing):
    _base, app, campaign_id, url = landing
    set_mode(app, campaign_id, "consent")
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(READY)
    page.locator(f"{BANNER} [data-consent=declined]").click()
    assert page.locator(BANNER).is_hidden()
    page.reload()
    page.wait_for_function(READY)
    assert page.locator(BANNER).is_hidden() and page.evaluate("window.pvideoConsent.state()") == "declined"
    play_a_little(page, 1.0)
    send_everything(page)
    events = stored(app, campaign_id, lambda events: "play" in {e.type for e in events})
    assert "play" in {e.type for e in events}
    assert [e for e in events if e.session_id is not None] == []
    context.close()


def test_anonymous_mode_has_no_banner_and_no_session(browser, landing):
    _base, app, campaign_id, url = landing
    set_mode(app, campaign_id, "anonymous")
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.pvideoTracker && document.getElementById('pvideo-video').readyState >= 1")
    assert page.locator(BANNER).count() == 0 and page.evaluate("window.pvideoTracker.sessionId") is None
    play_a_little(page, 1.0)
    send_everything(page)
    events = stored(app, campaign_id, lambda events: "play" in {e.type for e in events})
    assert "play" in {e.type for e in events} and [e for e in events if e.session_id is not None] == []
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('pvideo.session'))") == []
    context.close()
