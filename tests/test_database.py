"""The database layer on SQLite and on the real PostgreSQL: campaigns, renders, events, analytics."""

from __future__ import annotations

from sqlalchemy import func, select

from pvideo.analytics import campaign_analytics
from pvideo.campaigns import status_counts, submit_campaign
from pvideo.customers import CustomerRow
from pvideo.models import Event, Render
from pvideo.tokens import ViewerTokens
from pvideo.tracking import EventIn, record_events
from tests.conftest import SECRET


def test_submit_stores_one_render_per_row(db, card_spec, settings):
    rows = [CustomerRow(1, {"customer_id": "a", "first_name": "Ana", "price": "1.5"}),
            CustomerRow(2, {"customer_id": "b", "price": "x"})]
    with db.session() as session:
        submission = submit_campaign(session, card_spec, rows, assets_dir=settings.assets_dir,
                                     tokens=ViewerTokens(SECRET), source="people.csv")
        campaign_id = submission.campaign.id
    with db.session() as session:
        renders = session.scalars(select(Render).where(Render.campaign_id == campaign_id)
                                  .order_by(Render.row_number)).all()
        assert [(r.customer_id, r.status) for r in renders] == [("a", "queued"), ("b", "failed")]
        assert renders[0].data == {"customer_id": "a", "first_name": "Ana", "price": 1.5, "plan": "Basic"}
        assert "people.csv, row 2, field 'first_name': missing required field" == renders[1].error
        assert ViewerTokens(SECRET).verify(renders[0].viewer_token) == renders[0].id
        assert status_counts(session, campaign_id) == {"queued": 1, "rendering": 0, "done": 0, "failed": 1, "cancelled": 0}


def test_events_dedupe_on_event_id_and_count_in_analytics(db, card_spec, settings):
    rows = [CustomerRow(1, {"customer_id": "a", "first_name": "A", "price": 1}),
            CustomerRow(2, {"customer_id": "b", "first_name": "B", "price": 1})]
    with db.session() as session:
        campaign_id = submit_campaign(session, card_spec, rows, assets_dir=settings.assets_dir,
                                      tokens=ViewerTokens(SECRET)).campaign.id
    with db.session() as session:
        a, b = session.scalars(select(Render).where(Render.campaign_id == campaign_id)
                               .order_by(Render.row_number)).all()
        events = [EventIn(event_id="1", type="page_view"), EventIn(event_id="2", type="play", position=0),
                  EventIn(event_id="3", type="cta_click", position=3, cta_id="buy"),
                  EventIn(event_id="3", type="cta_click", position=3, cta_id="buy")]
        assert record_events(session, a, events) == (3, 1)
    with db.session() as session:  # a retried batch in a new transaction: all duplicates
        assert record_events(session, a, events[:2]) == (0, 2)
        assert record_events(session, b, [EventIn(event_id="1", type="page_view"),
                                          EventIn(event_id="9", type="ended", position=4)]) == (2, 0)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)
                              .where(Event.campaign_id == campaign_id)) == 5
        stats = campaign_analytics(session, campaign_id)
    assert stats["landing_views"] == 2 and stats["viewers"] == 2
    assert stats["plays"] == 1 and stats["completions"] == 1
    assert stats["cta_clicks"] == {"buy": {"clicks": 1, "clickers": 1}}
