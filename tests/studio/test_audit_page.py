"""The audit log page (/studio/audit) and ``GET /api/audit``: admins only (checked on the server),
newest first, keyset pages, filters in a plain GET form, streamed CSV/NDJSON exports that are
themselves on record; strict CSP, and what people typed is shown escaped."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from pvideo.access import audit
from pvideo.access.apikeys import create_key
from pvideo.access.audit import Action
from pvideo.db.models import AuditEntry
from tests.conftest import API_KEY
from tests.studio.conftest import sign_in_as

ROW = re.compile(r'<tr data-action="([^"]+)" data-actor="([^"]+)">')
OLDER = re.compile(r'href="(/studio/audit\?[^"]*cursor=\d+)"')


def _add(runtime, actor: str, action: Action, *, at: datetime | None = None, **kwargs) -> None:
    with runtime.db.session() as session:
        entry = audit.record(session, actor=actor, action=action, **kwargs)
        if at is not None:
            entry.at = at


def _rows(html: str) -> list[tuple[str, str]]:
    return [(a, unescape(b)) for a, b in ROW.findall(html)]


@pytest.fixture()
def seeded(runtime):
    """Sixty entries, oldest first: 40 by mia (submits), 20 by ada (user changes)."""
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    for n in range(60):
        who, action = ("mia@example.com", Action.CAMPAIGN_SUBMIT) if n < 40 else ("ada@example.com", Action.USER_ROLE)
        _add(runtime, who, action, at=start + timedelta(hours=n), target_type="campaign", target_id=f"c{n:02d}")


def test_only_admins_see_it_or_its_link(client, runtime):
    sign_in_as(client, runtime, "mia@example.com", "marketing")
    assert 'href="/studio/audit"' not in client.get("/studio/campaigns").text
    for path in ("/studio/audit", "/studio/audit.csv", "/studio/audit.ndjson?actor=mia"):
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 403 and "mia@example.com" not in refused.text.split("</header>", 1)[-1], path
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    assert client.get("/studio/audit", follow_redirects=False).status_code == 403
    client.cookies.clear()
    assert client.get("/studio/audit", follow_redirects=False).headers["location"].startswith("/studio/sign-in?next=")
    sign_in_as(client, runtime, "ada@example.com", "admin")
    assert 'href="/studio/audit"' in client.get("/studio/campaigns").text
    with runtime.db.session() as session:  # looking at the log or being refused it is not itself an entry
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_newest_first_in_keyset_pages_filtered_by_a_plain_form(client, runtime, seeded):
    sign_in_as(client, runtime, "ada@example.com", "admin")
    first = client.get("/studio/audit")
    assert first.status_code == 200
    assert "script-src 'self'" in first.headers["content-security-policy"]
    assert first.headers["cache-control"] == "no-store"
    rows = _rows(first.text)
    assert len(rows) == 50 and rows[0] == ("user.role", "ada@example.com") and "c59" in first.text
    _add(runtime, "late@example.com", Action.USER_CREATE)  # arrives before the next page is asked for
    older = client.get(unescape(OLDER.search(first.text).group(1)))
    assert [r[1] for r in _rows(older.text)] == ["mia@example.com"] * 10 and "c09" in older.text
    assert OLDER.search(older.text) is None and 'href="/studio/audit"' in older.text  # back to the newest

    mine = client.get("/studio/audit", params={"actor": "MIA@", "action": "campaign.submit", "start": "", "end": ""})
    assert _rows(mine.text) == [("campaign.submit", "mia@example.com")] * 40
    assert 'value="MIA@"' in mine.text and '<option value="campaign.submit" selected>' in mine.text
    day = client.get("/studio/audit", params={"start": "2026-03-02", "end": "2026-03-02"})
    assert len(_rows(day.text)) == 24
    none = client.get("/studio/audit", params={"actor": "nobody"})
    assert _rows(none.text) == [] and "No entries match these filters" in none.text

    bad = client.get("/studio/audit", params={"start": "yesterday"})
    assert bad.status_code == 400 and "start: not a date" in bad.text
    assert client.get("/studio/audit", params={"cursor": "x'--"}).status_code == 400
    assert client.get("/studio/audit", params={"action": "<b>"}).status_code == 400


def test_exports_stream_every_match_and_are_on_record(client, runtime, seeded):
    sign_in_as(client, runtime, "ada@example.com", "admin")
    page = client.get("/studio/audit", params={"actor": "mia"}).text
    assert 'href="/studio/audit.csv?actor=mia"' in page and 'href="/studio/audit.ndjson?actor=mia"' in page
    exported = client.get("/studio/audit.csv", params={"actor": "mia"})
    assert exported.headers["content-disposition"] == 'attachment; filename="pvideo-audit.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 40 and {r["actor"] for r in rows} == {"mia@example.com"} and rows[0]["target_id"] == "c39"
    lines = client.get("/studio/audit.ndjson").text.splitlines()
    # on record before it starts, so the export holds its own entry, then the CSV export's
    assert len(lines) == 62 and [json.loads(line)["action"] for line in lines[:3]] == [
        "audit.export",
        "audit.export",
        "user.role",
    ]
    with runtime.db.session() as session:
        exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export").order_by(AuditEntry.id))
        assert [(e.actor, e.role, e.detail) for e in exports] == [
            ("ada@example.com", "admin", {"format": "csv", "actor": "mia"}),
            ("ada@example.com", "admin", {"format": "ndjson"}),
        ]


def test_what_people_typed_is_shown_escaped(client, runtime):
    _add(runtime, "<script>alert(1)</script>", Action.APIKEY_CREATE, detail={"name": "<img src=x onerror=alert(1)>"})
    sign_in_as(client, runtime, "ada@example.com", "admin")
    html = client.get("/studio/audit").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_api_pages_and_filters_for_admin_keys_only(client, runtime, seeded):
    with runtime.db.session() as session:
        _, admin_key = create_key(session, ["admin"])
        _, campaigns_key = create_key(session, ["campaigns", "analytics"])
    admin = {"X-API-Key": admin_key}
    assert client.get("/api/audit").status_code == 401
    refused = client.get("/api/audit", headers={"X-API-Key": campaigns_key})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]

    first = client.get("/api/audit", headers=admin, params={"limit": 25}).json()
    assert len(first["entries"]) == 25 and first["entries"][0]["target_id"] == "c59"
    second = client.get("/api/audit", headers=admin, params={"limit": 25, "cursor": first["next_cursor"]}).json()
    third = client.get("/api/audit", headers=admin, params={"limit": 25, "cursor": second["next_cursor"]}).json()
    ids = [e["id"] for page in (first, second, third) for e in page["entries"]]
    assert len(ids) == len(set(ids)) == 60 and ids == sorted(ids, reverse=True) and third["next_cursor"] is None

    mia = client.get("/api/audit", headers=admin, params={"actor": "mia", "end": "2026-03-01"}).json()
    assert [e["target_id"] for e in mia["entries"]] == [f"c{n:02d}" for n in range(14, -1, -1)]
    assert mia["entries"][0]["at"] == "2026-03-01T23:00:00+00:00" and mia["entries"][0]["role"] is None
    for bad in ({"action": "nope"}, {"start": "03/01/2026"}, {"cursor": "abc"}, {"limit": 0}):
        answer = client.get("/api/audit", headers=admin, params=bad)
        assert answer.status_code == 422, bad

    exported = client.get("/api/audit/export", headers=admin, params={"format": "ndjson", "action": "user.role"})
    assert len(exported.text.splitlines()) == 20
    latest = client.get("/api/audit", headers=admin, params={"limit": 1}).json()["entries"][0]
    assert latest["action"] == "audit.export" and latest["actor"] == f"api key pvk_{admin_key.split('_')[1]}"
    assert latest["role"] == "admin" and latest["detail"] == {"format": "ndjson", "action": "user.role"}
    assert API_KEY not in json.dumps(latest)
