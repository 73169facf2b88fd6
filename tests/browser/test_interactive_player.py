"""The interactive player in Chromium, acting as a viewer: the NPS question pauses the video and
it plays on after the answer; picking the second branch jumps to it, plays it, goes on after it
and never shows the first; the form is sent with consent; all of it by keyboard too, on a phone
and in full screen; axe finds nothing serious with a question open; without JavaScript the page
offers the same questions as forms. What the server stored is read back from the database.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from pvideo.db.models import Event, Response
from tests.browser.axe import serious_violations
from tests.browser.colours import FRAME, SAMPLER, make_colour_assets, nearest, render_campaign, scene, use_scenes

BLOCKS = [("red", 2), ("green", 1.5), ("blue", 1.5), ("yellow", 2)]
CHECKIN = scene(
    "checkin_test",
    "templates/colours.mp4",
    [
        {"name": "billing", "start": 2, "end": 3.5},
        {"name": "savings", "start": 3.5, "end": 5},
        {"name": "outro", "start": 5, "end": 7},
    ],
    [
        {
            "type": "nps",
            "id": "nps",
            "start": 0.5,
            "pause": True,
            "question": "How likely are you to recommend us, {{ first_name }}?",
        },
        {
            "type": "choice",
            "id": "path",
            "start": 1.5,
            "question": "What should we talk about?",
            "options": [{"section": "billing", "label": "Billing"}, {"section": "savings", "label": "Savings"}],
            "default": "billing",
            "timeout": 120,
        },
        {
            "type": "form",
            "id": "contact",
            "start": 5.5,
            "pause": True,
            "title": "Stay in touch",
            "fields": [
                {"name": "email", "type": "email", "label": "Email", "required": True, "prefill": "{{ email }}"},
                {"name": "phone", "type": "phone", "label": "Phone"},
            ],
            "consent": {"text": "I agree that Acme may contact me about my plan"},
            "submit_label": "Send",
        },
    ],
)
KINDS = scene(
    "kinds_test",
    "templates/colours.mp4",
    [],
    [
        {"type": "gate", "id": "gate", "start": 0, "consent": {"text": "Send me the video by email too"}},
        {
            "type": "poll",
            "id": "topics",
            "start": 1.0,
            "pause": True,
            "multiple": True,
            "question": "Which topics interest you?",
            "choices": [
                {"id": "price", "label": "Price"},
                {"id": "speed", "label": "Speed"},
                {"id": "help", "label": "Help"},
            ],
        },
        {"type": "rating", "id": "stars", "start": 2.0, "pause": True, "question": "How was this video?", "stars": 5},
        {
            "type": "calendar",
            "id": "book",
            "start": 3.0,
            "end": 6.5,
            "label": "Book a call",
            "slot": "Tuesday 3 pm",
            "href": "https://cal.example/book?c={{ customer_id }}",
        },
    ],
)
ROWS = [
    {"customer_id": "c1", "first_name": "Ana <b>", "email": "ana@example.com"},
    {"customer_id": "c2", "first_name": "Bo", "email": "bo@example.com"},
    {"customer_id": "c3", "first_name": "Cy", "email": ""},
]
VIDEO = "document.getElementById('pvideo-video')"
PLAY = f"() => {{ const v = {VIDEO}; v.muted = true; return v.play(); }}"


@pytest.fixture(scope="module")
def colour_assets(tmp_path_factory, assets_dir):
    return make_colour_assets(assets_dir, tmp_path_factory.mktemp("checkin") / "assets", BLOCKS)


@pytest.fixture()
def settings(settings, colour_assets, tmp_path):
    return use_scenes(settings, colour_assets, tmp_path / "scenes", CHECKIN, KINDS)


@pytest.fixture()
def checkin(live_app):
    """Three customers of the check-in scene, rendered as MP4: (base, app, campaign id, landing URLs)."""
    base, app = live_app
    campaign_id, urls = render_campaign(base, app, "checkin_test", ROWS, outputs="mp4")
    return base, app, campaign_id, urls


def _page(browser, url: str, **options):
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **options})
    context.route("https://cal.example/**", lambda route: route.fulfill(status=200, body="booking"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function(f"() => window.pvideoInteractive && window.pvideoTracker && {VIDEO}.readyState >= 2")
    return context, page, errors


def _stored(app, campaign_id: str, model, count: int, timeout: float = 15.0, **where) -> list:
    """Rows of ``model`` for the campaign (filtered by ``where``) once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        with app.state.pvideo.runtime.db.session() as session:
            query = select(model).where(model.campaign_id == campaign_id)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            rows = list(session.scalars(query))
            session.expunge_all()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _leave(page, context) -> None:
    """Close the viewer's page once the tracker has handed over every queued event.

    A closing context does not fire ``pagehide`` (the page's own flush), so a test that
    counts events afterwards first sends what is waiting and sees it acknowledged.
    """
    page.evaluate("window.pvideoTracker.flush()")
    page.wait_for_function("() => window.pvideoTracker.queue.length === 0", timeout=15_000)
    context.close()


