"""The API end to end: submit -> render (in-process worker) -> landing page -> events -> analytics."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.conftest import API_KEY, drain

AUTH = {"X-API-Key": API_KEY}
ROWS = [
    {"customer_id": "c1", "first_name": "Ana", "plan": "Pro", "price": "19.99"},
    {"customer_id": "c2", "first_name": "<script>alert(1)</script>", "price": "9.99", "plan": "<b>x</b>"},
    {"customer_id": "c3", "first_name": "Bo", "price": "not-a-number"},
    {"customer_id": "c4", "price": "1"},
]


@pytest.fixture()
def campaign(client):
    response = client.post("/api/campaigns", json={"scene": "card", "rows": ROWS}, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    drain(client)
    return body


def _renders(client, campaign_id):
    response = client.get(f"/api/campaigns/{campaign_id}/renders", headers=AUTH)
    assert response.status_code == 200
    return response.json()


def test_marketing_endpoints_need_an_api_key(client):
    assert client.post("/api/campaigns", json={"scene": "card", "rows": ROWS}).status_code == 401
    assert (
        client.post("/api/campaigns", json={"scene": "card", "rows": ROWS}, headers={"X-API-Key": "wrong"}).status_code
        == 401
    )
    assert client.get("/api/campaigns/x/analytics").status_code == 401


def test_submit_reports_bad_rows_and_renders_the_rest(client, campaign):
    assert campaign["queued"] == 2
    rejected = {r["row"]: r["error"] for r in campaign["rejected"]}
    assert set(rejected) == {3, 4}
    assert "row 3" in rejected[3] and "field 'price'" in rejected[3] and "a number" in rejected[3]
    assert "row 4" in rejected[4] and "field 'first_name'" in rejected[4] and "missing" in rejected[4]

    status = client.get(f"/api/campaigns/{campaign['id']}", headers=AUTH).json()
    assert status["counts"] == {"queued": 0, "rendering": 0, "done": 2, "failed": 2, "cancelled": 0}
    assert status["total"] == 4

    renders = _renders(client, campaign["id"])
    assert [r["status"] for r in renders] == ["done", "done", "failed", "failed"]
    for r in renders[:2]:
        assert r["landing_url"].startswith("http://testserver/v/") and r["error"] is None
        video = client.get(r["video_url"].removeprefix("http://testserver"))
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert video.content[4:8] == b"ftyp"
    for r in renders[2:]:  # a failed row gets no link to a page that cannot play
        assert r["landing_url"] is None and r["video_url"] is None and r["error"]


def test_csv_upload_with_missing_column_is_rejected_by_name(client):
    csv_text = "customer_id,price\nc1,3\n"
    response = client.post(
        "/api/campaigns", headers=AUTH, data={"scene": "card"}, files={"file": ("people.csv", csv_text, "text/csv")}
    )
    assert response.status_code == 422
    assert "people.csv" in response.text and "first_name" in response.text


def test_csv_upload_renders(client):
    csv_text = "customer_id,first_name,price\nu1,Cleo,4.5\n"
    response = client.post(
        "/api/campaigns",
        headers=AUTH,
        data={"scene": "card", "name": "upload"},
        files={"file": ("people.csv", csv_text, "text/csv")},
    )
    assert response.status_code == 201, response.text
    drain(client)
    assert [r["status"] for r in _renders(client, response.json()["id"])] == ["done"]


def test_unknown_scene_is_404(client):
    response = client.post("/api/campaigns", json={"scene": "../etc/passwd", "rows": ROWS}, headers=AUTH)
    assert response.status_code == 404


def test_landing_page_carries_video_and_hotspots_escaped(client, campaign):
    render = _renders(client, campaign["id"])[1]  # the row with HTML in its data
    path = render["landing_url"].removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200
    html = page.text
    assert f"{path}/video.mp4" in html and f"{path}/poster.jpg" in html
    assert 'data-cta-id="buy"' in html and f'href="{path}/cta/buy"' in html  # via the click redirect
    click = client.get(f"{path}/cta/buy", follow_redirects=False)
    assert click.status_code == 302 and click.headers["location"] == "https://shop.example/buy?c=c2"
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # CTA label "Get <b>x</b>"
    assert "<script>alert" not in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    config = json.loads(
        re.search(r'<script id="pvideo-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert config["hotspots"][0]["id"] == "buy" and config["hotspots"][0]["start"] == 2.5
    assert client.get("/static/tracker.js").status_code == 200


def test_tampered_or_unknown_token_is_404(client, campaign):
    token = _renders(client, campaign["id"])[0]["landing_url"].rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "x" + token, "nonsense", token + "."):
        assert client.get(f"/v/{bad}").status_code == 404
        assert client.get(f"/v/{bad}/video.mp4").status_code == 404
    response = client.post(
        "/api/events", json={"token": tampered, "events": [{"event_id": "e1", "type": "play", "position": 0}]}
    )
    assert response.status_code == 404


def _event(kind, position=0.0, cta=None, event_id=None):
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "type": kind,
        "position": position,
        "cta_id": cta,
        "client_ts": "2026-11-22T10:00:00Z",
    }


def test_events_change_analytics_and_dedupe(client, campaign):
    renders = _renders(client, campaign["id"])
    tokens = [r["landing_url"].rsplit("/", 1)[1] for r in renders[:2]]
    analytics_url = f"/api/campaigns/{campaign['id']}/analytics"
    before = client.get(analytics_url, headers=AUTH).json()
    assert before["landing_views"] == 0 and before["cta_clicks"] == {}

    batch = [
        _event("page_view"),
        _event("play"),
        _event("progress", 1.0),
        _event("ended", 4.0),
        _event("cta_click", 3.0, "buy", event_id="click-1"),
    ]
    assert client.post("/api/events", json={"token": tokens[0], "events": batch}).json() == {
        "stored": 5,
        "duplicates": 0,
        "failed": 0,
        "errors": [],
    }
    # the same click again (a retried beacon) as text/plain, plus a new page view from another viewer
    again = json.dumps({"token": tokens[0], "events": [_event("cta_click", 3.0, "buy", event_id="click-1")]})
    response = client.post("/api/events", content=again, headers={"content-type": "text/plain"})
    assert response.json() == {"stored": 0, "duplicates": 1, "failed": 0, "errors": []}
    client.post("/api/events", json={"token": tokens[1], "events": [_event("page_view"), _event("page_view")]})

    after = client.get(analytics_url, headers=AUTH).json()
    assert after["landing_views"] == 3 and after["viewers"] == 2
    assert after["plays"] == 1 and after["completions"] == 1
    assert after["cta_clicks"] == {"buy": {"clicks": 1, "clickers": 1}}
    assert after["renders"]["done"] == 2


def test_bad_event_batches_are_4xx(client, campaign):
    """Bad envelopes are refused; a bad event inside a good batch is kept as failed (tests/api/test_events_api.py)."""
    token = _renders(client, campaign["id"])[0]["landing_url"].rsplit("/", 1)[1]
    cases = [
        {"token": token},
        {"token": token, "events": "play"},
        {"token": token, "events": []},
        {"token": token, "events": [_event("play") for _ in range(101)]},
    ]
    for body in cases:
        assert client.post("/api/events", json=body).status_code == 422
    assert client.post("/api/events", content=b"{not json", headers={"content-type": "text/plain"}).status_code == 422
    huge = json.dumps({"token": token, "events": [_event("play")], "pad": "x" * 70_000})
    assert client.post("/api/events", content=huge, headers={"content-type": "application/json"}).status_code == 413


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_scene_with_missing_asset_is_rejected_at_submit(client, settings):
    import yaml

    from tests.conftest import CARD_SCENE

    scene = dict(CARD_SCENE, name="broken")
    scene["layers"] = [dict(CARD_SCENE["layers"][1], src="missing-logo.png")]
    (settings.scenes_dir / "broken.yaml").write_text(yaml.safe_dump(scene))
    try:
        response = client.post("/api/campaigns", json={"scene": "broken", "rows": ROWS}, headers=AUTH)
    finally:
        (settings.scenes_dir / "broken.yaml").unlink()
    assert response.status_code == 422
    assert "layer 1 (image 'logo')" in response.text and "missing-logo.png" in response.text
