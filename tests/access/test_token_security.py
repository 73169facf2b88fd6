"""Viewer tokens under attack: random guesses never verify; tampered, expired, revoked and unknown
tokens get the same 404 body; the payload carries no personal data."""

from __future__ import annotations

import base64
import json
import secrets
import time
import zlib

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Campaign, Render, RenderStatus
from tests.conftest import SECRET

GUESSES = 1_000_000


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(n)).decode().rstrip("=")


def test_a_million_random_tokens_never_verify():
    tokens = ViewerTokens(SECRET)
    real = tokens.issue("0" * 32)
    payload, stamp, _ = real.rsplit(".", 2)
    valid = 0
    for i in range(GUESSES):
        kind = i % 4
        if kind == 0:  # a real payload and timestamp, a guessed signature: the full HMAC check runs
            guess = f"{payload}.{stamp}.{_b64(20)}"
        elif kind == 1:  # a guessed render id too
            guess = f"{_b64(34)}.{stamp}.{_b64(20)}"
        elif kind == 2:  # random URL-safe text of a token's length
            guess = _b64(33)
        else:  # random shapes
            guess = f"{_b64(i % 40 + 1)}.{_b64(3)}"
        valid += tokens.verify(guess) is not None
    assert valid == 0  # how fast they are refused is a benchmark's question, never a timed test's


def _render(client) -> tuple[str, str]:
    state = client.app.state.pvideo
    with state.runtime.db.session() as session:
        campaign = Campaign(name="Spring", scene_name="card", scene={})
        session.add(campaign)
        session.flush()
        render = Render(
            campaign_id=campaign.id,
            row_number=1,
            customer_id="ana@example.com",
            data={"first_name": "Ana", "email": "ana@example.com"},
            status=RenderStatus.DONE,
            video_key="v.mp4",
            duration=4.0,
            hotspots=[],
        )
        session.add(render)
        session.flush()
        render.viewer_token = state.tokens.issue(render.id)
        return render.id, render.viewer_token


def test_token_payload_holds_only_the_render_id(client):
    render_id, token = _render(client)
    payload = token.rsplit(".", 2)[0]
    raw = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload.lstrip(".")) % 4))
    text = (zlib.decompress(raw) if payload.startswith(".") else raw).decode()
    assert json.loads(text) == render_id
    for personal in ("ana", "Ana", "example.com", "Spring"):
        assert personal not in text and personal not in token


def test_bad_tokens_all_look_unknown(client, monkeypatch):
    render_id, token = _render(client)
    state = client.app.state.pvideo
    payload, stamp, signature = token.rsplit(".", 2)
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with monkeypatch.context() as m:
        past = time.time() - 400 * 24 * 3600
        m.setattr("itsdangerous.timed.time.time", lambda: past)
        expired = state.tokens.issue(render_id)
    other_key = ViewerTokens("k" * 40).issue(render_id)
    bad = {
        "unknown": ViewerTokens(SECRET).issue("f" * 32),
        "tampered signature": f"{payload}.{stamp}.{flipped}",
        "tampered payload": f"{_b64(34)}.{stamp}.{signature}",
        "other key": other_key,
        "expired": expired,
        "garbage": "x" * 50,
        "too long": "a" * 5000,
    }
    assert client.get(f"/v/{token}").status_code == 200
    bodies = {}
    for name, bad_token in bad.items():
        page = client.get(f"/v/{bad_token}")
        assert page.status_code == 404, name
        bodies[name] = page.content
        assert client.get(f"/v/{bad_token}/video.mp4").status_code == 404
        assert client.get(f"/v/{bad_token}/chapters.vtt").status_code == 404
        events = client.post("/api/events", json={"token": bad_token[:200], "events": []})
        assert events.status_code in (404, 422), name
    assert len(set(bodies.values())) == 1, bodies
    assert b"expired" not in bodies["expired"] and b"signature" not in bodies["tampered signature"]
    with state.runtime.db.session() as session:  # expired: even stored on the render, it does not open it
        session.get(Render, render_id).viewer_token = expired
    assert client.get(f"/v/{expired}").content == bodies["unknown"]