def _panel(page, interaction_id: str):
    return page.locator(f'.pvideo-q[data-interaction-id="{interaction_id}"]')


def _paused_at(page) -> float | None:
    return page.evaluate(f"() => {VIDEO}.paused ? {VIDEO}.currentTime : null")


def test_viewer_answers_nps_picks_the_second_branch_and_sends_the_form(browser, checkin, artifacts):
    _, app, campaign_id, urls = checkin
    context, page, errors = _page(browser, urls[0])
    page.evaluate(SAMPLER)
    page.evaluate(PLAY)

    # NPS: the video holds at 0.5 s while the question is open, focus is in the dialog
    nps = _panel(page, "nps")
    nps.wait_for(state="visible", timeout=15_000)
    assert abs(_paused_at(page) - 0.5) <= 2 * FRAME
    assert nps.get_attribute("role") == "dialog" and nps.get_attribute("aria-modal") == "true"
    title = page.locator("#pvideo-q-nps-title")
    assert title.inner_text() == "How likely are you to recommend us, Ana <b>?"  # data shown as text
    assert title.locator("b").count() == 0 and nps.get_attribute("aria-labelledby") == "pvideo-q-nps-title"
    assert page.evaluate("() => document.activeElement.closest('.pvideo-q') !== null")
    page.screenshot(path=str(artifacts / "interactive-nps.png"), animations="disabled")
    time.sleep(0.3)
    assert _paused_at(page) is not None  # still held
    with page.expect_response(lambda r: r.url.endswith("/api/responses")) as answered:
        nps.locator('button[data-score="9"]').click()
    assert answered.value.status == 201
    page.wait_for_function(f"() => !{VIDEO}.paused")  # and it plays on
    assert nps.count() == 0
    page.wait_for_function("() => document.getElementById('pvideo-live').textContent.includes('Thanks')")

    # choose your path: the second branch
    path = _panel(page, "path")
    path.wait_for(state="visible", timeout=15_000)
    assert abs(_paused_at(page) - 1.5) <= 2 * FRAME
    path.locator('button[data-section="savings"]').click()
    page.wait_for_function("() => window.pvideoInteractive.log.length === 1")
    jump = page.evaluate("window.pvideoInteractive.log[0]")
    assert jump["reason"] == "choice" and abs(jump["from"] - 1.5) <= 2 * FRAME and abs(jump["to"] - 3.5) <= FRAME
    page.wait_for_function(f"() => !{VIDEO}.paused")

    # the form at 5.5 s, after the branch: the email is there already; a bad phone is refused by the server
    form = _panel(page, "contact")
    form.wait_for(state="visible", timeout=15_000)
    assert _paused_at(page) is not None
    assert page.evaluate("window.pvideoInteractive.log.length") == 1  # on from the branch's end, no jump
    assert form.locator('input[name="email"]').input_value() == "ana@example.com"
    form.locator('input[name="phone"]').fill("not a phone")
    form.locator('input[name="consent"]').check()
    with page.expect_response(lambda r: r.url.endswith("/api/responses")) as refused:
        form.locator("button[type=submit]").click()
    assert refused.value.status == 422
    error = form.locator(".pvideo-q-error")
    error.wait_for(state="visible")
    assert "phone" in error.inner_text()
    page.screenshot(path=str(artifacts / "interactive-form-error.png"), animations="disabled")
    form.locator('input[name="phone"]').fill("+1 555 0100")
    with page.expect_response(lambda r: r.url.endswith("/api/responses")) as sent:
        form.locator("button[type=submit]").click()
    assert sent.value.status == 201
    page.wait_for_function(f"() => {VIDEO}.ended", timeout=15_000)

    # the decoded frames: never the first branch after the question; the second, then the outro
    frames = [(f["t"], nearest(f["rgb"])[0]) for f in page.evaluate("window.__frames.frames")]
    assert "green" not in {colour for _, colour in frames}, frames
    assert {"red", "blue", "yellow"} <= {colour for _, colour in frames}

    # a replay asks nothing again, and passes over the branch not chosen
    page.evaluate(f"() => {{ {VIDEO}.currentTime = 0; return {VIDEO}.play(); }}")
    page.wait_for_function("() => window.pvideoInteractive.log.some(j => j.reason === 'skip')", timeout=15_000)
    skip = next(j for j in page.evaluate("window.pvideoInteractive.log") if j["reason"] == "skip")
    assert abs(skip["from"] - 2.0) <= FRAME and abs(skip["to"] - 3.5) <= FRAME
    assert page.locator(".pvideo-q").count() == 0
    assert not errors, errors
    _leave(page, context)

    answers = {r.interaction_id: r for r in _stored(app, campaign_id, Response, 3)}
    assert answers["nps"].answer == {"score": 9}
    assert answers["path"].answer == {"section": "savings"}
    assert answers["contact"].consent is True and answers["contact"].pii is True
    assert answers["contact"].answer["fields"] == {"email": "ana@example.com", "phone": "+1 555 0100"}
    assert len({r.session_id for r in answers.values()}) == 1
    shown = _stored(app, campaign_id, Event, 3, type="interaction_shown")
    assert sorted(e.interaction_id for e in shown) == ["contact", "nps", "path"]  # once each, replay or not


