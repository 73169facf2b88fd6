"""POST /api/events, the click redirect and the export, through the real app (SQLite)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from pvideo.db.models import Event
from tests.conftest import API_KEY
from tests.viewers import done_campaign, event

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture()
def app(runtime):
    runtime.settings.event_export_settle_seconds = 0
    return create_app(runtime=runtime)


@pytest.fixture()
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def viewers(app, runtime):
    return done_campaign(runtime.db, app.state.pvideo.tokens)


def _count(runtime, model, **where) -> int:
    with runtime.db.session() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return session.scalar(query)


def test_a_bad_event_is_kept_with_its_reason_and_the_good_ones_are_stored(client, runtime, viewers):
    campaign_id, (ana, _) = viewers
    batch = [
        event("page_view", seq=1),
        {"event_id": "bad-type", "type": "explode"},
        event("play", 1.0, seq=2),
        {"event_id": "x" * 101, "type": "play", "position": 1},
        event("play", seq=3, event_id="no-position"),
        event("cta_click", 3, cta="nope", event_id="bad-cta"),
        event("percent_progress", 4.0, percent=15, event_id="bad-pct"),
        "not an object",
        event("ping", 999.0, event_id="past-end"),
    ]
    response = client.post("/api/events", json={"token": ana.token, "events": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["stored"], body["duplicates"], body["failed"]) == (2, 0, 7)
    reasons = {e["index"]: e["reason"] for e in body["errors"]}
    assert set(reasons) == {1, 3, 4, 5, 6, 7, 8}
    assert "type" in reasons[1] and "event_id" in reasons[3] and "needs a position" in reasons[4]
    assert "'nope' is not a CTA" in reasons[5] and "10, 20" in reasons[6] and "beyond the video's end" in reasons[8]

    assert _count(runtime, Event, campaign_id=campaign_id) == 2
    failed = client.get("/api/events/failed", params={"campaign_id": campaign_id}, headers=AUTH).json()
    assert [f["event_id"] for f in failed] == [
        "bad-type",
        "x" * 100,
        "no-position",
        "bad-cta",
        "bad-pct",
        None,
        "past-end",
    ]
    assert failed[0]["payload"] == {"event_id": "bad-type", "type": "explode"}
    assert failed[5]["payload"] == "not an object" and failed[0]["render_id"] == ana.render_id


def test_events_dedupe_by_event_id_across_batches_and_content_types(client, runtime, viewers):
    campaign_id, (ana, bo) = viewers
    batch = [event("page_view", seq=1, event_id="a1"), event("play", 0, seq=2, event_id="a2")]
    assert client.post("/api/events", json={"token": ana.token, "events": batch}).json()["stored"] == 2
    beacon = json.dumps({"token": ana.token, "events": [*batch, event("pause", 2, seq=3, event_id="a3")]})
    again = client.post("/api/events", content=beacon, headers={"content-type": "text/plain"}).json()
    assert (again["stored"], again["duplicates"]) == (1, 2)
    # the same event id from another viewer is another event
    assert client.post("/api/events", json={"token": bo.token, "events": batch}).json()["stored"] == 2
    assert _count(runtime, Event, campaign_id=campaign_id) == 5


def test_server_time_is_kept_beside_client_time_and_skew_is_corrected(client, runtime, viewers):
    _, (ana, _) = viewers
    # the device clock is 3 hours fast; the event waited 30 s in the queue before it was sent
    client.post(
        "/api/events",
        json={
            "token": ana.token,
            "sent_at": "2030-01-01T13:00:30Z",
            "events": [event("page_view", client_ts="2030-01-01T13:00:00Z")],
        },
    )
    with runtime.db.session() as session:
        ev = session.scalars(select(Event)).one()
    received = ev.received_at.replace(tzinfo=None)
    assert ev.client_ts.year == 2030
    assert abs((received - ev.occurred_at.replace(tzinfo=None)).total_seconds() - 30) < 0.01
    assert ev.device == "unknown"  # the TestClient sends a "testclient" user agent: not a browser
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    client.post(
        "/api/events",
        json={"token": ana.token, "events": [event("page_view", event_id="m")]},
        headers={"User-Agent": iphone},
    )
    with runtime.db.session() as session:
        assert session.scalar(select(Event.device).where(Event.event_id == "m")) == "mobile"


def test_cors_lets_customer_domains_send_events(client, viewers):
    _, (ana, _) = viewers
    pre = client.options(
        "/api/events",
        headers={
            "Origin": "https://customer.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()
    posted = client.post(
        "/api/events",
        json={"token": ana.token, "events": [event("page_view")]},
        headers={"Origin": "https://customer.example"},
    )
    assert posted.status_code == 200 and posted.headers["access-control-allow-origin"] == "*"
    refused = client.post("/api/events", json={"token": "nope", "events": [event("page_view")]})
    assert refused.status_code == 404 and refused.headers["access-control-allow-origin"] == "*"


def test_rate_limit_per_link_answers_429_with_retry_after(runtime, viewers):
    runtime.settings.event_rate_per_second = 1.0
    runtime.settings.event_rate_burst = 100
    with TestClient(create_app(runtime=runtime)) as client:
        _, (ana, bo) = done_campaign(runtime.db, client.app.state.pvideo.tokens)
        full = [event("ping", 1.0) for _ in range(100)]
        assert client.post("/api/events", json={"token": ana.token, "events": full}).status_code == 200
        limited = client.post("/api/events", json={"token": ana.token, "events": [event("ping", 1.0)] * 5})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        # another link has its own budget
        assert client.post("/api/events", json={"token": bo.token, "events": [event("page_view")]}).status_code == 200


def test_batch_limits(client, viewers):
    _, (ana, _) = viewers
    assert (
        client.post("/api/events", json={"token": ana.token, "events": [event("page_view")] * 101}).status_code == 422
    )
    big = json.dumps(
        {"token": ana.token, "events": [event("page_view", 0) | {"detail": "x" * 190}] * 100 + [{"pad": "y" * 50_000}]}
    )
    assert client.post("/api/events", content=big, headers={"content-type": "text/plain"}).status_code == 413


def test_cta_click_redirect_records_then_redirects_only_to_that_renders_cta(client, runtime, viewers):
    campaign_id, (ana, _) = viewers
    response = client.get(
        f"/v/{ana.token}/cta/buy", params={"e": "click-1", "s": "s1", "q": 7, "t": 3.2}, follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/buy?c=c1"
    assert response.headers["cache-control"] == "no-store"
    again = client.get(
        f"/v/{ana.token}/cta/buy", params={"e": "click-1", "s": "s1", "q": 7, "t": 3.2}, follow_redirects=False
    )
    assert again.status_code == 302  # a double click with the same id is one click
    with runtime.db.session() as session:
        clicks = session.scalars(select(Event).where(Event.type == "cta_click")).all()
    assert [(c.event_id, c.cta_id, c.session_id, c.seq, c.position) for c in clicks] == [
        ("click-1", "buy", "s1", 7, 3.2)
    ]
    # no JS: still recorded, with a server-made id
    assert (
        client.get(f"/v/{ana.token}/cta/more", follow_redirects=False).headers["location"]
        == "https://shop.example/more"
    )
    # not a CTA of this render, or an arbitrary URL: nothing to redirect to
    assert client.get(f"/v/{ana.token}/cta/evil", follow_redirects=False).status_code == 404
    assert (
        client.get(f"/v/{ana.token}/cta/buy?next=https://evil.example", follow_redirects=False).headers["location"]
        == "https://shop.example/buy?c=c1"
    )
    assert client.get("/v/forged/cta/buy", follow_redirects=False).status_code == 404
    assert _count(runtime, Event, campaign_id=campaign_id, type="cta_click") == 3  # click-1, more, the ?next= one


def _page(client, campaign_id, **params):
    response = client.get("/api/events", params={"campaign_id": campaign_id, **params}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response


def test_export_is_stable_resumable_ndjson_and_csv(client, viewers):
    campaign_id, (ana, bo) = viewers
    for n in range(5):
        client.post(
            "/api/events",
            json={"token": (ana, bo)[n % 2].token, "events": [event("ping", float(n), seq=n, event_id=f"e{n}")]},
        )
    first = _page(client, campaign_id, limit=2)
    assert first.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in first.text.splitlines()]
    assert [r["event_id"] for r in rows] == ["e0", "e1"] and first.headers["x-has-more"] == "true"
    assert rows[0]["render_id"] == ana.render_id and rows[0]["received_at"] and rows[0]["session_id"] == "s1"
    second = _page(client, campaign_id, limit=2, after=first.headers["x-next-cursor"])
    third = _page(client, campaign_id, limit=2, after=second.headers["x-next-cursor"])
    assert [json.loads(x)["event_id"] for x in second.text.splitlines() + third.text.splitlines()] == ["e2", "e3", "e4"]
    assert third.headers["x-has-more"] == "false"
    # resuming at the end returns nothing now, and the new event later
    empty = _page(client, campaign_id, after=third.headers["x-next-cursor"])
    assert empty.text == "" and empty.headers["x-next-cursor"] == third.headers["x-next-cursor"]
    client.post("/api/events", json={"token": ana.token, "events": [event("ping", 9.0, event_id="e9")]})
    later = _page(client, campaign_id, after=empty.headers["x-next-cursor"])
    assert [json.loads(x)["event_id"] for x in later.text.splitlines()] == ["e9"]

    table = list(csv.DictReader(io.StringIO(_page(client, campaign_id, format="csv").text)))
    assert [r["event_id"] for r in table] == ["e0", "e1", "e2", "e3", "e4", "e9"]
    assert table[1]["position"] == "1.0" and table[0]["cta_id"] == ""
    assert (
        client.get("/api/events", params={"campaign_id": campaign_id, "after": "garbage!"}, headers=AUTH).status_code
        == 422
    )
    assert client.get("/api/events", params={"campaign_id": campaign_id}).status_code == 401


def test_export_holds_back_events_younger_than_the_settle_time(client, runtime, viewers):
    campaign_id, (ana, _) = viewers
    client.post("/api/events", json={"token": ana.token, "events": [event("page_view")]})
    runtime.settings.event_export_settle_seconds = 60
    assert _page(client, campaign_id).text == ""
    runtime.settings.event_export_settle_seconds = 0
    assert len(_page(client, campaign_id).text.splitlines()) == 1
