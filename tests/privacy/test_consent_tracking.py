"""Consent-aware tracking through the real app (events, answers, CTA clicks; SQLite): what each
campaign mode stores, read back from the database.

``anonymous`` stores events without session id, seq or device clock, answers without session,
refuses a form's personal fields (403) and publishes no webhook; ``consent`` is the same until a
batch says ``consent: true``, which counts only without ``Sec-GPC: 1`` / ``DNT: 1``; ``full`` is
as before, whatever the headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from pvideo.db.models import Campaign, Event, FailedEvent, Response, WatchViewer, WebhookDelivery, WebhookSubscription
from pvideo.tracking.responses import UNCONSENTED_DETAIL
from tests.tracking.answering import answer, interactive_campaign
from tests.viewers import event

GPC = {"Sec-GPC": "1"}
DNT = {"DNT": "1"}


@pytest.fixture()
def app(runtime):
    return create_app(runtime=runtime)


@pytest.fixture()
def client(app):
    with TestClient(app) as client:
        yield client


def campaign_in(app, runtime, mode: str):
    """A campaign of two done renders asking every interaction, its tracking set to ``mode``, and a
    webhook subscription to everything."""
    campaign_id, viewers = interactive_campaign(runtime.db, app.state.pvideo.tokens)
    with runtime.db.session() as session:
        session.get(Campaign, campaign_id).tracking = mode
        session.add(
            WebhookSubscription(
                campaign_id=campaign_id,
                url="http://127.0.0.1:9/hook",
                events=["cta_clicked", "video_completed", "poll_answered", "form_submitted"],
                secret="whsec_x",
            )
        )
    return campaign_id, viewers


def events_of(runtime, render_id: str) -> list[Event]:
    with runtime.db.session() as session:
        rows = list(session.scalars(select(Event).where(Event.render_id == render_id).order_by(Event.id)))
        session.expunge_all()
        return rows


def count(runtime, model, **where) -> int:
    with runtime.db.session() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return session.scalar(query)


def watching(n: int = 0) -> list[dict]:
    """A viewer's visit: opened, played, a CTA click, the end; each event with session, seq and clock."""
    return [
        event("page_view", seq=1, event_id=f"v{n}-1"),
        event("play", 0.0, seq=2, event_id=f"v{n}-2"),
        event("cta_click", 3.0, cta="buy", seq=3, event_id=f"v{n}-3"),
        event("end", 40.0, seq=4, event_id=f"v{n}-4"),
    ]


def test_anonymous_mode_stores_events_without_anything_per_viewer_and_still_counts(client, app, runtime):
    campaign_id, (ann, _) = campaign_in(app, runtime, "anonymous")
    bad = {**event("play", seq=9, event_id="no-position"), "session_id": "leaky"}
    sent = client.post("/api/events", json={"token": ann.token, "events": [*watching(), bad], "consent": True})
    assert sent.status_code == 200 and sent.json()["stored"] == 4, sent.text
    rows = events_of(runtime, ann.render_id)
    assert [r.type for r in rows] == ["page_view", "play", "cta_click", "end"]
    for row in rows:
        assert (row.session_id, row.seq, row.client_ts) == (None, None, None)
        assert row.occurred_at == row.received_at  # the device's clock is not kept
    with runtime.db.session() as session:
        failed = session.scalars(select(FailedEvent).where(FailedEvent.campaign_id == campaign_id)).one()
        assert "leaky" not in failed.payload and "client_ts" not in failed.payload and "no-position" in failed.payload
        viewer = session.get(WatchViewer, ann.render_id)
        assert (viewer.opened, viewer.played, viewer.ended) == (True, True, True)  # the counts are kept
    assert count(runtime, WebhookDelivery, campaign_id=campaign_id) == 0  # nothing per viewer goes out


@pytest.mark.parametrize("path", ["/api/events", "/api/events?route=1"])  # the short path and the route
def test_consent_mode_keeps_the_session_only_for_an_agreement_the_headers_do_not_refuse(client, app, runtime, path):
    campaign_id, (ann, _) = campaign_in(app, runtime, "consent")

    def send(n: int, headers: dict | None = None, **body) -> list[Event]:
        events = watching(n)
        response = client.post(path, json={"token": ann.token, "events": events, **body}, headers=headers or {})
        assert response.status_code == 200 and response.json()["stored"] == 4, response.text
        ids = {e["event_id"] for e in events}
        return [r for r in events_of(runtime, ann.render_id) if r.event_id in ids]

    assert {r.session_id for r in send(1)} == {None}  # before agreeing: anonymous, still counted
    assert {r.session_id for r in send(2, GPC, consent=True)} == {None}  # Sec-GPC: 1 outranks the page
    assert {r.session_id for r in send(3, DNT, consent=True)} == {None}  # so does DNT: 1
    assert count(runtime, WebhookDelivery, campaign_id=campaign_id) == 0
    agreed = send(4, {"Sec-GPC": "0"}, consent=True)
    assert {r.session_id for r in agreed} == {"s1"} and sorted(r.seq for r in agreed) == [1, 2, 3, 4]
    assert all(r.client_ts is not None for r in agreed)
    assert count(runtime, WebhookDelivery, campaign_id=campaign_id) == 2  # the click and the end, once agreed