def test_keyboard_only_tab_enter_and_escape(browser, checkin, artifacts):
    _, app, campaign_id, urls = checkin
    context, page, errors = _page(browser, urls[1])
    page.evaluate(PLAY)
    nps = _panel(page, "nps")
    nps.wait_for(state="visible", timeout=15_000)
    assert page.evaluate("document.activeElement.id") == "pvideo-q-nps"  # the dialog itself: its question is read first
    page.keyboard.press("Shift+Tab")  # focus stays in the dialog: back round to its last control
    assert page.evaluate("document.activeElement.textContent") == "Skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.score") == "0"
    for _ in range(7):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.score") == "7"
    page.screenshot(path=str(artifacts / "interactive-keyboard-focus.png"), animations="disabled")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => !{VIDEO}.paused")
    assert page.evaluate("document.activeElement.id") == "pvideo-video"  # focus back on the video

    path = _panel(page, "path")
    path.wait_for(state="visible", timeout=15_000)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.section") == "savings"
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.pvideoInteractive.log.length === 1")

    form = _panel(page, "contact")
    form.wait_for(state="visible", timeout=15_000)
    page.keyboard.press("Escape")  # skippable: Esc closes it and the video plays on
    form.wait_for(state="detached")
    page.wait_for_function(f"() => !{VIDEO}.paused || {VIDEO}.ended")
    assert page.evaluate("document.activeElement.id") == "pvideo-video"
    assert not errors, errors
    _leave(page, context)

    answers = {r.interaction_id: r.answer for r in _stored(app, campaign_id, Response, 2)}
    assert answers == {"nps": {"score": 7}, "path": {"section": "savings"}}
    (skipped,) = _stored(app, campaign_id, Event, 1, type="interaction_skipped")
    assert skipped.interaction_id == "contact" and skipped.detail == "escape"


