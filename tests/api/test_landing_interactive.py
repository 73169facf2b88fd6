"""A landing page with interactions, read without a browser: the player's config, the strict CSP
(forms may post to the page's own origin), and for pages read without JavaScript a plain form
per question whose field names the answer route understands, everything escaped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from pvideo.db.models import Campaign, Render, RenderStatus, Response, new_id
from tests.conftest import CARD_SCENE

SCENE = dict(
    CARD_SCENE,
    layers=[],
    fields=dict(CARD_SCENE["fields"], email={"type": "str", "required": False, "default": ""}),
    sections=[
        {"name": "billing", "start": 2, "end": 3, "then": "outro"},
        {"name": "savings", "start": 3, "end": 4},
        {"name": "outro", "start": 4, "end": 6},
    ],
    interactions=[
        {"type": "nps", "id": "nps", "start": 0.5, "pause": True, "question": "Would you tell {{ first_name }}?"},
        {
            "type": "poll",
            "id": "topics",
            "start": 1,
            "end": 1.8,
            "multiple": True,
            "question": "Which?",
            "choices": [{"id": "a", "label": "A <i>"}, {"id": "b", "label": "B"}],
        },
        {
            "type": "choice",
            "id": "path",
            "start": 1.9,
            "question": "Tell me about",
            "options": [{"section": "billing", "label": "Billing"}, {"section": "savings", "label": "Savings"}],
            "default": "savings",
        },
        {
            "type": "form",
            "id": "contact",
            "start": 4.5,
            "pause": True,
            "title": "Stay in touch, {{ first_name }}",
            "fields": [
                {"name": "email", "type": "email", "label": "Email", "required": True, "prefill": "{{ email }}"},
                {"name": "age", "type": "number", "label": "Age", "min": 18, "max": 120},
                {
                    "name": "size",
                    "type": "choice",
                    "label": "Team",
                    "choices": [{"id": "s", "label": "1-9"}, {"id": "l", "label": "10+"}],
                },
            ],
            "consent": {"text": "I agree"},
        },
        {"type": "rating", "id": "stars", "start": 5, "end": 5.5, "question": "Rate it", "stars": 4},
        {
            "type": "calendar",
            "id": "book",
            "start": 5.5,
            "end": 6,
            "label": "Book",
            "slot": "Tue 3 pm",
            "href": "https://cal.example/b?x=1&y=2",
        },
    ],
)
ROW = {"customer_id": "c1", "first_name": "<script>alert(1)</script>", "email": "ana@example.com", "price": 9}


class _Page(HTMLParser):
    """Start tags (with attributes) and, for each <form>, its controls; <noscript> parsed as markup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.forms: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "form":
            self.forms.append({"attrs": attributes, "controls": []})
        elif tag in ("input", "select", "button", "option") and self.forms:
            self.forms[-1]["controls"].append((tag, attributes))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture()
def viewer(client, runtime):
    """One finished render of the interactive scene and its token."""
    tokens = client.app.state.pvideo.tokens
    with runtime.db.session() as session:
        campaign = Campaign(id=new_id(), name="Check-in", scene_name="checkin", scene=SCENE)
        session.add(campaign)
        session.flush()
        render_id = new_id()
        token = tokens.issue(render_id)
        session.add(
            Render(
                id=render_id,
                campaign_id=campaign.id,
                row_number=1,
                customer_id="c1",
                data=ROW,
                status=RenderStatus.DONE,
                width=640,
                height=360,
                duration=6.0,
                hotspots=[],
                viewer_token=token,
                video_key=f"outputs/{render_id}/video.mp4",
                poster_key=f"outputs/{render_id}/poster.jpg",
            )
        )
    return campaign.id, token


