"""The landing page: Open Graph, hotspots via the click redirect, chapters, captions, HLS, token life."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.landing import landing_context
from api.main import create_app
from pvideo.access.revocation import revoke_viewer_token, token_digest
from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render, RevokedToken
from tests.conftest import API_KEY, SECRET
from tests.viewers import done_campaign, event


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.fixture()
def viewers(client, runtime):
    return done_campaign(runtime.db, client.app.state.pvideo.tokens)


def test_open_graph_tags_preview_the_personal_poster_without_personal_data(client, viewers):
    _, (ana, _) = viewers
    page = client.get(f"/v/{ana.token}")
    assert page.status_code == 200
    meta = {a.get("property") or a.get("name"): a.get("content") for t, a in _tags(page.text) if t == "meta"}
    base = f"http://testserver/v/{ana.token}"
    assert meta["og:image"] == f"{base}/poster.jpg" and meta["twitter:image"] == f"{base}/poster.jpg"
    assert meta["og:video"] == f"{base}/video.mp4" and meta["og:url"] == base
    assert meta["og:title"] == "Your Autumn video" and meta["twitter:card"] == "summary_large_image"
    assert meta["og:image:width"] == "640" and meta["og:image:height"] == "360"


def test_ctas_link_to_the_click_redirect_and_are_keyboard_reachable(client, viewers):
    _, (ana, _) = viewers
    html = client.get(f"/v/{ana.token}").text
    ctas = [a for t, a in _tags(html) if t == "a" and "pvideo-cta" in (a.get("class") or "")]
    assert [(a["href"], a["data-start"], a["data-end"]) for a in ctas] == [
        (f"/v/{ana.token}/cta/buy", "2.5", "4.0"),
        (f"/v/{ana.token}/cta/more", "20.0", "30.0"),
    ]
    assert ctas[0]["data-box"] == "6.2500,72.2222,37.5000,16.6667"  # percent of 640x360: scales with the player
    assert ctas[1]["aria-label"] == "Learn <more>" and "Learn &lt;more&gt;" in html  # escaped
    assert all("hidden" in a and "tabindex" not in a for a in ctas)  # links: focusable once shown
    assert "https://shop.example" not in html  # destinations are only known to the redirect
    config = json.loads(
        re.search(r'<script id="pvideo-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert config["hotspots"][0] == {"id": "buy", "start": 2.5, "end": 4.0, "click_url": f"/v/{ana.token}/cta/buy"}
    assert config["ping_seconds"] == 10 and config["hls_url"] is None


def test_chapters_come_from_the_cta_windows(client, viewers):
    _, (ana, _) = viewers
    html = client.get(f"/v/{ana.token}").text
    tracks = [a for t, a in _tags(html) if t == "track"]
    assert tracks == [{"kind": "chapters", "src": f"/v/{ana.token}/chapters.vtt", "srclang": "en", "label": "Chapters"}]
    seeks = [a["data-seek"] for t, a in _tags(html) if t == "button"]
    assert seeks == ["0.0", "2.5", "4.0", "20.0", "30.0"]
    vtt = client.get(f"/v/{ana.token}/chapters.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.splitlines()[:4] == ["WEBVTT", "", "chapter-1", "00:00:00.000 --> 00:00:02.500"]
    assert "00:00:20.000 --> 00:00:30.000\nLearn &lt;more&gt;" in vtt.text
    assert "00:00:30.000 --> 00:00:40.000\nContinue" in vtt.text


def test_captions_track_and_hls_only_when_the_render_has_them(runtime, viewers):
    with runtime.db.session() as session:
        render = session.scalars(select(Render)).first()
        plain = landing_context(render, "tok", "http://h")
        rich = landing_context(
            render,
            "tok",
            "http://h",
            hls_url="/v/tok/index.m3u8",
            captions_url="/v/tok/en.vtt",
            chapters=[{"start": 0.0, "end": 40.0, "title": "All"}],
        )
    from api.pages import templates

    page = templates.get_template("landing.html")
    plain_tags, rich_tags = _tags(page.render(plain)), _tags(page.render(rich))
    assert [a["kind"] for t, a in plain_tags if t == "track"] == ["chapters"]
    assert [(a["kind"], a["src"]) for t, a in rich_tags if t == "track"] == [
        ("captions", "/v/tok/en.vtt"),
        ("chapters", "/v/tok/chapters.vtt"),
    ]
    video = next(a for t, a in rich_tags if t == "video")
    assert video["data-hls"] == "/v/tok/index.m3u8" and video["src"] == "/v/tok/video.mp4"  # MP4 stays the fallback
    assert "data-hls" not in next(a for t, a in plain_tags if t == "video")
    assert rich["config"]["hls_js"] == "/static/vendor/hls.min.js"


def test_page_is_strict_csp_without_inline_style_or_script(client, viewers):
    _, (ana, _) = viewers
    page = client.get(f"/v/{ana.token}")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    tags = _tags(page.text)
    assert not [a for _, a in tags if "style" in a]
    scripts = [a for t, a in tags if t == "script"]
    assert [s.get("src") for s in scripts] == [None, "/static/player.js", "/static/tracker.js"]
    assert scripts[0]["type"] == "application/json"
    for asset in ("player.js", "tracker.js", "landing.css"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_expired_token_is_404(runtime, viewers):
    _, (ana, _) = viewers
    runtime.settings.viewer_token_max_age_days = 1e-9  # ~0.1 ms; token ages count whole seconds
    time.sleep(1.1)
    with TestClient(create_app(runtime=runtime)) as client:
        assert client.get(f"/v/{ana.token}").status_code == 404
        assert client.post("/api/events", json={"token": ana.token, "events": [event("page_view")]}).status_code == 404
    assert ViewerTokens(SECRET, max_age=3600).verify(ana.token) is not None


def test_revoked_link_stops_working_everywhere_and_can_be_reissued(client, runtime, viewers):
    _, (ana, bo) = viewers
    response = client.post(
        f"/api/renders/{ana.render_id}/revoke-link",
        params={"reissue": "true", "reason": "leaked"},
        headers={"X-API-Key": API_KEY},
    )
    assert response.status_code == 200
    new_url = response.json()["landing_url"]
    assert new_url.startswith("http://testserver/v/") and not new_url.endswith(ana.token)
    for path in ("", "/video.mp4", "/chapters.vtt", "/cta/buy"):
        assert client.get(f"/v/{ana.token}{path}", follow_redirects=False).status_code == 410, path  # gone
    assert client.post("/api/events", json={"token": ana.token, "events": [event("page_view")]}).status_code == 410
    assert client.get(new_url.removeprefix("http://testserver")).status_code == 200
    assert client.get(f"/v/{bo.token}").status_code == 200  # others untouched
    with runtime.db.session() as session:
        audit = session.get(RevokedToken, token_digest(ana.token))
        assert audit.render_id == ana.render_id and audit.reason == "leaked"
        # revoke without a new link: the render has none
        assert revoke_viewer_token(session, client.app.state.pvideo.tokens, bo.render_id) is None
    assert client.get(f"/v/{bo.token}").status_code == 410
    assert client.post("/api/renders/nope/revoke-link", headers={"X-API-Key": API_KEY}).status_code == 404
    assert client.post(f"/api/renders/{bo.render_id}/revoke-link").status_code == 401