def test_phone_fullscreen_and_axe_with_a_question_open(browser, checkin, artifacts):
    _, _, _, urls = checkin
    # a phone, 390 px wide: the panel stays inside the viewport, nothing scrolls sideways
    context, page, errors = _page(
        browser, urls[2], viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, bypass_csp=True
    )
    page.evaluate(PLAY)
    nps = _panel(page, "nps")
    nps.wait_for(state="visible", timeout=15_000)
    box = nps.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "interactive-phone-nps.png"), full_page=True, animations="disabled")
    assert serious_violations(page) == []
    nps.locator(".pvideo-q-skip").click()
    # the form, the tallest panel: seek just before it and play through its start
    page.evaluate(f"() => {{ {VIDEO}.currentTime = 5.3; return {VIDEO}.play(); }}")
    form = _panel(page, "contact")
    form.wait_for(state="visible", timeout=15_000)
    box = form.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert form.locator('input[name="email"]').input_value() == ""  # no email in this row: nothing filled
    page.screenshot(path=str(artifacts / "interactive-phone-form.png"), full_page=True, animations="disabled")
    assert serious_violations(page) == []
    assert not errors, errors
    context.close()

    # full screen is the player's wrapper, so the question shows there too
    context, page, errors = _page(browser, urls[2])
    page.locator(".pvideo-fs").click()
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.id === 'pvideo-screen'")
    page.evaluate(PLAY)
    nps = _panel(page, "nps")
    nps.wait_for(state="visible", timeout=15_000)
    box, view = nps.bounding_box(), page.viewport_size
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"] and box["y"] + box["height"] <= view["height"]
    assert page.locator(".pvideo-fs").get_attribute("aria-pressed") == "true"
    page.screenshot(path=str(artifacts / "interactive-fullscreen.png"), animations="disabled")
    assert not errors, errors
    context.close()


def test_gate_poll_rating_and_calendar(browser, live_app, artifacts):
    base, app = live_app
    campaign_id, (url,) = render_campaign(base, app, "kinds_test", ROWS[:1], outputs="mp4")
    context, page, errors = _page(browser, url)
    gate = _panel(page, "gate")
    gate.wait_for(state="visible")  # before playback
    page.evaluate(PLAY)
    time.sleep(0.3)
    assert _paused_at(page) <= FRAME  # the gate holds the video
    assert gate.locator(".pvideo-q-skip").count() == 0  # and cannot be skipped
    page.keyboard.press("Escape")
    assert gate.is_visible()
    gate.locator('input[name="email"]').fill("ana@example.com")
    gate.locator('input[name="consent"]').check()
    gate.locator("button[type=submit]").click()
    page.wait_for_function(f"() => !{VIDEO}.paused")

    poll = _panel(page, "topics")
    poll.wait_for(state="visible", timeout=15_000)
    poll.locator("button[type=submit]").click()  # nothing chosen: said in the panel, nothing sent
    assert poll.locator(".pvideo-q-error").inner_text() == "Choose at least one answer."
    poll.get_by_label("Price").check()
    poll.get_by_label("Help").check()
    poll.locator("button[type=submit]").click()

    stars = _panel(page, "stars")
    stars.wait_for(state="visible", timeout=15_000)
    stars.locator('input[value="1"]').focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # a radio group: arrows move the choice
    assert stars.locator(".pvideo-q-star.is-on").count() == 4
    page.screenshot(path=str(artifacts / "interactive-rating.png"), animations="disabled")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Send"
    page.keyboard.press("Enter")

    book = _panel(page, "book")
    book.wait_for(state="visible", timeout=15_000)
    assert book.get_attribute("aria-modal") is None  # a corner panel: the video plays on
    assert not page.evaluate(f"{VIDEO}.paused")
    link = book.get_by_role("link")
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener"
    with context.expect_page() as popup:
        link.click()
    assert popup.value.url == "https://cal.example/book?c=c1"
    book.wait_for(state="detached")
    assert not errors, errors
    context.close()

    answers = {r.interaction_id: r for r in _stored(app, campaign_id, Response, 4)}
    assert answers["gate"].answer["fields"] == {"email": "ana@example.com"} and answers["gate"].consent is True
    assert sorted(answers["topics"].answer["choices"]) == ["help", "price"]
    assert answers["stars"].answer == {"stars": 4}
    assert answers["book"].answer == {"opened": True}


