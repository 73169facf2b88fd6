"""Interaction analytics pinned by a golden fixture (``golden_interactions.json``), on SQLite and
PostgreSQL: events through the real ingest, answers through the real store, numbers read back."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Campaign, Render
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.events import ingest
from pvideo.tracking.interaction_stats import (
    csv_chunks,
    form_field_names,
    iter_responses,
    mask,
    may_see_pii,
    ndjson_chunks,
)
from pvideo.tracking.responses import AnswerIn, AnswerStatus, answer_pending, store_answers
from tests.conftest import SECRET
from tests.tracking.answering import interactive_campaign

GOLDEN = json.loads((Path(__file__).parent / "golden_interactions.json").read_text())
DAY = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _load(db) -> tuple[str, dict[str, str]]:
    """Play the fixture's steps, one request each, a second apart from ``DAY``."""
    campaign_id, viewers = interactive_campaign(db, ViewerTokens(SECRET), viewers=4)
    renders = dict(zip("ABCD", viewers, strict=True))
    seq: dict[str, int] = {}
    for n, step in enumerate(GOLDEN["steps"]):
        viewer, session_id = renders[step["viewer"]], step["session"]
        at = DAY + timedelta(seconds=n)
        with db.session() as session:
            render = session.get(Render, viewer.render_id)
            if "event" in step:
                seq[session_id] = seq.get(session_id, 0) + 1
                event = dict(step["event"], event_id=f"{session_id}-{n}", session_id=session_id, seq=seq[session_id])
                event["client_ts"] = at.isoformat()
                result = ingest(session, render, [event], sent_at=at, received=at)
                assert result.failed == [] and result.stored == 1, (step, result)
            else:
                answer = AnswerIn(token=viewer.token, event_id=f"answer-{n}", session_id=session_id, **step["answer"])
                [stored] = store_answers(session, [answer_pending(answer, render.id)], received=at)
                assert stored is not None and stored.status == AnswerStatus.STORED, (step, stored)
    return campaign_id, {k: v.render_id for k, v in renders.items()}


def test_golden_numbers(db):
    campaign_id, _ = _load(db)
    with db.session() as session:
        stats = campaign_analytics(session, campaign_id)
    assert stats["interactions"] == GOLDEN["expected"]


def test_a_date_range_counts_what_happened_in_it(db):
    campaign_id, _ = _load(db)
    with db.session() as session:
        before = campaign_analytics(session, campaign_id, end=date(2026, 11, 21))
        on_the_day = campaign_analytics(session, campaign_id, start=date(2026, 11, 22), end=date(2026, 11, 22))
    assert on_the_day["interactions"] == GOLDEN["expected"]
    assert all(i["shown"] == i["answered"] == i["skipped"] == 0 for i in before["interactions"])
    assert [b["chosen"] for b in before["interactions"][5]["branches"]] == [0, 0]


def test_the_player_may_not_count_an_interaction_its_row_is_not_asked(db):
    _campaign_id, viewers = interactive_campaign(db, ViewerTokens(SECRET), viewers=1)
    shown = {"event_id": "x1", "type": "interaction_shown", "interaction_id": "vip_only", "session_id": "s1"}
    with db.session() as session:
        result = ingest(session, session.get(Render, viewers[0].render_id), [shown])
    assert result.stored == 0 and result.failed == [
        (0, "interaction_id 'vip_only' is not an interaction of this video")
    ]


def test_exports_mask_personal_data_for_roles_that_may_not_see_it(db):
    campaign_id, renders = _load(db)
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        forms = ("form", "gate")
        seen = list(iter_responses(session, campaign, see_pii=True, types=forms))
        masked = list(iter_responses(session, campaign, see_pii=False, types=forms))
        everything = list(iter_responses(session, campaign, see_pii=True))
        names = form_field_names(campaign)
        text = "".join(csv_chunks(iter(everything), names))
        lines = "".join(ndjson_chunks(iter(masked))).splitlines()
    assert [r["answer"]["fields"]["email"] for r in seen] == ["ann@example.com", "carl@example.org", "dee@example.net"]
    assert [r["answer"]["fields"]["email"] for r in masked] == [
        "a***@example.com",
        "c***@example.org",
        "d***@example.net",
    ]
    first = masked[0]["answer"]["fields"]
    assert (first["phone"], first["note"], first["seats"], first["size"], first["start"]) == (
        "***58",
        "***",
        12,
        "small",
        "2027-01-15",
    )
    assert [r["pii"] for r in seen] == [True, True, True] and [r["consent"] for r in seen] == [True, True, True]
    assert masked[2]["session_id"] is None and masked[2]["render_id"] == renders["D"]
    assert len(everything) == 21 and everything[0]["customer_id"] == "c1"
    rows = list(csv.DictReader(io.StringIO(text)))
    contact = next(r for r in rows if r["interaction_id"] == "contact")
    assert contact["field.note"] == "<b>call me</b> =1+1" and contact["field.seats"] == "12"
    assert contact["field.phone"] == "'+44 20 7946 0958"  # a spreadsheet would run it as a formula
    assert json.loads(contact["answer"])["fields"]["email"] == "ann@example.com"
    assert [json.loads(line)["answer"]["fields"]["email"][:4] for line in lines] == ["a***", "c***", "d***"]


def test_the_pii_rule():
    assert may_see_pii("admin") and may_see_pii("analyst") and not may_see_pii("marketing")
    assert mask("x@y.z", "email") == "x***@y.z" and mask("", "email") == ""
    assert mask("12", "number") == "12" and mask("555 0100", "phone") == "***00" and mask("hi", "text") == "***"


def test_no_interactions_no_numbers(db):
    campaign_id, _ = interactive_campaign(
        db, ViewerTokens(SECRET), viewers=1, scene={"name": "plain", "video": "t.mp4", "fields": {}}
    )
    with db.session() as session:
        assert campaign_analytics(session, campaign_id)["interactions"] == []
