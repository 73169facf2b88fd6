"""The studio's interactions page: results per interaction, the path diagram, the form submissions
(personal data by role) and the exports; and in Chromium, at a phone's width, with axe."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest

from tests.browser.axe import serious_violations
from tests.browser.conftest import artifacts, live_app  # noqa: F401 (fixtures)
from tests.studio.conftest import PASSWORD, make_user, sign_in_as
from tests.tracking.answering import answer, interactive_campaign
from tests.viewers import event

HOSTILE = '<script>alert("x")</script>'


class _Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if data.strip():
            self.text.append(" ".join(data.split()))

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def words(self) -> str:
        return " ".join(self.text)


def _answered(client, app) -> str:
    """Two viewers answer (through ``client``, of ``app``): Ann everything (her note is hostile
    HTML) and reaches the end, Bo the NPS and the path, and lets the poll time out."""
    state = app.state.pvideo
    campaign_id, (ann, bo) = interactive_campaign(state.runtime.db, state.tokens, viewers=2)
    contact = {"fields": {"email": "ann@example.com", "phone": "+44 20 7946 0958", "note": HOSTILE}, "consent": True}
    for token, interaction, value in (
        (ann.token, "recommend", {"score": 10}),
        (ann.token, "topic", {"choices": ["service"]}),
        (ann.token, "stars", {"stars": 4}),
        (ann.token, "contact", contact),
        (ann.token, "path", {"section": "savings"}),
        (bo.token, "recommend", {"score": 2}),
        (bo.token, "path", {"section": "billing"}),
    ):
        assert client.post("/api/responses", json=answer(token, interaction, value)).status_code == 201
    for token in (ann.token, bo.token):
        shown = dict(event("interaction_shown", 3, seq=1), interaction_id="topic")
        batch = [shown, event("end", 40, seq=3)] if token == ann.token else [shown]
        if token == bo.token:
            batch.append(dict(event("interaction_skipped", 3, seq=2), interaction_id="topic", detail="timeout"))
        assert client.post("/api/events", json={"token": token, "events": batch}).json()["failed"] == 0
    return campaign_id


@pytest.mark.parametrize(("role", "email_shown"), [("analyst", "ann@example.com"), ("admin", "ann@example.com"),
                                                    ("marketing", "a***@example.com")])  # fmt: skip
def test_each_role_sees_the_numbers_and_personal_data_only_if_it_may(client, runtime, role, email_shown):
    campaign_id = _answered(client, client.app)
    sign_in_as(client, runtime, f"{role}@example.com", role)
    response = client.get(f"/studio/campaigns/{campaign_id}/interactions")
    assert response.status_code == 200
    html = response.text
    page = _Page(html)
    words = page.words()
    assert "recommend nps 2 2 0 100.0%" in words  # the summary row
    assert "topic poll 2 1 1 50.0%" in words and "timeout 1" in words
    assert "+0.0 NPS" in words and "1 promoters (9–10)" in words and "1 detractors (0–6)" in words
    assert "4.00 of 5 stars on average" in words
    assert "Savings savings 1 50.0% end 1 100.0%" in words and "Billing billing 1 50.0% end 0 0.0%" in words
    paths = page.all("svg", **{"class": "chart paths"})
    assert len(paths) == 1 and paths[0]["role"] == "img"
    assert "Billing: chosen by 1 (50.0%), then end; 0 reached the end (0.0%)" in words
    bars = [float(r["width"]) for r in page.all("rect", **{"class": "bar"})]
    assert bars[:11] == [0.0, 0.0, 380.0] + [0.0] * 7 + [380.0]  # NPS: one 2, one 10
    assert bars[11:13] == [0.0, 380.0] and "Price: 0; Service: 1" in words  # the poll
    assert email_shown in words
    if role == "marketing":
        assert "ann@example.com" not in html and "***58" in words and "7946" not in html
        assert "masked: your role may not see personal data" in words
    else:
        assert "+44 20 7946 0958" in words and HOSTILE in words  # shown as text ...
    assert HOSTILE not in html and "<script>alert" not in html  # ... escaped
    assert not [a for _, a in page.tags if "style" in a] and "<style" not in html
    assert all("src" in a for a in page.all("script"))  # no inline script
    campaign_page = client.get(f"/studio/campaigns/{campaign_id}").text
    assert f'href="/studio/campaigns/{campaign_id}/interactions"' in campaign_page
    assert "7 answers to 8 interactions" in _Page(campaign_page).words()


@pytest.mark.parametrize(("role", "masked"), [("analyst", False), ("marketing", True)])
def test_the_exports_follow_the_same_rule(client, runtime, role, masked):
    campaign_id = _answered(client, client.app)
    sign_in_as(client, runtime, f"{role}@example.com", role)
    lines = client.get(f"/studio/campaigns/{campaign_id}/responses.ndjson")
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in lines.headers["content-disposition"]
    rows = [json.loads(line) for line in lines.text.splitlines()]
    assert [r["interaction_id"] for r in rows] == [
        "recommend",
        "topic",
        "stars",
        "contact",
        "path",
        "recommend",
        "path",
    ]
    fields = rows[3]["answer"]["fields"]
    assert fields["email"] == ("a***@example.com" if masked else "ann@example.com")
    assert fields["note"] == ("***" if masked else HOSTILE)
    table = list(csv.DictReader(io.StringIO(client.get(f"/studio/campaigns/{campaign_id}/responses.csv").text)))
    assert table[3]["field.phone"] == ("***58" if masked else "'+44 20 7946 0958")
    assert client.get("/studio/campaigns/nope/responses.csv").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in_and_an_empty_scene_says_so(client, runtime):
    campaign_id = _answered(client, client.app)
    response = client.get(f"/studio/campaigns/{campaign_id}/interactions", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/studio/sign-in")
    plain, _ = interactive_campaign(
        runtime.db, client.app.state.pvideo.tokens, viewers=1, scene={"name": "plain", "video": "t.mp4", "fields": {}}
    )
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    assert "asks its viewers nothing" in client.get(f"/studio/campaigns/{plain}/interactions").text
    assert client.get("/studio/campaigns/nope/interactions").status_code == 404
    dated = client.get(f"/studio/campaigns/{campaign_id}/interactions?start=2001-01-01&end=2001-01-02")
    assert "recommend nps 0 0 0 0.0%" in _Page(dated.text).words()


def test_the_page_in_chromium_at_a_phones_width_with_axe(browser, live_app, artifacts):  # noqa: F811
    base, app = live_app
    runtime = app.state.pvideo.runtime
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        campaign_id = _answered(client, client.app)
    make_user(runtime, "ann@example.com", "analyst")
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, bypass_csp=True
    )  # bypass_csp: for axe's injected script only
    page = phone.new_page()
    page.goto(f"{base}/studio/sign-in")
    page.fill("#email", "ann@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/studio/campaigns")
    page.goto(f"{base}/studio/campaigns/{campaign_id}/interactions")
    assert page.get_by_role("heading", name="Interactions").is_visible()
    assert page.get_by_role("img", name="Paths").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # tables scroll in place
    assert serious_violations(page) == []
    page.screenshot(path=str(artifacts / "studio-interactions-phone.png"), full_page=True)
    phone.close()
