"""End to end in Chromium: play a landing page, see the CTA at its scripted time, click it,
and find the events stored in order; screenshots of the page (phone, desktop) and of its campaign in the studio."""

from __future__ import annotations

import time

from sqlalchemy import select

from pvideo.db.models import Event
from tests.studio.conftest import PASSWORD, make_user

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def _stored(app, campaign_id, until: set[str], timeout: float = 15.0) -> list[Event]:
    """The campaign's events once every type in ``until`` is stored (or at the deadline). The click is
    stored by the redirect, the tracker's queue by the beacon sent as the page goes: either may land first."""
    deadline = time.monotonic() + timeout
    while True:
        with app.state.pvideo.runtime.db.session() as session:
            events = list(session.scalars(select(Event).where(Event.campaign_id == campaign_id)))
        if until <= {e.type for e in events} or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_play_see_cta_click_it_and_events_are_stored_in_order(browser, landing, artifacts):
    _base, app, campaign_id, url = landing
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route("https://shop.example/**", lambda route: route.abort())  # stay off the network
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url)
    page.wait_for_function("window.pvideoTracker && document.getElementById('pvideo-video').readyState >= 1")
    page.screenshot(path=str(artifacts / "landing-desktop.png"))

    cta = page.locator('.pvideo-cta[data-cta-id="buy"]')
    assert cta.is_hidden()
    page.evaluate("() => { const v = document.getElementById('pvideo-video'); v.muted = true; return v.play(); }")
    cta.wait_for(state="visible", timeout=15_000)  # scripted at 2.5 s
    shown_at = page.evaluate("document.getElementById('pvideo-video').currentTime")
    assert 2.4 <= shown_at <= 4.0

    # the hotspot sits over its box in video coordinates (40,260 240x60 of 640x360), at any player size
    player = page.locator("#pvideo-player").bounding_box()
    box = cta.bounding_box()
    assert abs((box["x"] - player["x"]) / player["width"] - 40 / 640) < 0.01
    assert abs(box["width"] / player["width"] - 240 / 640) < 0.01
    assert abs((box["y"] - player["y"]) / player["height"] - 260 / 360) < 0.01
    page.screenshot(path=str(artifacts / "landing-desktop-cta.png"))

    with context.expect_event("response", lambda r: "/cta/buy" in r.url) as redirect:
        cta.click()
    click_response = redirect.value
    assert click_response.status == 302
    assert click_response.headers["location"] == "https://shop.example/buy?c=c1"
    assert "&s=" in click_response.url and "&q=" in click_response.url  # the tracker added its ids

    wanted = ["page_view", "play", "percent_progress", "cta_impression", "cta_click"]
    events = _stored(app, campaign_id, set(wanted))
    events = sorted((e for e in events if e.session_id), key=lambda e: e.seq)
    assert len({e.session_id for e in events}) == 1
    types = [e.type for e in events]
    firsts = [types.index(t) for t in wanted]
    assert firsts == sorted(firsts), types
    click = events[firsts[-1]]
    assert click.cta_id == "buy" and 2.4 <= click.position <= 4.0
    assert [e.percent for e in events if e.type == "percent_progress"][:3] == [10, 20, 30]
    assert len({e.event_id for e in events}) == len(events)
    assert not errors, errors
    context.close()


def test_keyboard_reaches_the_cta_while_it_is_shown(browser, landing):
    _, _, _, url = landing
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.pvideoTracker && document.getElementById('pvideo-video').readyState >= 1")
    page.evaluate("() => { const v = document.getElementById('pvideo-video'); v.currentTime = 3.0; }")
    page.locator('.pvideo-cta[data-cta-id="buy"]').wait_for(state="visible")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.ctaId") == "buy":
            break
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Get Pro"
    # chapters made from the CTA windows are buttons too
    page.locator(".pvideo-chapter", has_text="Start").click()
    assert page.evaluate("document.getElementById('pvideo-video').currentTime") < 0.5
    context.close()


def test_phone_layout_and_studio_campaign_screenshots(browser, landing, artifacts):
    base, app, campaign_id, url = landing
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, user_agent=IPHONE
    )
    page = phone.new_page()
    page.goto(url)
    page.wait_for_function("window.pvideoTracker && document.getElementById('pvideo-video').readyState >= 1")
    page.evaluate("() => { document.getElementById('pvideo-video').currentTime = 3.0; }")
    page.locator('.pvideo-cta[data-cta-id="buy"]').wait_for(state="visible")
    player = page.locator("#pvideo-player").bounding_box()
    assert player["width"] <= 390 and player["x"] >= 0
    assert abs(player["width"] / player["height"] - 640 / 360) < 0.02
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.screenshot(path=str(artifacts / "landing-phone.png"), full_page=True)
    phone.close()

    make_user(app.state.pvideo.runtime, "ann@example.com", "analyst")
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/dashboard")  # the old dashboard's address: the studio, after its sign-in
    assert "/studio/sign-in" in page.url
    page.fill("#email", "ann@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/studio/campaigns")
    page.click(f'a[href="/studio/campaigns/{campaign_id}"]')
    page.wait_for_selector("svg.chart")
    assert page.locator("text=Funnel").count() >= 1
    assert page.locator("[data-count=done]").inner_text() == "1"
    page.screenshot(path=str(artifacts / "studio-campaign.png"), full_page=True)
    assert not errors, errors
    desk.close()


def test_hls_that_cannot_play_falls_back_to_the_mp4(browser, landing):
    """A page whose HLS playlist is missing (and no hls.js vendored yet) still plays the MP4."""
    _, _, _, url = landing
    context = browser.new_context()

    def with_hls(route):
        response = route.fetch()
        html = response.text().replace('id="pvideo-video"', 'id="pvideo-video" data-hls="/v/none/index.m3u8"', 1)
        route.fulfill(response=response, body=html)

    context.route(url, with_hls)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(
        "window.pvideoPlayer && window.pvideoPlayer.mode === 'mp4' && "
        "document.getElementById('pvideo-video').readyState >= 1",
        timeout=15_000,
    )
    assert page.evaluate("document.getElementById('pvideo-video').currentSrc").endswith("/video.mp4")
    assert page.evaluate("document.getElementById('pvideo-video').duration") > 3.5
    context.close()