def test_without_javascript_the_questions_are_forms_below_the_video(browser, checkin, artifacts):
    _, app, campaign_id, urls = checkin
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(urls[0])
    section = page.locator("#pvideo-answers")
    assert section.locator("form").count() == 3
    nps = section.locator('form[action$="/answers/nps"]')
    nps.get_by_label("8", exact=True).check()
    with page.expect_navigation():
        nps.locator("button[type=submit]").click()
    assert page.url.endswith("?answered=nps#pvideo-answers")
    thanks = page.locator(".pvideo-thanks")
    assert "How likely are you to recommend us, Ana <b>?" in thanks.inner_text()
    page.screenshot(path=str(artifacts / "interactive-nojs-thanks.png"), full_page=True, animations="disabled")
    assert section.locator('form[action$="/answers/nps"]').count() == 0  # answered: its form is gone
    form = section.locator('form[action$="/answers/contact"]')
    assert form.locator('input[name="email"]').input_value() == "ana@example.com"
    form.get_by_label("I agree that Acme may contact me about my plan").check()
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.url.endswith("?answered=contact#pvideo-answers")
    context.close()

    answers = {r.interaction_id: r for r in _stored(app, campaign_id, Response, 2)}
    assert answers["nps"].answer == {"score": 8} and answers["nps"].session_id == ""
    assert answers["contact"].consent is True


