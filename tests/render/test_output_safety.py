"""XSS and CSV-injection payloads in every customer field, wherever they are shown; the link checker.

Payloads (tests/corpora/xss.txt) go into the campaign name, customer id, row error, CTA label
and CTA id of a stored render, then every page and export that shows them is read back.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pvideo.db.models import Campaign, Render, RenderStatus
from pvideo.scene.urls import check_link
from tests.conftest import API_KEY
from tests.studio.conftest import sign_in_as

CORPORA = Path(__file__).parents[1] / "corpora"


def _lines(name: str) -> list[str]:
    return [line for line in (CORPORA / name).read_text().splitlines() if line and not line.startswith("#")]


def _decode(line: str) -> str:
    """Only the escapes named in the corpus header are decoded; other backslashes stay."""
    return re.sub(r"\\(t|n|r|x[0-9a-f]{2}|u[0-9a-f]{4})", lambda m: m.group(0).encode().decode("unicode_escape"), line)


XSS = _lines("xss.txt")
URLS = [_decode(u) for u in _lines("urls.txt")]
GOOD_URL = "https://shop.example/buy?c=1"
FORMULA = ("=", "+", "-", "@")
OUR_SCRIPTS = {("id", "pvideo-config")} | {
    ("src", f"/static/{name}")
    for name in ("player.js", "tracker.js", "vendor/htmx.min.js", "studio/studio.js", "studio/live.js")
}


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, attrs))


def _store(client, payload: str) -> tuple[str, str]:
    state = client.app.state.pvideo
    with state.runtime.db.session() as session:
        campaign = Campaign(name=payload, scene_name="card", scene={})
        session.add(campaign)
        session.flush()
        render = Render(
            campaign_id=campaign.id,
            row_number=1,
            customer_id=payload,
            status=RenderStatus.DONE,
            error=payload,
            video_key="v.mp4",
            duration=4.0,
            width=640,
            height=360,
            hotspots=[
                {
                    "id": "buy",
                    "label": payload,
                    "href": GOOD_URL,
                    "x": 1,
                    "y": 1,
                    "w": 10,
                    "h": 10,
                    "start": 1.0,
                    "end": 2.0,
                },
                {
                    "id": payload[:90],
                    "label": payload,
                    "href": payload,
                    "x": 1,
                    "y": 1,
                    "w": 10,
                    "h": 10,
                    "start": 2.5,
                    "end": 3.0,
                },
            ],
        )
        session.add(render)
        session.flush()
        render.viewer_token = state.tokens.issue(render.id)
        return campaign.id, render.viewer_token


def _no_live_markup(html: str, payload: str) -> None:
    """The payload never appears unescaped in the HTML, so no tag or attribute it carries is live."""
    if any(c in payload for c in "<>\"'&"):
        assert payload not in html
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag not in ("img", "iframe", "style", "object", "embed"), (tag, attrs)
        if tag == "script":
            assert OUR_SCRIPTS & set(attrs), attrs
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src", "action", "poster", "content"):
                target = (value or "").strip().lower()
                assert not target.startswith(("javascript:", "vbscript:")), (tag, name, value)
                assert not target.startswith("data:") or target == "data:,", (tag, name, value)


@pytest.mark.parametrize("payload", XSS)
def test_payload_is_escaped_everywhere(client, payload):
    campaign_id, token = _store(client, payload)
    key = {"X-API-Key": API_KEY}

    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    _no_live_markup(page.text, payload)
    config = re.search(r'<script id="pvideo-config" type="application/json">(.*?)</script>', page.text, re.S)
    assert "</" not in config.group(1) and "<!--" not in config.group(1)
    assert json.loads(config.group(1))["token"] == token
    # the hostile href is never a link on the page: CTAs go through the click redirect
    assert 'href="javascript' not in page.text.lower()

    vtt = client.get(f"/v/{token}/chapters.vtt").text
    cues = vtt.split("\n\n")[1:]
    assert all(c.count("-->") == 1 for c in cues if c.strip())
    assert "<" not in vtt

    hostile = client.get(f"/v/{token}/cta/{payload[:90]}", follow_redirects=False)
    assert hostile.status_code in (302, 404)
    if hostile.status_code == 302:
        assert hostile.headers["location"] == payload and check_link(payload)
    good = client.get(f"/v/{token}/cta/buy", follow_redirects=False)
    assert good.status_code == 302 and good.headers["location"] == GOOD_URL

    manifest = client.get(f"/api/campaigns/{campaign_id}/manifest?format=csv", headers=key).text
    for row in csv.DictReader(io.StringIO(manifest)):
        for value in row.values():
            assert value[:1] not in FORMULA, value
        assert row["customer_id"] in (payload, "'" + payload)
    as_json = client.get(f"/api/campaigns/{campaign_id}/manifest?format=json", headers=key)
    assert as_json.json()[0]["customer_id"] == payload  # JSON carries data verbatim, typed as a string
    renders = client.get(f"/api/campaigns/{campaign_id}/renders", headers=key)
    assert renders.headers["content-type"].startswith("application/json")
    assert renders.json()[0]["customer_id"] == payload

    sign_in_as(client, client.app.state.pvideo.runtime, "ann@example.com", "analyst")
    for path in ("/studio/campaigns", "/studio/campaigns/rows", f"/studio/campaigns/{campaign_id}"):
        dash = client.get(path)
        assert dash.status_code == 200, path
        assert "script-src 'self'" in dash.headers["content-security-policy"]
        _no_live_markup(dash.text, payload)


@pytest.mark.parametrize("url", URLS, ids=[repr(u)[:60] for u in URLS])
def test_link_corpus_is_refused(url):
    with pytest.raises(ValueError):
        check_link(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://bücher.example/p",
        "http://example.com:8080/a?b=c#d",
        "https://xn--bcher-kva.example/",
        "HTTPS://EXAMPLE.COM/",
    ],
)
def test_good_links_pass(url):
    assert check_link(url) == url


def test_click_redirect_never_goes_to_a_bad_link(client):
    _, token = _store(client, "x")
    state = client.app.state.pvideo
    for url in URLS:
        with state.runtime.db.session() as session:
            render = session.get(Render, state.tokens.verify(token))
            render.hotspots = [dict(render.hotspots[0], id="bad", href=url)]
        assert client.get(f"/v/{token}/cta/bad", follow_redirects=False).status_code == 404, repr(url)
        assert client.get(f"/v/{token}/cta/elsewhere", follow_redirects=False).status_code == 404
    assert client.get(f"/v/{token}/cta/x?url=https://evil.example", follow_redirects=False).status_code == 404
