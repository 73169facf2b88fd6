"""``POST /api/responses`` and the no-JavaScript form route through the real app: every status of
the contract, CORS and beacons, bad input named and never a 5xx, the counting events through
``/api/events``, the analytics key and the answers' exports."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from pvideo.db.models import Event, Response
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from tests.conftest import API_KEY
from tests.tcpproxy import TcpProxy
from tests.tracking.answering import answer, interactive_campaign
from tests.viewers import event

AUTH = {"X-API-Key": API_KEY}
BEACON = {"content-type": "text/plain;charset=UTF-8"}


@pytest.fixture()
def viewers(client, runtime):
    return interactive_campaign(runtime.db, client.app.state.pvideo.tokens, viewers=2)


def _stored(runtime, campaign_id: str) -> list[tuple]:
    with runtime.db.session() as session:
        query = select(Response.interaction_id, Response.session_id, Response.answer).where(
            Response.campaign_id == campaign_id
        )
        return session.execute(query.order_by(Response.id)).all()


def test_the_contract_statuses(client, runtime, viewers):
    campaign_id, (ann, _) = viewers
    body = answer(ann.token, "recommend", {"score": 9})
    first = client.post("/api/responses", json=body)
    assert first.status_code == 201 and first.json() == {"status": "stored", "id": first.json()["id"]}
    assert isinstance(first.json()["id"], int) and first.headers["access-control-allow-origin"] == "*"
    again = client.post("/api/responses", content=json.dumps(body), headers=BEACON)  # sendBeacon's text/plain
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    other = client.post("/api/responses", json=dict(body, event_id="another", answer={"score": 1}))
    assert other.status_code == 409
    assert other.json() == {"detail": "interaction_id: 'recommend' was already answered in this session"}
    assert other.headers["access-control-allow-origin"] == "*"
    forged = client.post("/api/responses", json=dict(body, token=ann.token[:-2] + "xx"))
    assert forged.status_code == 404 and forged.json() == {"detail": "unknown viewer token"}
    assert _stored(runtime, campaign_id) == [("recommend", "s1", {"score": 9})]


@pytest.mark.parametrize(
    ("interaction", "value", "detail"),
    [
        ("contact", {"fields": {"email": "nope"}, "consent": True}, "answer.fields.email: expected an email address"),
        ("topic", {"choices": ["x"]}, "answer.choices: 'x' is not a choice (price, service)"),
        ("contact", {"fields": {"email": "a@b.co"}}, "answer.consent: consent is required"),
        ("zzz", {"score": 1}, "interaction_id: 'zzz' is not an interaction of this video"),
        ("vip_only", {"choices": ["yes"]}, "interaction_id: 'vip_only' is not an interaction of this video"),
        ("recommend", {"score": "ten"}, "answer.score: expected a whole number from 0 to 10"),
        ("contact", {"fields": {"email": "a@b.co", "note": "x" * 10_000}, "consent": True},
         "answer.fields.note: at most 200 characters (got 10000)"),
        ("path", {"section": "support"}, "answer.section: 'support' is not one of the paths offered (billing, savings)"),
    ],
)  # fmt: skip
def test_bad_answers_are_422_naming_the_field_and_store_nothing(client, runtime, viewers, interaction, value, detail):
    campaign_id, (ann, _) = viewers
    response = client.post("/api/responses", json=answer(ann.token, interaction, value))
    assert response.status_code == 422 and response.json() == {"detail": detail}
    assert response.headers["access-control-allow-origin"] == "*"
    assert _stored(runtime, campaign_id) == []


def test_malformed_bodies_are_refused_before_the_database(client, runtime, viewers):
    campaign_id, (ann, _) = viewers
    good = answer(ann.token, "recommend", {"score": 9})
    cases = {
        "event_id: String should have at least 1 character": dict(good, event_id=""),
        "event_id: String should have at most 100 characters": dict(good, event_id="e" * 101),
        "event_id: Value error, NUL characters are not allowed": dict(good, event_id="a\x00b"),
        "answer: Field required": {k: v for k, v in good.items() if k != "answer"},
        "session_id: String should match pattern '^[A-Za-z0-9_-]+$'": dict(good, session_id="a b"),
        "position: Input should be greater than or equal to 0": dict(good, position=-1),
    }
    for detail, body in cases.items():
        response = client.post("/api/responses", json=body)
        assert (response.status_code, response.json()) == (422, {"detail": detail}), detail
    nul = client.post("/api/responses", json=answer(ann.token, "contact", {"fields": {"email": "a\x00@b.co"}}))
    assert nul.status_code == 422 and nul.json()["detail"] == "answer.fields.email: NUL characters are not allowed"
    not_json = client.post("/api/responses", content=b"{nope", headers=BEACON)
    assert not_json.status_code == 422 and not_json.headers["access-control-allow-origin"] == "*"
    deep = client.post("/api/responses", content=b'{"answer":' + b"[" * 100 + b"]" * 100 + b"}", headers=BEACON)
    assert deep.status_code == 422
    huge = client.post("/api/responses", json=dict(good, answer={"fields": {"note": "x" * 17_000}}))
    assert huge.status_code == 413 and huge.headers["access-control-allow-origin"] == "*"
    assert _stored(runtime, campaign_id) == []


def test_html_in_free_text_is_stored_as_text(client, runtime, viewers):
    campaign_id, (ann, _) = viewers
    note = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    value = {"fields": {"email": "ann@example.com", "note": note}, "consent": True}
    assert client.post("/api/responses", json=answer(ann.token, "contact", value)).status_code == 201
    [(_, _, stored)] = _stored(runtime, campaign_id)
    assert stored == {"fields": {"email": "ann@example.com", "note": note}, "consent": True}


def test_cors_preflight_and_rate_limit(client, viewers):
    _, (_ann, bo) = viewers
    preflight = client.options("/api/responses", headers={"Origin": "https://shop.example"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    limiter = client.app.state.pvideo.event_limiter
    limiter.take(bo.render_id, limiter.burst)  # this link has spent its burst
    limited = client.post("/api/responses", json=answer(bo.token, "recommend", {"score": 1}))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-allow-origin"] == "*"


def test_player_events_about_interactions_are_checked_and_counted(client, runtime, viewers):
    campaign_id, (ann, _) = viewers
    shown = dict(event("interaction_shown", 2, seq=1), interaction_id="recommend")
    skipped = dict(event("interaction_skipped", 2, seq=2), interaction_id="recommend", detail="escape")
    wrong = [
        dict(event("interaction_shown", 2, seq=3), interaction_id="vip_only"),
        dict(event("interaction_skipped", 2, seq=4), interaction_id="topic", detail="bored"),
        dict(event("interaction_answered", 2, seq=5), interaction_id="topic"),
        event("interaction_shown", 2, seq=6),
    ]
    result = client.post("/api/events", json={"token": ann.token, "events": [shown, skipped, *wrong]}).json()
    assert result["stored"] == 2 and [e["index"] for e in result["errors"]] == [2, 3, 4, 5]
    reasons = [e["reason"] for e in result["errors"]]
    assert reasons[0] == "interaction_id 'vip_only' is not an interaction of this video"
    assert "skip, escape, timeout" in reasons[1] and "written by the server" in reasons[2]
    assert "needs an interaction_id" in reasons[3]
    stats = client.get(f"/api/campaigns/{campaign_id}/analytics", headers=AUTH).json()
    recommend = stats["interactions"][0]
    assert (recommend["shown"], recommend["skipped"], recommend["skipped_by"]["escape"]) == (1, 1, 1)
    with runtime.db.session() as session:
        query = select(Event.type, Event.interaction_id, Event.detail).where(Event.campaign_id == campaign_id)
        assert sorted(session.execute(query).all()) == [
            ("interaction_shown", "recommend", None),
            ("interaction_skipped", "recommend", "escape"),
        ]


def test_the_form_without_javascript(client, runtime, viewers):
    campaign_id, (ann, bo) = viewers
    done = client.post(f"/v/{ann.token}/answers/topic", data={"choice": "price"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/v/{ann.token}?answered=topic#pvideo-answers"
    form = {"email": "ann@example.com", "note": "<b>hello</b>", "seats": "4", "consent": "on"}
    assert client.post(f"/v/{ann.token}/answers/contact", data=form, follow_redirects=False).status_code == 303
    path = client.post(f"/v/{bo.token}/answers/path", data={"section": "savings"}, follow_redirects=False)
    assert path.status_code == 303
    assert _stored(runtime, campaign_id) == [
        ("topic", "", {"choices": ["price"]}),
        ("contact", "", {"fields": {"email": "ann@example.com", "note": "<b>hello</b>", "seats": 4}, "consent": True}),
        ("path", "", {"section": "savings"}),
    ]
    bad = client.post(f"/v/{ann.token}/answers/recommend", data={"score": "<script>x</script>"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "answer.score: expected a whole number from 0 to 10" in bad.text and "<script>x" not in bad.text
    assert (
        f'href="/v/{ann.token}#pvideo-answers"' in bad.text
        and "script-src 'self'" in bad.headers["content-security-policy"]
    )
    no_consent = client.post(f"/v/{bo.token}/answers/contact", data={"email": "bo@example.com"})
    assert no_consent.status_code == 422 and "answer.consent: consent is required" in no_consent.text
    assert "bo@example.com" not in no_consent.text and "bo@example.com" not in str(no_consent.url)
    twice = client.post(f"/v/{ann.token}/answers/topic", data={"choice": "service"})
    assert twice.status_code == 409 and "already answered" in twice.text
    unknown = client.post(f"/v/{ann.token}/answers/zzz", data={"choice": "x"})
    assert unknown.status_code == 422 and "&#39;zzz&#39; is not an interaction of this video" in unknown.text
    assert client.post(f"/v/{ann.token[:-3]}abc/answers/topic", data={"choice": "price"}).status_code == 404
    json_body = client.post(f"/v/{ann.token}/answers/topic", json={"choice": "price"})
    assert json_body.status_code == 415
    assert len(_stored(runtime, campaign_id)) == 3
    assert not re.search(r"<[a-z]+ [^>]*style=", bad.text)


def test_analytics_and_exports_need_the_analytics_scope(client, runtime, viewers):
    campaign_id, (ann, bo) = viewers
    for token, email in ((ann.token, "ann@example.com"), (bo.token, "=1+1@evil.example")):
        value = {"fields": {"email": email, "phone": "+1 555 0100"}, "consent": True}
        assert client.post("/api/responses", json=answer(token, "contact", value)).status_code == 201
    client.post("/api/responses", json=answer(ann.token, "recommend", {"score": 10}))
    assert client.get(f"/api/campaigns/{campaign_id}/responses").status_code == 401
    stats = client.get(f"/api/campaigns/{campaign_id}/analytics", headers=AUTH).json()
    assert stats["interactions"][0]["nps"]["score"] == 100.0 and stats["interactions"][4]["submissions"] == 2
    lines = client.get(f"/api/campaigns/{campaign_id}/responses", headers=AUTH).text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["interaction_id"] for r in rows][-1] == "recommend"
    assert rows[0]["answer"]["fields"]["email"] == "ann@example.com" and rows[0]["customer_id"] == "c1"
    masked = client.get(f"/api/campaigns/{campaign_id}/responses", params={"masked": "true"}, headers=AUTH)
    assert json.loads(masked.text.splitlines()[0])["answer"]["fields"] == {
        "email": "a***@example.com",
        "phone": "***00",
    }
    text = client.get(f"/api/campaigns/{campaign_id}/responses", params={"format": "csv"}, headers=AUTH)
    assert text.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(text.text)))
    assert table[0]["field.email"] == "ann@example.com" and table[0]["field.phone"] == "'+1 555 0100"
    assert table[1]["field.email"] == "'=1+1@evil.example"  # a spreadsheet would run it as a formula
    assert client.get("/api/campaigns/nope/responses", headers=AUTH).status_code == 404


@pytest.fixture()
def outage(postgres_url, tmp_path, assets_dir, scenes_dir):
    """An app whose PostgreSQL is behind a proxy the test switches off: a real outage."""
    from api.main import create_app

    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=proxied,
        assets_dir=assets_dir,
        scenes_dir=scenes_dir,
        secret_key="s" * 40,
        api_keys=[API_KEY],
        public_base_url="http://testserver",
    )
    runtime = Runtime.from_settings(settings)
    client = TestClient(create_app(runtime=runtime), raise_server_exceptions=False)
    _, (viewer, _) = interactive_campaign(runtime.db, client.app.state.pvideo.tokens, viewers=2)
    yield client, proxy, viewer, runtime
    proxy.close()
    runtime.db.dispose()


def test_a_database_outage_is_a_503_and_the_retry_is_stored_once(outage):
    client, proxy, viewer, runtime = outage
    body = answer(viewer.token, "stars", {"stars": 4})
    proxy.off()
    down = client.post("/api/responses", json=body)
    assert down.status_code == 503 and down.headers["retry-after"] == "5"
    assert down.json() == {"detail": "database unavailable; try again shortly"}
    assert down.headers["access-control-allow-origin"] == "*"
    form = client.post(f"/v/{viewer.token}/answers/stars", data={"stars": "4"})
    assert form.status_code == 503 and form.headers["content-type"].startswith("text/html")
    proxy.on()
    assert client.post("/api/responses", json=body).status_code == 201
    assert client.post("/api/responses", json=body).json() == {"status": "duplicate"}
    with runtime.db.session() as session:
        count = select(func.count()).select_from(Response).where(Response.render_id == viewer.render_id)
        assert session.scalar(count) == 1