def test_full_mode_is_unchanged_whatever_the_headers(client, app, runtime):
    _, (ann, _) = campaign_in(app, runtime, "full")
    response = client.post("/api/events", json={"token": ann.token, "events": watching()}, headers=GPC)
    assert response.status_code == 200
    assert {(r.session_id, r.seq is not None) for r in events_of(runtime, ann.render_id)} == {("s1", True)}


def test_anonymous_answers_keep_no_session_and_a_form_with_personal_fields_is_refused(client, app, runtime):
    campaign_id, (ann, _) = campaign_in(app, runtime, "anonymous")
    poll = client.post("/api/responses", json={**answer(ann.token, "topic", {"choices": ["price"]}), "consent": True})
    assert poll.status_code == 201, poll.text
    with runtime.db.session() as session:
        stored = session.scalars(select(Response).where(Response.render_id == ann.render_id)).one()
        assert (stored.session_id, stored.client_ts, stored.answer) == ("", None, {"choices": ["price"]})
        counted = session.scalars(select(Event).where(Event.interaction_id == "topic")).one()
        assert (counted.type, counted.session_id, counted.client_ts) == ("interaction_answered", None, None)
    form = {"fields": {"email": "ann.private@example.com", "phone": "+44 20 7946 0000"}, "consent": True}
    for path in ("/api/responses", "/api/responses?route=1"):
        refused = client.post(path, json=answer(ann.token, "contact", form))
        assert refused.status_code == 403 and refused.json()["detail"] == UNCONSENTED_DETAIL, refused.text
    no_js = client.post(f"/v/{ann.token}/answers/contact", data={"email": "ann.private@example.com", "consent": "on"})
    assert no_js.status_code == 403 and "not saved" in no_js.text
    assert count(runtime, Response, interaction_id="contact") == 0
    assert count(runtime, WebhookDelivery, campaign_id=campaign_id) == 0


def test_consent_mode_answers_a_form_once_agreed_unless_the_browser_refuses(client, app, runtime):
    campaign_id, (_, bo) = campaign_in(app, runtime, "consent")
    form = {"fields": {"email": "bo.private@example.com"}, "consent": True}
    before = client.post("/api/responses", json=answer(bo.token, "contact", form))
    assert before.status_code == 403
    refused = client.post("/api/responses", json={**answer(bo.token, "contact", form), "consent": True}, headers=GPC)
    assert refused.status_code == 403
    agreed = client.post(
        "/api/responses", json={**answer(bo.token, "contact", form, session_id="bo-1"), "consent": True}
    )
    assert agreed.status_code == 201, agreed.text
    with runtime.db.session() as session:
        row = session.scalars(select(Response).where(Response.render_id == bo.render_id)).one()
        assert row.session_id == "bo-1" and row.answer["fields"]["email"] == "bo.private@example.com"
    assert count(runtime, WebhookDelivery, campaign_id=campaign_id, event_type="form_submitted") == 1


@pytest.mark.parametrize(
    ("mode", "query", "headers", "kept"),
    [
        ("consent", "&c=1", {}, "s9"),
        ("consent", "", {}, None),
        ("consent", "&c=1", GPC, None),
        ("anonymous", "&c=1", {}, None),
        ("full", "", GPC, "s9"),
    ],
)
def test_the_cta_redirect_records_a_click_as_the_mode_allows(client, app, runtime, mode, query, headers, kept):
    _, (ann, _) = campaign_in(app, runtime, mode)
    url = f"/v/{ann.token}/cta/buy?e=click-1&s=s9&q=5&t=3{query}"
    assert client.get(url, headers=headers, follow_redirects=False).status_code == 302
    [click] = events_of(runtime, ann.render_id)
    assert (click.type, click.session_id, click.seq is not None) == ("cta_click", kept, kept is not None)


def test_the_landing_page_carries_the_mode_and_the_banner_only_in_consent_mode(client, app, runtime):
    for mode in ("consent", "anonymous", "full"):
        _, (ann, _) = campaign_in(app, runtime, mode)
        page = client.get(f"/v/{ann.token}")
        assert page.status_code == 200
        assert f'"tracking": "{mode}"' in page.text
        banner = 'id="pvideo-consent" role="region" aria-labelledby="pvideo-consent-title" hidden'
        assert (banner in page.text) == (mode == "consent")
        assert ("/static/consent.js" in page.text) == (mode == "consent")
        assert "'unsafe-inline'" not in page.headers["content-security-policy"].split("script-src")[1].split(";")[0]
