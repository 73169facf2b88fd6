"""The studio's campaign pages: the live list (filters, cancel, retry by role), a campaign's page
(live progress over Server-Sent Events, failures, links, manifests, analytics), the old dashboard's
redirects, and campaign data escaped everywhere."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import openpyxl
import pytest
from sqlalchemy import select

from api.routes.studio import campaign_live
from pvideo.db.models import Campaign, CampaignStatus, Render, RenderMode, RenderStatus, User, new_id, utcnow
from pvideo.jobs import campaigns
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import load_scene
from tests.conftest import drain
from tests.studio.conftest import csrf_of, sign_in_as
from tests.viewers import done_campaign, event

GOOD = [{"customer_id": "c1", "first_name": "Kim", "price": 5}, {"customer_id": "c2", "first_name": "Lee", "price": 7}]
BAD = {"customer_id": "c3", "first_name": "Max", "price": "not a number"}


def _submit(client, rows, *, name="Spring", mode=RenderMode.EAGER, by="mia@example.com") -> str:
    """A campaign of the card scene through ``campaigns.submit``; an eager one is rendered (drained)."""
    state = client.app.state.pvideo
    runtime = state.runtime
    spec = load_scene(runtime.settings.scenes_dir / "card.yaml")
    request = campaigns.CampaignRequest(
        spec, [CustomerRow(i, r) for i, r in enumerate(rows, 1)], name=name, render_mode=mode, submitted_by=by
    )
    with runtime.db.session() as session:
        submission = campaigns.submit(session, request, settings=runtime.settings, tokens=state.tokens)
        campaign_id, fan_out = submission.campaign.id, submission.fan_out
    state.queue.dispatch(fan_out)
    drain(client)
    return campaign_id


def _statuses(client, campaign_id) -> tuple[str, list[str]]:
    with client.app.state.pvideo.runtime.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        rows = session.scalars(
            select(Render.status).where(Render.campaign_id == campaign_id).order_by(Render.row_number)
        )
        return campaign.status, list(rows)


class _Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.text, self.tags = [], []
        self.feed(html)

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def words(self) -> str:
        return " ".join(self.text)

    def all(self, tag, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def _events(body: str) -> list[dict]:
    """The Server-Sent Events of a stream: their ``id``, ``event`` and parsed ``data``."""
    out = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            out.append({"id": fields.get("id"), "event": fields.get("event"), "data": json.loads(fields["data"])})
    return out


def test_signed_out_visitors_are_sent_to_sign_in_and_the_dashboard_redirects(client, runtime):
    campaign_id, _ = done_campaign(runtime.db, client.app.state.pvideo.tokens)
    for path in ("", "/rows", f"/{campaign_id}", f"/{campaign_id}/live", f"/{campaign_id}/progress.json",
                 f"/{campaign_id}/manifest.csv", f"/{campaign_id}/manifest.xlsx"):  # fmt: skip
        response = client.get(f"/studio/campaigns{path}", follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/studio/sign-in?next=%2Fstudio%2Fcampaigns"), path
    cancel = client.post(f"/studio/campaigns/{campaign_id}/cancel", data={"csrf": "x"}, follow_redirects=False)
    assert cancel.status_code == 303 and _statuses(client, campaign_id)[0] == CampaignStatus.ACTIVE
    polled = client.get("/studio/campaigns/rows", headers={"HX-Request": "true"}, follow_redirects=False)
    assert polled.status_code == 401 and polled.headers["hx-redirect"].startswith("/studio/sign-in")
    for old, new in (("/dashboard", "/studio/campaigns"), ("/dashboard/sign-in", "/studio/campaigns"),
                     (f"/dashboard/campaigns/{campaign_id}", f"/studio/campaigns/{campaign_id}")):  # fmt: skip
        moved = client.get(old, follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"] == new


def test_the_list_shows_every_campaign_and_filters_by_status_and_scene(marketer, runtime):
    done_id = _submit(marketer, [*GOOD, BAD])
    waiting_id = _submit(marketer, GOOD, name="Autumn", mode=RenderMode.ON_DEMAND, by="ann@example.com")
    with runtime.db.session() as session:
        session.add(Campaign(id=(other := new_id()), name="Bills", scene_name="bill", scene={}, submitted_by="cli"))
    page = marketer.get("/studio/campaigns")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    parsed = _Page(page.text)
    words = parsed.words()
    assert "Spring card mia@example.com" in words and "complete 100% 2 1 3" in words
    assert "Autumn card ann@example.com" in words and "active 0% 0 0 2" in words
    assert [a["value"] for a in parsed.all("progress")] == ["100", "0", "100"]  # newest first; no rows is 100 %
    assert parsed.all("a", href="/studio/campaigns/new")
    assert [a["value"] for a in parsed.all("option")] == ["", "active", "complete", "cancelled", "", "bill", "card"]
    tbody = parsed.all("tbody", id="campaign-rows")[0]
    assert tbody["hx-get"] == "/studio/campaigns/rows" and tbody["hx-trigger"].startswith("every 2s")

    def listed(query: str) -> list[str]:
        html = marketer.get(f"/studio/campaigns/rows?{query}").text
        assert html.lstrip().startswith("<tbody") and html.rstrip().endswith("</tbody>")
        return [a["href"].rsplit("/", 1)[1] for a in _Page(html).all("a") if a["href"].count("/") == 3]

    assert listed("") == [other, waiting_id, done_id]
    assert listed("status=complete") == [done_id]
    assert listed("status=active") == [other, waiting_id]
    assert listed("status=cancelled") == []
    assert listed("scene=card") == [waiting_id, done_id]
    assert listed("scene=bill&status=active") == [other]
    assert listed("status=bogus") == [other, waiting_id, done_id]  # an unknown status filters nothing
    filtered = _Page(marketer.get("/studio/campaigns?status=complete&scene=card").text)
    assert filtered.all("tbody")[0]["hx-get"] == "/studio/campaigns/rows?status=complete&scene=card"
    assert "selected" in filtered.all("option", value="complete")[0]


def test_an_analyst_sees_the_list_but_may_not_cancel_or_retry(client, runtime):
    campaign_id = _submit(client, GOOD, mode=RenderMode.ON_DEMAND)
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    page = client.get("/studio/campaigns")
    assert page.status_code == 200 and campaign_id in page.text
    assert "/cancel" not in page.text and "/retry" not in page.text and "/studio/campaigns/new" not in page.text
    csrf = csrf_of(page.text)
    for action in ("cancel", "retry"):
        refused = client.post(f"/studio/campaigns/{campaign_id}/{action}", data={"csrf": csrf}, follow_redirects=False)
        assert refused.status_code == 403 and "Not allowed" in refused.text
        htmx = client.post(
            f"/studio/campaigns/{campaign_id}/{action}", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert htmx.status_code == 403
    assert _statuses(client, campaign_id) == (CampaignStatus.ACTIVE, [RenderStatus.QUEUED] * 2)
    detail = client.get(f"/studio/campaigns/{campaign_id}")
    assert detail.status_code == 200 and "/cancel" not in detail.text and "/retry" not in detail.text


def test_a_marketer_cancels_from_the_list(marketer):
    campaign_id = _submit(marketer, GOOD, mode=RenderMode.ON_DEMAND)
    page = marketer.get("/studio/campaigns?scene=card")
    form = _Page(page.text).all("form", action=f"/studio/campaigns/{campaign_id}/cancel")[0]
    assert form["hx-post"] == form["action"] and form["method"] == "post"
    forged = marketer.post(f"/studio/campaigns/{campaign_id}/cancel", data={"csrf": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and _statuses(marketer, campaign_id)[0] == CampaignStatus.ACTIVE
    done = marketer.post(
        f"/studio/campaigns/{campaign_id}/cancel",
        data={"csrf": csrf_of(page.text), "back": "/studio/campaigns?scene=card"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/studio/campaigns?scene=card&notice=cancelled"
    assert _statuses(marketer, campaign_id) == (CampaignStatus.CANCELLED, [RenderStatus.CANCELLED] * 2)
    words = _Page(marketer.get("/studio/campaigns/rows").text).words()
    assert "cancelled 100% 0 0 2" in words
    # htmx: no redirect, the list is told to refresh; a foreign "back" never leaves the studio
    again = marketer.post(
        f"/studio/campaigns/{campaign_id}/retry",
        data={"csrf": csrf_of(page.text)},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 200 and again.headers["hx-trigger"] == "campaigns-changed"
    elsewhere = marketer.post(
        f"/studio/campaigns/{campaign_id}/cancel",
        data={"csrf": csrf_of(page.text), "back": "https://evil.example/studio/campaigns"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == f"/studio/campaigns/{campaign_id}?notice=cancelled"


def test_retry_queues_the_failed_rows_again(marketer):
    campaign_id = _submit(marketer, GOOD)
    with marketer.app.state.pvideo.runtime.db.session() as session:
        render = session.scalar(select(Render).where(Render.campaign_id == campaign_id, Render.row_number == 1))
        render.status, render.error, render.attempts = RenderStatus.FAILED, "ffmpeg crashed", 3
    page = marketer.get(f"/studio/campaigns/{campaign_id}")
    assert "ffmpeg crashed" in _Page(page.text).words()
    retried = marketer.post(f"/studio/campaigns/{campaign_id}/retry", data={"csrf": csrf_of(page.text)})
    assert retried.status_code == 200 and retried.url.path == f"/studio/campaigns/{campaign_id}"
    assert "queued again" in retried.text
    drain(marketer)
    assert _statuses(marketer, campaign_id)[1] == [RenderStatus.DONE] * 2
    with marketer.app.state.pvideo.runtime.db.session() as session:
        assert (
            session.scalar(select(Render.error).where(Render.campaign_id == campaign_id, Render.row_number == 1))
            is None
        )


def test_the_live_stream_sends_counts_rate_eta_and_new_failures(analyst):
    campaign_id = _submit(analyst, [*GOOD, BAD])
    with analyst.stream("GET", f"/studio/campaigns/{campaign_id}/live") as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        body = stream.read().decode()
    assert body.startswith("retry: ")
    (first,) = _events(body)  # finished: one event, then the stream ends
    update = first["data"]
    assert first["event"] == "progress" and first["id"] == update["cursor"]
    assert update["counts"] == {"queued": 0, "rendering": 0, "done": 2, "failed": 1, "cancelled": 0}
    assert update["total"] == 3 and update["percent"] == 100 and update["complete"] is True
    assert update["eta"] == "done" and update["rate_per_minute"] > 0
    assert [(f["row"], f["customer_id"]) for f in update["failures"]] == [(3, "c3")]
    assert "price" in update["failures"][0]["error"]
    resumed = analyst.get(f"/studio/campaigns/{campaign_id}/live", headers={"Last-Event-ID": first["id"]})
    (again,) = _events(resumed.text)
    assert again["data"]["failures"] == [] and again["id"] == first["id"]

    polled = analyst.get(f"/studio/campaigns/{campaign_id}/progress.json")
    assert polled.status_code == 200 and polled.headers["cache-control"] == "no-store"
    assert polled.json()["counts"] == update["counts"] and len(polled.json()["failures"]) == 1
    after = analyst.get(f"/studio/campaigns/{campaign_id}/progress.json", params={"after": update["cursor"]})
    assert after.json()["failures"] == []
    assert analyst.get(f"/studio/campaigns/{campaign_id}/progress.json?after=garbage").json()["failures"]
    assert analyst.get("/studio/campaigns/nope/live").status_code == 404
    assert analyst.get("/studio/campaigns/nope/progress.json").status_code == 404


def test_the_live_stream_of_an_open_campaign_reports_it_open(marketer):
    """An on-demand campaign's rows wait for views: the page says so and the stream's updates are not complete."""
    campaign_id = _submit(marketer, GOOD, mode=RenderMode.ON_DEMAND)
    update = marketer.get(f"/studio/campaigns/{campaign_id}/progress.json").json()
    assert update["counts"]["queued"] == 2 and update["complete"] is False and update["eta"] == "unknown"
    live = _Page(marketer.get(f"/studio/campaigns/{campaign_id}").text).all("section", id="live")[0]
    assert live["data-complete"] == "false" and live["data-live"] == f"/studio/campaigns/{campaign_id}/live"


def test_an_open_campaign_streams_a_failure_once_as_it_happens_then_ends_at_its_lifetime(marketer, monkeypatch):
    campaign_id = _submit(marketer, GOOD, mode=RenderMode.ON_DEMAND)  # rows wait for views: never complete here
    monkeypatch.setattr(campaign_live, "STREAM_SECONDS", 2.5)

    def fail_row_one():
        with marketer.app.state.pvideo.runtime.db.session() as session:
            render = session.scalar(select(Render).where(Render.campaign_id == campaign_id, Render.row_number == 1))
            render.status, render.error, render.finished_at, render.attempts = "failed", "ffmpeg crashed", utcnow(), 1

    body, failed = "", False
    with marketer.stream("GET", f"/studio/campaigns/{campaign_id}/live") as stream:
        for chunk in stream.iter_text():
            body += chunk
            if not failed and "\n\n" in body:  # after the first update, whatever the machine's load
                fail_row_one()
                failed = True
    events = _events(body)
    assert 3 <= len(events) <= 5  # one a second until the lifetime ends
    assert events[0]["data"]["failures"] == [] and events[0]["id"] is None
    assert [f["row"] for e in events for f in e["data"]["failures"]] == [1]  # sent once
    assert events[-1]["data"]["counts"] == {"queued": 1, "rendering": 0, "done": 0, "failed": 1, "cancelled": 0}
    assert events[-1]["id"] and not events[-1]["data"]["complete"]


def test_the_stream_ends_when_the_viewer_is_signed_out(marketer, runtime, monkeypatch):
    campaign_id = _submit(marketer, GOOD, mode=RenderMode.ON_DEMAND)
    monkeypatch.setattr(campaign_live, "STREAM_SECONDS", 30)
    user_id = sign_in_as(marketer, runtime, "max@example.com", "marketing")

    def sign_out_everywhere():
        with runtime.db.session() as session:
            session.get(User, user_id).session_generation += 1

    body, signed_out = "", False
    with marketer.stream("GET", f"/studio/campaigns/{campaign_id}/live") as response:
        for chunk in response.iter_text():
            body += chunk
            if not signed_out and _events(body):  # signed out once the first event is in, not at a set time
                sign_out_everywhere()
                signed_out = True
    events = _events(body)
    assert 1 <= len(events) <= 3  # one a second: a stream that ran on to its 30 s would hold about 30


@pytest.mark.parametrize("role", ["analyst", "marketing", "admin"])
def test_every_role_reads_the_manifest_as_csv_json_and_xlsx(client, runtime, role):
    campaign_id = _submit(client, [*GOOD, {"customer_id": "=1+2", "first_name": "Eve", "price": 1}])
    sign_in_as(client, runtime, f"{role}@example.com", role)
    base = f"/studio/campaigns/{campaign_id}/manifest"
    as_csv = client.get(f"{base}.csv")
    assert as_csv.status_code == 200 and "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["row"], r["customer_id"], r["status"]) for r in rows] == [
        ("1", "c1", "done"), ("2", "c2", "done"), ("3", "'=1+2", "done"),
    ]  # fmt: skip
    assert all(r["landing_url"].startswith("http://testserver/v/") for r in rows)
    as_json = client.get(f"{base}.json").json()
    assert [r["customer_id"] for r in as_json] == ["c1", "c2", "=1+2"]
    xlsx = client.get(f"{base}.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxml")
    assert f"campaign-{campaign_id}-links.xlsx" in xlsx.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    assert table[0][:3] == ["row", "customer_id", "status"] and len(table) == 4
    assert [r[:3] for r in table[1:]] == [[1, "c1", "done"], [2, "c2", "done"], [3, "'=1+2", "done"]]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # no formula anywhere
    assert [r[3] for r in table[1:]] == [r["landing_url"] for r in rows]
    assert client.get("/studio/campaigns/nope/manifest.xlsx").status_code == 404


def test_the_campaign_page_shows_progress_failures_links_and_pages(client, runtime):
    campaign_id = _submit(client, [*GOOD, BAD])
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    page = _Page(client.get(f"/studio/campaigns/{campaign_id}").text)
    words = page.words()
    assert "3 of 3 rows finished (100%)" in words and "ETA" in words
    assert [(a["data-count"]) for a in page.all("b") if "data-count" in a] == [
        "queued", "rendering", "done", "failed", "cancelled"
    ]  # fmt: skip
    assert "0 Queued 0 Rendering 2 Done 1 Failed 0 Cancelled" in words
    assert page.all("p", **{"aria-live": "polite"}) and page.all("progress", value="100")
    assert "3 c3" in words  # the failed row, with its reason
    links = [a for a in page.all("input") if "readonly" in a]
    assert len(links) == 2 and all(a["value"].startswith("http://testserver/v/") for a in links)
    assert [a["data-copy"] for a in page.all("button") if "data-copy" in a] == ["link-1", "link-2"]
    assert {a["href"] for a in page.all("a") if "manifest" in a.get("href", "")} == {
        f"/studio/campaigns/{campaign_id}/manifest.{x}" for x in ("csv", "json", "xlsx")
    }
    assert [a["src"] for a in page.all("script")] == ["/static/vendor/htmx.min.js", "/static/studio/studio.js",
                                                      "/static/studio/live.js"]  # fmt: skip

    many, _ = done_campaign(runtime.db, client.app.state.pvideo.tokens, viewers=60)
    first = _Page(client.get(f"/studio/campaigns/{many}").text)
    assert len([a for a in first.all("input") if "readonly" in a]) == 50 and first.all("a", rel="next")
    second = _Page(client.get(f"/studio/campaigns/{many}?page=2").text)
    assert [a["id"] for a in second.all("input") if "readonly" in a] == [f"link-{n}" for n in range(51, 61)]
    assert second.all("a", rel="prev") and not second.all("a", rel="next")
    assert client.get("/studio/campaigns/nope").status_code == 404


def test_the_analytics_panel_shows_funnel_drop_off_ctas_and_breakdowns(analyst, runtime):
    """What the dashboard showed, now on the studio's campaign page (ported from tests/api/test_dashboard.py)."""
    campaign_id, (ana, _bo) = done_campaign(runtime.db, analyst.app.state.pvideo.tokens)
    analyst.post(
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
    analyst.get(f"/v/{ana.token}/cta/buy", follow_redirects=False)
    html = analyst.get(f"/studio/campaigns/{campaign_id}").text
    page = _Page(html)
    words = page.words()
    assert "links opened (50.0%)" in words and "50.0% watched on average" in words
    assert "buy 1 1 1 1 100.0%" in words and "more 0 0 0 0 0.0%" in words
    assert "c1 done" in words and "c2 done" in words
    bars = page.all("rect", **{"class": "bar"})
    assert [float(r["width"]) for r in bars][:3] == [420.0, 210.0, 210.0]  # rendered 2, opened 1, played 1
    assert page.all("polyline", **{"class": "line"}) and page.all("svg", role="img")
    assert not [a for _, a in page.tags if "style" in a] and "<style" not in html
    assert all("src" in a for a in page.all("script"))  # no inline script
    assert analyst.get(f"/studio/campaigns/{campaign_id}?start=2001-01-01&end=2001-01-02").status_code == 200


def test_campaign_data_is_escaped_on_every_page(marketer, runtime):
    hostile = '<script>alert("x")</script>'
    campaign_id = _submit(marketer, [{"customer_id": "<img src=x onerror=alert(1)>", "first_name": "A", "price": 1},
                                     {**BAD, "customer_id": "<u>bad</u>"}], name=hostile, by="<i>who</i>")  # fmt: skip
    for path in ("/studio/campaigns", "/studio/campaigns/rows", f"/studio/campaigns/{campaign_id}"):
        html = marketer.get(path).text
        assert hostile not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, path
        assert "<img" not in html and "<u>bad" not in html and "<i>who" not in html, path
        assert not [t for t, _ in _Page(html).tags if t in ("img", "u", "i")], path
    update = marketer.get(f"/studio/campaigns/{campaign_id}/progress.json").json()
    assert update["failures"][0]["customer_id"] == "<u>bad</u>"  # JSON carries it verbatim; live.js sets textContent