def _delivered(receiver, event_type: str, after: float, timeout: float = 30.0) -> tuple[dict, float]:
    """The first delivery of ``event_type`` (its verified body) and the seconds from ``after`` to its arrival."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for got in receiver.to("/hooks"):
            if got.json().get("type") == event_type:
                return got, time.monotonic() - after
        time.sleep(0.02)
    raise AssertionError(f"no {event_type} delivery within {timeout} s: {[r.json() for r in receiver.to('/hooks')]}")


def test_two_way_journey_answers_reach_a_signed_webhook_and_the_analytics(browser, checkin, artifacts):
    """Issue #17's journey: a viewer answers the NPS question, takes the second branch and sends the
    form; a receiver gets three signed deliveries (checked with ``standardwebhooks``); a second
    viewer skips everything; the campaign analytics count both."""
    import httpx

    from tests.conftest import API_KEY
    from tests.webhook_receiver import Receiver

    base, app, campaign_id, urls = checkin
    app.state.pvideo.runtime.settings.webhook_allow_private = True  # the receiver listens on 127.0.0.1
    receiver = Receiver()
    with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=30) as api:
        made = api.post(
            f"/api/campaigns/{campaign_id}/webhooks",
            json={"url": receiver.url("/hooks"), "events": ["poll_answered", "branch_chosen", "form_submitted"]},
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]

        context, page, errors = _page(browser, urls[0])
        page.evaluate(PLAY)
        delays = {}
        _panel(page, "nps").wait_for(state="visible", timeout=15_000)
        with page.expect_response(lambda r: r.url.endswith("/api/responses")) as answered:
            _panel(page, "nps").locator('button[data-score="9"]').click()
        assert answered.value.status == 201
        nps, delays["poll_answered"] = _delivered(receiver, "poll_answered", time.monotonic())
        _panel(page, "path").wait_for(state="visible", timeout=15_000)
        with page.expect_response(lambda r: r.url.endswith("/api/responses")) as chosen:
            _panel(page, "path").locator('button[data-section="savings"]').click()
        assert chosen.value.status == 201
        branch, delays["branch_chosen"] = _delivered(receiver, "branch_chosen", time.monotonic())
        form = _panel(page, "contact")
        form.wait_for(state="visible", timeout=15_000)
        form.locator('input[name="consent"]').check()
        with page.expect_response(lambda r: r.url.endswith("/api/responses")) as sent:
            form.locator("button[type=submit]").click()
        assert sent.value.status == 201
        submitted, delays["form_submitted"] = _delivered(receiver, "form_submitted", time.monotonic())
        page.wait_for_function(f"() => {VIDEO}.ended", timeout=15_000)
        page.screenshot(path=str(artifacts / "two-way-journey-end.png"), animations="disabled")
        assert not errors, errors
        context.close()
        (artifacts / "two-way-journey-delivery-seconds.txt").write_text(
            "".join(f"{kind}: {seconds:.3f}\n" for kind, seconds in delays.items())
        )
        print("answer -> signed delivery, seconds:", delays)

        # three signed deliveries, each verified as a receiver would, each carrying the viewer's answer
        assert len(receiver.to("/hooks")) == 3
        assert nps.verified(secret)["data"]["answer"] == {"score": 9}
        assert branch.verified(secret)["data"]["answer"] == {"section": "savings"}
        form_data = submitted.verified(secret)["data"]
        assert form_data["answer"]["fields"]["email"] == "ana@example.com"
        assert form_data["consent"]["given"] is True
        assert {d.verified(secret)["data"]["render_id"] for d in (nps, branch, submitted)} == {form_data["render_id"]}

        # a second viewer skips everything: the default branch plays, each question counts as skipped
        context, page, errors = _page(browser, urls[1])
        page.evaluate(PLAY)
        for interaction in ("nps", "path", "contact"):
            panel = _panel(page, interaction)
            panel.wait_for(state="visible", timeout=15_000)
            panel.get_by_role("button", name="Skip").click()
        page.wait_for_function(f"() => {VIDEO}.ended", timeout=15_000)
        jumps = page.evaluate("window.pvideoInteractive.log")
        assert jumps[0]["reason"] == "default" and abs(jumps[0]["to"] - 2.0) <= FRAME, jumps  # billing
        assert not errors, errors
        _leave(page, context)
        _stored(app, campaign_id, Event, 3, type="interaction_skipped")

        analytics = api.get(f"/api/campaigns/{campaign_id}/analytics")
        assert analytics.status_code == 200, analytics.text
    stats = {i["interaction_id"]: i for i in analytics.json()["interactions"]}
    assert (stats["nps"]["shown"], stats["nps"]["answered"], stats["nps"]["skipped"]) == (2, 1, 1)
    assert stats["nps"]["nps"]["promoters"] == 1 and stats["nps"]["nps"]["score"] == 100.0
    branches = {b["section"]: b for b in stats["path"]["branches"]}
    assert (branches["savings"]["chosen"], branches["billing"]["chosen"]) == (1, 0)
    assert (stats["path"]["answered"], stats["path"]["skipped"]) == (1, 1)
    assert (stats["contact"]["submissions"], stats["contact"]["consented"], stats["contact"]["skipped"]) == (1, 1, 1)
    assert len(receiver.to("/hooks")) == 3  # skips were not subscribed to: nothing more was sent
    receiver.stop()
