"""Links that were and are no more (revoked, erased, outputs expired) answer 410 Gone with a
neutral page, on the landing page, every media path under it and every POST a page makes; unknown
tokens stay 404; the manifest leaves erased rows out and lists no links for expired ones."""

from __future__ import annotations

import pytest

from pvideo.access.revocation import revoke_viewer_token, token_digest
from pvideo.db.models import Render, RevokedToken, utcnow
from tests.conftest import API_KEY
from tests.privacy.export_seed import NAME, seed
from tests.studio.conftest import sign_in_as

GONE = "This video is no longer available."
MEDIA = (
    "video.mp4",
    "poster.jpg",
    "thumbnail.jpg",
    "thumbnail.gif",
    "thumbnail.webp",
    "captions.vtt",
    "track.vtt",
    "chapters.vtt",
    "index.m3u8",
    "hls/part_00001.ts",
    "cta/buy",
)


@pytest.fixture()
def seeded(client, runtime):
    return seed(runtime, client.app.state.pvideo.tokens, video_size=1000)


def _token(runtime, render_id: str) -> str:
    with runtime.db.session() as session:
        return session.get(Render, render_id).viewer_token


def _revoke(client, runtime, render_id: str) -> str:
    token = _token(runtime, render_id)
    with runtime.db.session() as session:
        revoke_viewer_token(session, client.app.state.pvideo.tokens, render_id, reason="test")
    return token


def _erase(runtime, render_id: str) -> str:
    """What an erasure leaves: a tombstone row, its old token's digest revoked as "erased"."""
    token = _token(runtime, render_id)
    with runtime.db.session() as session:
        render = session.get(Render, render_id)
        session.add(RevokedToken(token_digest=token_digest(token), render_id=render_id, reason="erased"))
        render.customer_id, render.data, render.viewer_token, render.erased_at = "", None, None, utcnow()
        render.video_key = render.poster_key = render.thumbnail_key = render.outputs = None
    return token


def _expire(runtime, render_id: str) -> str:
    with runtime.db.session() as session:
        session.get(Render, render_id).outputs_expired_at = utcnow()
    return _token(runtime, render_id)


def _posts(client, token: str) -> list[tuple[str, int, str]]:
    """Each way a page sends something back: events (fast path, and the route), answers (JSON, and the form)."""
    batch = {"token": token, "events": [{"event_id": "e-gone", "type": "play", "position": 1.0}]}
    answer = {"token": token, "event_id": "a-gone", "interaction_id": "contact", "answer": {"email": "x@example.com"}}
    answers = [
        client.post("/api/events", json=batch),
        client.post("/api/events?via=route", json=batch),
        client.post("/api/responses", json=answer),
        client.post("/api/responses?via=route", json=answer),
    ]
    form = client.post(
        f"/v/{token}/answers/contact",
        data={"email": "x@example.com"},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    return [(a.request.url.path, a.status_code, a.json()["detail"]) for a in answers] + [
        ("form", form.status_code, GONE if GONE in form.text else form.text[:200])
    ]


def _assert_gone(client, token: str) -> None:
    page = client.get(f"/v/{token}")
    assert page.status_code == 410 and GONE in page.text, page.text[:300]
    assert page.headers["content-type"].startswith("text/html") and page.headers["cache-control"] == "no-store"
    for personal in (NAME, "Autumn", "Winter", "Get Pro", "shop.example"):
        assert personal not in page.text
    for path in MEDIA:
        answer = client.get(f"/v/{token}/{path}", follow_redirects=False)
        assert (path, answer.status_code, GONE in answer.text) == (path, 410, True)
    for where, status, detail in _posts(client, token):
        assert (where, status) == (where, 410) and "no longer available" in detail.lower()


def test_a_revoked_link_is_gone_and_the_reissued_one_opens(client, runtime, seeded):
    rid = seeded.customer_renders[1]
    old = _revoke(client, runtime, rid)
    _assert_gone(client, old)
    with runtime.db.session() as session:
        new = revoke_viewer_token(session, client.app.state.pvideo.tokens, rid, reissue=True)
    assert client.get(f"/v/{new}").status_code == 200
    assert client.get(f"/v/{new}/video.mp4").status_code == 200
    assert client.get(f"/v/{old}").status_code == 410


def test_an_erased_customers_link_is_gone(client, runtime, seeded):
    _assert_gone(client, _erase(runtime, seeded.customer_renders[1]))


def test_expired_outputs_are_gone_and_their_events_refused(client, runtime, seeded):
    token = _expire(runtime, seeded.customer_renders[1])
    _assert_gone(client, token)
    with runtime.db.session() as session:  # the status stays: the campaign's counts hold
        assert session.get(Render, seeded.customer_renders[1]).status == "done"


def test_unknown_tokens_stay_404(client, runtime, seeded):
    tokens = client.app.state.pvideo.tokens
    never_stored = tokens.issue(seeded.other_render)  # signed, but never this render's link
    for token in ("not-a-token", tokens.issue("0" * 32), never_stored):
        assert client.get(f"/v/{token}").status_code == 404
        assert client.get(f"/v/{token}/video.mp4").status_code == 404
        batch = {"token": token, "events": [{"event_id": "e1", "type": "play", "position": 1.0}]}
        answer = client.post("/api/events", json=batch)
        assert answer.status_code == 404 and answer.json() == {"detail": "unknown viewer token"}
    assert client.get(f"/v/{_token(runtime, seeded.other_render)}").status_code == 200


def test_the_manifest_leaves_erased_rows_out_and_expired_rows_linkless(client, runtime, seeded):
    first, other = seeded.campaigns[0], seeded.other_render
    _erase(runtime, seeded.customer_renders[0])
    _expire(runtime, other)
    rows = client.get(f"/api/campaigns/{first}/manifest?format=json", headers={"X-API-Key": API_KEY}).json()
    assert [(r["row"], r["status"]) for r in rows] == [(2, "done")]  # row 1 was erased
    assert all(rows[0][k] is None for k in ("landing_url", "video_url", "poster_url", "thumbnail_url"))
    csv = client.get(f"/api/campaigns/{first}/manifest?format=csv", headers={"X-API-Key": API_KEY}).text
    assert len(csv.strip().splitlines()) == 2 and "/v/" not in csv


def test_the_studio_campaign_page_counts_erased_and_expired_renders(client, runtime, seeded):
    first = seeded.campaigns[0]
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    assert "data-gone" not in client.get(f"/studio/campaigns/{first}").text
    _erase(runtime, seeded.customer_renders[0])
    _expire(runtime, seeded.other_render)
    page = client.get(f"/studio/campaigns/{first}")
    assert page.status_code == 200 and "<span data-gone>1 erased, 1 with outputs expired</span>" in page.text
    assert NAME not in page.text
