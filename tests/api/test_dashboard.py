"""The dashboard: API-key sign-in (HttpOnly, SameSite=Strict, signed cookie, CSRF-safe) and its pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from pvideo.access.signin import DashboardSignin
from pvideo.tracking.charts import funnel_bars, retention_points
from tests.conftest import API_KEY, SECRET
from tests.viewers import done_campaign, event


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _sign_in(client, key=API_KEY):
    form = client.get("/dashboard/sign-in")
    return client.post("/dashboard/sign-in", data={"api_key": key, "csrf": _csrf(form.text)}, follow_redirects=False)


def test_dashboard_needs_sign_in(client):
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/sign-in"
    assert client.get("/dashboard/campaigns/x", follow_redirects=False).status_code == 303


def test_sign_in_sets_a_strict_httponly_signed_cookie(client):
    form = client.get("/dashboard/sign-in")
    csp = form.headers["content-security-policy"]
    assert "form-action 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    response = _sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pvideo_dashboard="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert API_KEY not in cookie  # a signed digest of the key, not the key
    assert client.get("/dashboard").status_code == 200


def test_wrong_key_and_missing_or_forged_csrf_are_refused(client):
    assert _sign_in(client, "wrong").status_code == 401
    client.get("/dashboard/sign-in")
    assert client.post("/dashboard/sign-in", data={"api_key": API_KEY}, follow_redirects=False).status_code == 403
    forged = DashboardSignin("x" * 40).new_csrf()
    client.cookies.set("pvideo_csrf", forged, path="/dashboard")
    assert (
        client.post("/dashboard/sign-in", data={"api_key": API_KEY, "csrf": forged}, follow_redirects=False).status_code
        == 403
    )
    good = _csrf(client.get("/dashboard/sign-in").text)
    cross = client.post(
        "/dashboard/sign-in",
        data={"api_key": API_KEY, "csrf": good},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert cross.status_code == 403
    # a cookie signed with another secret, or naming a removed key, is no session
    client.cookies.set("pvideo_dashboard", DashboardSignin("x" * 40).session_cookie(API_KEY), path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    client.cookies.set("pvideo_dashboard", DashboardSignin(SECRET).session_cookie("old-key"), path="/dashboard")
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_sign_out(client):
    _sign_in(client)
    home = client.get("/dashboard")
    out = client.post("/dashboard/sign-out", data={"csrf": _csrf(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.attrs = [], []

    def handle_data(self, data):
        self.text.append(data.strip())

    def handle_starttag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))


def test_campaign_pages_show_progress_funnel_drop_off_ctas_and_renders(client, runtime):
    campaign_id, (ana, _bo) = done_campaign(runtime.db, client.app.state.pvideo.tokens)
    client.post(
        "/api/events",
        json={
            "token": ana.token,
            "events": [
                event("page_view", seq=1),
                event("play", 0, seq=2),
                event("cta_impression", 2.5, seq=3, cta="buy"),
                event("ping", 10, seq=4),
                event("pause", 20, seq=5),
            ],
        },
    )
    client.get(f"/v/{ana.token}/cta/buy", follow_redirects=False)
    _sign_in(client)
    home = client.get("/dashboard")
    assert f'href="/dashboard/campaigns/{campaign_id}"' in home.text and 'value="100"' in home.text  # all done
    page = client.get(f"/dashboard/campaigns/{campaign_id}")
    assert page.status_code == 200
    parsed = _Text()
    parsed.feed(page.text)
    words = " ".join(t for t in parsed.text if t)
    assert "links opened (50.0%)" in words and "50.0% watched on average" in words
    assert "buy 1 1 1 1 100.0%" in words and "more 0 0 0 0 0.0%" in words
    assert "c1 done" in words and "c2 done" in words
    rects = [a for t, a in parsed.attrs if t == "rect"]
    assert [float(r["width"]) for r in rects][:3] == [420.0, 210.0, 210.0]  # rendered 2, opened 1, played 1
    assert not [a for _, a in parsed.attrs if "style" in a]
    assert "<script" not in page.text
    assert client.get(f"/dashboard/campaigns/{campaign_id}?start=2001-01-01&end=2001-01-02").status_code == 200
    assert client.get("/dashboard/campaigns/nope").status_code == 404


def test_chart_geometry():
    bars = funnel_bars(
        [{"step": "rendered", "viewers": 4}, {"step": "watched_50", "viewers": 1}, {"step": "completed", "viewers": 0}],
        width=600,
    )
    assert [(b.label, b.width, b.share) for b in bars] == [
        ("rendered", 420.0, 1.0),
        ("watched 50", 105.0, 0.25),
        ("completed", 0, 0.0),
    ]
    curve = retention_points([{"share": 1.0}, {"share": 0.5}], width=200, height=100, pad=0)
    assert curve["line"] == "50.0,0.0 150.0,50.0"
    assert curve["area"] == "M50.0,100 L50.0,0.0 L150.0,50.0 L150.0,100 Z"
