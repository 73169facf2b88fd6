"""The database layer on SQLite and on the real PostgreSQL: campaigns, renders, events, analytics."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Campaign, Event, Render
from pvideo.errors import DataError
from pvideo.jobs import claims
from pvideo.jobs.campaigns import CampaignRequest, status_counts, submit
from pvideo.scene.customers import CustomerRow
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.groupcommit import EventWriter, Pending
from tests.conftest import SECRET
from tests.viewers import BUY


def test_submit_stores_one_render_per_row(db, card_spec, settings):
    rows = [
        CustomerRow(1, {"customer_id": "a", "first_name": "Ana", "price": "1.5"}),
        CustomerRow(2, {"customer_id": "b", "price": "x"}),
    ]
    with db.session() as session:
        submission = submit(
            session,
            CampaignRequest(card_spec, rows, source="people.csv"),
            settings=settings,
            tokens=ViewerTokens(SECRET),
        )
        campaign_id = submission.campaign.id
    with db.session() as session:
        renders = session.scalars(
            select(Render).where(Render.campaign_id == campaign_id).order_by(Render.row_number)
        ).all()
        assert [(r.customer_id, r.status) for r in renders] == [("a", "queued"), ("b", "failed")]
        assert renders[0].data == {"customer_id": "a", "first_name": "Ana", "price": 1.5, "plan": "Basic"}
        assert renders[1].error == "people.csv, row 2, field 'first_name': missing required field"
        assert ViewerTokens(SECRET).verify(renders[0].viewer_token) == renders[0].id
        assert status_counts(session, campaign_id) == {
            "queued": 1,
            "rendering": 0,
            "done": 0,
            "failed": 1,
            "cancelled": 0,
        }


def test_a_submission_that_fails_midway_leaves_nothing_behind(db, card_spec, settings):
    """The campaign row and its renders commit together (SQLite included: no savepoint that
    pysqlite would commit on release)."""
    key, tag = f"k-{uuid.uuid4().hex}", uuid.uuid4().hex[:8]

    def rows():
        for n in range(1, 2502):  # past one insert batch
            yield CustomerRow(n, {"customer_id": f"{tag}-{n}", "first_name": "Ana", "price": "1"})
        raise DataError("the upload was cut off", row=2502, source="people.csv")

    with pytest.raises(DataError, match="cut off"), db.session() as session:
        submit(
            session,
            CampaignRequest(card_spec, rows(), idempotency_key=key),
            settings=settings,
            tokens=ViewerTokens(SECRET),
        )
    with db.session() as session:
        assert session.scalar(select(func.count()).where(Campaign.idempotency_key == key)) == 0
        assert session.scalar(select(func.count()).where(Render.customer_id.startswith(tag))) == 0
        retried = submit(
            session,
            CampaignRequest(
                card_spec, [CustomerRow(1, {"customer_id": "a", "first_name": "A", "price": "1"})], idempotency_key=key
            ),
            settings=settings,
            tokens=ViewerTokens(SECRET),
        )
        assert not retried.replayed and retried.campaign.total == 1  # the key was not taken by the failed one


def test_concurrent_submissions_with_one_idempotency_key_make_one_campaign(db, card_spec, settings):
    """The second waits on the first's key, then answers with the first's campaign."""
    key, row = f"k-{uuid.uuid4().hex}", [CustomerRow(1, {"customer_id": "a", "first_name": "Ana", "price": "1"})]
    first_inserted, answers = threading.Event(), {}

    def submit_as(who: str) -> None:
        with db.session() as session:
            sub = submit(
                session,
                CampaignRequest(card_spec, row, idempotency_key=key),
                settings=settings,
                tokens=ViewerTokens(SECRET),
            )
            answers[who] = (sub.campaign.id, sub.replayed)
            if who == "first":
                first_inserted.set()
                second.join(0.5)  # the second now waits on the key (PostgreSQL) or the write lock (SQLite)

    second = threading.Thread(target=lambda: first_inserted.wait(10) and submit_as("second"))
    second.start()
    submit_as("first")
    second.join(30)
    assert answers["second"] == (answers["first"][0], True) and answers["first"][1] is False
    with db.session() as session:
        campaigns = session.scalars(select(Campaign.id).where(Campaign.idempotency_key == key)).all()
        assert campaigns == [answers["first"][0]]
        assert session.scalar(select(func.count()).where(Render.campaign_id == campaigns[0])) == 1


def test_events_dedupe_on_event_id_and_count_in_analytics(db, card_spec, settings):
    rows = [
        CustomerRow(1, {"customer_id": "a", "first_name": "A", "price": 1}),
        CustomerRow(2, {"customer_id": "b", "first_name": "B", "price": 1}),
    ]
    with db.session() as session:
        campaign_id = submit(
            session, CampaignRequest(card_spec, rows), settings=settings, tokens=ViewerTokens(SECRET)
        ).campaign.id
    with db.session() as session:
        a, b = session.scalars(
            select(Render).where(Render.campaign_id == campaign_id).order_by(Render.row_number)
        ).all()
    for render in (a, b):  # rendered: events are checked against the video's length and CTAs
        assert isinstance(claims.claim(db, render.id, lease_seconds=60), claims.Job)
        assert claims.finish(db, render.id, duration=4.0, hotspots=[BUY])
    writer = EventWriter(db)  # what POST /api/events stores through: one transaction per call here

    def store(render: Render, events: list[dict]) -> tuple[int, int]:
        (result,) = writer.store([Pending(render.viewer_token, render.id, events)])
        assert result is not None and not result.failed
        return result.stored, result.duplicates

    events = [
        {"event_id": "1", "type": "page_view"},
        {"event_id": "2", "type": "play", "position": 0},
        {"event_id": "3", "type": "cta_click", "position": 3, "cta_id": "buy"},
        {"event_id": "3", "type": "cta_click", "position": 3, "cta_id": "buy"},
    ]
    assert store(a, events) == (3, 1)
    assert store(a, events[:2]) == (0, 2)  # a retried batch in a new transaction: all duplicates
    watched = [{"event_id": "1", "type": "page_view"}, {"event_id": "9", "type": "ended", "position": 4}]
    assert store(b, watched) == (2, 0)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id)) == 5
        stats = campaign_analytics(session, campaign_id)
    assert stats["landing_views"] == 2 and stats["viewers"] == 2
    assert stats["plays"] == 1 and stats["completions"] == 1
    assert stats["cta_clicks"] == {"buy": {"clicks": 1, "clickers": 1}}