def _config(html: str) -> dict:
    found = re.search(r'<script id="pvideo-config" type="application/json">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


def test_the_player_gets_the_rows_questions_and_where_answers_go(client, viewer):
    _, token = viewer
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    config = _config(page.text)
    assert config["responses_url"] == "/api/responses"
    interactive = config["interactive"]
    assert [s["name"] for s in interactive["sections"]] == ["billing", "savings", "outro"]
    assert interactive["sections"][0]["then"] == "outro"
    by_id = {i["id"]: i for i in interactive["interactions"]}
    assert by_id["nps"]["question"] == "Would you tell <script>alert(1)</script>?"  # as data, in JSON
    assert by_id["contact"]["fields"][0]["value"] == "ana@example.com"
    assert "<script>alert" not in page.text  # tojson escapes <, > and & in the data block
    tags = _parse(page.text).tags
    scripts = [a.get("src") for t, a in tags if t == "script"]
    assert scripts == [
        None,
        "/static/player.js",
        "/static/tracker.js",
        "/static/interactive-panels.js",
        "/static/interactive-paths.js",
        "/static/interactive.js",
    ]
    assert ("link", {"rel": "stylesheet", "href": "/static/interactive.css"}) in tags
    assert any(t == "div" and a.get("id") == "pvideo-screen" for t, a in tags)  # what goes full screen
    assert not [a for _, a in tags if "style" in a]
    csp = page.headers["content-security-policy"]
    assert "form-action 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    for asset in ("interactive.js", "interactive-panels.js", "interactive-paths.js", "interactive.css"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_without_javascript_each_question_is_a_plain_form(client, viewer):
    _, token = viewer
    html = client.get(f"/v/{token}").text
    noscript = html[html.index('<section class="pvideo-answers"') :]
    noscript = noscript[: noscript.index("</section>")]
    assert "<noscript>" in noscript
    page = _parse(noscript)
    forms = {f["attrs"]["action"].rsplit("/", 1)[1]: f for f in page.forms}
    assert set(forms) == {"nps", "topics", "path", "contact", "stars"}
    assert all(
        f["attrs"]["method"] == "post" and f["attrs"]["action"].startswith(f"/v/{token}/answers/")
        for f in forms.values()
    )

    def inputs(form_id: str, name: str) -> list[dict]:
        return [a for t, a in forms[form_id]["controls"] if t in ("input", "select") and a.get("name") == name]

    assert [(a["type"], a["value"]) for a in inputs("nps", "score")] == [("radio", str(n)) for n in range(11)]
    assert [(a["type"], a["value"]) for a in inputs("topics", "choice")] == [("checkbox", "a"), ("checkbox", "b")]
    assert [a["value"] for a in inputs("stars", "stars")] == ["1", "2", "3", "4"]
    assert [a["value"] for a in inputs("path", "section")] == ["billing", "savings"]
    (email,) = inputs("contact", "email")
    assert email["type"] == "email" and email["value"] == "ana@example.com" and "required" in email
    (age,) = inputs("contact", "age")
    assert (age["type"], age["min"], age["max"]) == ("number", "18.0", "120.0")
    (size,) = inputs("contact", "size")
    assert "required" not in size  # not required: its empty first option may be sent
    (consent,) = inputs("contact", "consent")
    assert consent == {
        "type": "checkbox",
        "id": "pvideo-nojs-contact-consent",
        "name": "consent",
        "value": "on",
        "required": None,
    }
    # every control has a label
    ids = {a["id"] for _, a in page.tags if a.get("id")}
    labelled = {a["for"] for t, a in page.tags if t == "label"}
    assert {a["id"] for f in forms.values() for t, a in f["controls"] if t in ("input", "select")} <= labelled <= ids
    # the booking link: http(s), a new tab
    (book,) = [a for t, a in page.tags if t == "a"]
    assert book == {
        "class": "pvideo-button",
        "href": "https://cal.example/b?x=1&y=2",
        "target": "_blank",
        "rel": "noopener",
    }
    # the row's data is text, never markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in noscript and "<script>" not in noscript
    assert "A &lt;i&gt;" in noscript


def _submit(form: dict) -> list[tuple[str, str]]:
    """What a browser sends for ``form`` once a person filled it: the first radio of each group,
    every checkbox, the prefilled or a fitting value in each field, the first real option."""
    data: list[tuple[str, str]] = []
    radios: set[str] = set()
    samples = {"email": "bo@example.com", "number": "42", "tel": "+1 555 0100", "text": "hi", "date": "2026-05-01"}
    controls = form["controls"]
    for n, (tag, a) in enumerate(controls):
        name = a.get("name")
        if not name:
            continue
        if tag == "select":
            option = next(o for t, o in controls[n + 1 :] if t == "option" and o.get("value"))
            data.append((name, option["value"]))
        elif a["type"] == "radio" and name not in radios:
            radios.add(name)
            data.append((name, a["value"]))
        elif a["type"] == "checkbox":
            data.append((name, a["value"]))
        elif a["type"] not in ("radio", "checkbox"):
            data.append((name, a.get("value") or samples[a["type"]]))
    return data


def test_the_forms_post_answers_the_server_stores_and_the_page_says_thanks(client, runtime, viewer):
    campaign_id, token = viewer
    html = client.get(f"/v/{token}").text
    section = html[html.index('<section class="pvideo-answers"') :]
    for form in _parse(section[: section.index("</section>")]).forms:
        sent = client.post(
            form["attrs"]["action"],
            content=urlencode(_submit(form)),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        interaction_id = form["attrs"]["action"].rsplit("/", 1)[1]
        assert sent.status_code == 303, (interaction_id, sent.text)
        assert sent.headers["location"] == f"/v/{token}?answered={interaction_id}#pvideo-answers"
    with runtime.db.session() as session:
        stored = {
            r.interaction_id: r for r in session.scalars(select(Response).where(Response.campaign_id == campaign_id))
        }
    assert stored["nps"].answer == {"score": 0}
    assert sorted(stored["topics"].answer["choices"]) == ["a", "b"]
    assert stored["path"].answer == {"section": "billing"}
    assert stored["stars"].answer == {"stars": 1}
    assert stored["contact"].consent is True
    assert stored["contact"].answer["fields"]["email"] == "ana@example.com"

    thanks = client.get(f"/v/{token}", params={"answered": "contact"}).text
    assert '<p class="pvideo-thanks" role="status">Thanks! Your answer to “Stay in touch, &lt;script&gt;' in thanks
    for unknown in ("nope", "<b>x</b>"):
        page = client.get(f"/v/{token}", params={"answered": unknown}).text
        assert "pvideo-thanks" not in page and "<b>x" not in page


def test_a_stored_scene_that_no_longer_reads_leaves_the_questions_out(client, runtime, viewer):
    campaign_id, token = viewer
    with runtime.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        campaign.scene = dict(SCENE, interactions=[{"type": "nps", "id": "nps", "start": 0.5}])  # no question
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    assert _config(page.text)["interactive"] == {"sections": [], "interactions": []}
    assert "interactive.js" not in page.text and "pvideo-answers" not in page.text
