"""The studio's campaign page in Chromium: counts and failures arrive live (Server-Sent Events, live.js)
without a reload, the list cancels through htmx; the campaign pages fit a 390 px wide phone and axe finds nothing serious on them."""

from __future__ import annotations

from sqlalchemy import select

from pvideo.db.models import Campaign, Render, RenderMode, RenderStatus, utcnow
from pvideo.jobs import campaigns
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import load_scene
from tests.browser.axe import serious_violations
from tests.studio.conftest import PASSWORD, make_user

ROWS = [{"customer_id": "c1", "first_name": "Ana", "price": 1}, {"customer_id": "c2", "first_name": "Bo", "price": 2}]


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/studio/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/studio/campaigns")


def _waiting_campaign(app) -> str:
    """An on-demand campaign: its rows wait (for views), and the test finishes them (``_finish``)."""
    runtime = app.state.pvideo.runtime
    spec = load_scene(runtime.settings.scenes_dir / "card.yaml")
    request = campaigns.CampaignRequest(
        spec, [CustomerRow(i, r) for i, r in enumerate(ROWS, 1)], name="Live", render_mode=RenderMode.ON_DEMAND
    )
    with runtime.db.session() as session:
        submission = campaigns.submit(session, request, settings=runtime.settings, tokens=app.state.pvideo.tokens)
        return submission.campaign.id


def _finish(runtime, campaign_id: str) -> None:
    """Row 1 fails (``ffmpeg crashed``), row 2 is done."""
    with runtime.db.session() as session:
        renders = session.scalars(select(Render).where(Render.campaign_id == campaign_id).order_by(Render.row_number))
        for render, status in zip(renders, (RenderStatus.FAILED, RenderStatus.DONE)):
            render.status, render.finished_at, render.attempts = status, utcnow(), 1
            render.error = "ffmpeg crashed" if status == RenderStatus.FAILED else None


def test_counts_and_failures_arrive_without_a_reload(browser, live_app, artifacts):
    base, app = live_app
    runtime = app.state.pvideo.runtime
    campaign_id = _waiting_campaign(app)
    make_user(runtime, "mia@example.com", "marketing")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requested.append(r.url))
    _sign_in(page, base, "mia@example.com")
    page.goto(f"{base}/studio/campaigns/{campaign_id}")
    assert page.locator("[data-count=queued]").inner_text() == "2"
    _finish(runtime, campaign_id)
    page.locator("[data-live-failures] td", has_text="ffmpeg crashed").wait_for(timeout=10_000)
    assert page.locator("[data-count=failed]").inner_text() == "1"
    assert page.locator("[data-count=done]").inner_text() == "1"
    assert page.locator("[data-count=queued]").inner_text() == "0"
    assert "2 of 2 rows finished (100%)" in page.locator("[data-live-summary]").inner_text()
    assert page.locator("[data-live-bar]").get_attribute("aria-label") == "Campaign progress: 100% finished"
    page.screenshot(path=str(artifacts / "studio-campaign-live.png"), full_page=True)
    assert any("/live?after=" in url for url in requested) and not any("progress.json" in url for url in requested)

    page.goto(f"{base}/studio/campaigns")  # the list polls its rows; cancel goes through htmx
    row = page.locator("#campaign-rows tr", has_text="Live")
    assert "active" in row.inner_text()
    page.on("dialog", lambda dialog: dialog.accept())
    page.evaluate("window.__same_page = true")
    row.locator("button", has_text="Cancel").click()
    row.locator(".badge", has_text="cancelled").wait_for(timeout=10_000)
    assert page.evaluate("window.__same_page") is True  # no reload
    with runtime.db.session() as session:
        assert session.get(Campaign, campaign_id).status == "cancelled"
    assert not errors, errors
    context.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, bypass_csp=True
    )  # bypass_csp: for axe's injected script only
    page = phone.new_page()
    _sign_in(page, base, "mia@example.com")
    for path in ("/studio/campaigns", f"/studio/campaigns/{campaign_id}", "/studio/campaigns?status=complete"):
        page.goto(f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path  # tables scroll in place
        assert serious_violations(page) == [], path
    page.screenshot(path=str(artifacts / "studio-campaign-phone.png"), full_page=True)
    phone.close()


def test_without_server_sent_events_the_page_polls(browser, live_app):
    base, app = live_app
    campaign_id = _waiting_campaign(app)
    make_user(app.state.pvideo.runtime, "ann@example.com", "analyst")
    context = browser.new_context()
    context.route("**/live?**", lambda route: route.fulfill(status=503, body="no streams here"))
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    _sign_in(page, base, "ann@example.com")
    page.goto(f"{base}/studio/campaigns/{campaign_id}")
    _finish(app.state.pvideo.runtime, campaign_id)
    page.locator("[data-live-failures] td", has_text="ffmpeg crashed").wait_for(timeout=10_000)
    assert page.locator("[data-count=done]").inner_text() == "1"
    assert any("/progress.json?after=" in url for url in requested)
    context.close()
