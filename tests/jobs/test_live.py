"""A campaign followed live: each failure is sent once, in the order rows failed, across cursors,
even when many rows failed at the same instant (rows refused at submission share one)."""

from __future__ import annotations

from datetime import timedelta

from pvideo.db.models import Campaign, Render, RenderStatus, new_id, utcnow
from pvideo.jobs.live import eta_text, failures_after, live_update, make_cursor, parse_cursor


def _campaign(db) -> str:
    now = utcnow()
    finished = {1: now, 2: now, 3: now - timedelta(seconds=5), 4: None, 5: now + timedelta(microseconds=1)}
    with db.session() as session:
        campaign = Campaign(id=new_id(), name="Live", scene_name="card", scene={})
        session.add(campaign)
        session.flush()
        for row, at in finished.items():
            status = RenderStatus.QUEUED if at is None else RenderStatus.FAILED
            session.add(
                Render(
                    campaign_id=campaign.id,
                    row_number=row,
                    customer_id=f"c{row}",
                    status=status,
                    error=f"bad {row}" if at else None,
                    finished_at=at,
                )
            )
        return campaign.id


def test_failures_page_through_cursors_once_each_in_failure_order(db):
    campaign_id = _campaign(db)
    seen, cursor = [], None
    with db.session() as session:
        while page := failures_after(session, campaign_id, cursor, limit=1):
            seen.append(page[0].row)
            cursor = page[0].cursor
        assert seen == [3, 1, 2, 5]  # the oldest first; ties by row
        assert failures_after(session, campaign_id, None, limit=10)[-1].cursor == cursor


def test_a_live_update_counts_and_carries_the_new_failures(db):
    campaign_id = _campaign(db)
    with db.session() as session:
        first = live_update(session, campaign_id, None)
        assert first.progress.counts["failed"] == 4 and first.progress.counts["queued"] == 1
        assert not first.complete and first.percent == 80 and first.eta == "unknown"
        assert [f["row"] for f in first.to_json()["failures"]] == [3, 1, 2, 5]
        again = live_update(session, campaign_id, first.cursor)
        assert again.failures == [] and again.cursor == first.cursor


def test_cursors_and_eta_text():
    at = utcnow()
    assert parse_cursor(make_cursor(at, 7)) == (at, 7)
    for garbage in (None, "", "x.1", "1", "1.-2", "9" * 30 + ".1", "1.2.3"):
        assert parse_cursor(garbage) is None, garbage
    assert [eta_text(s) for s in (None, 0, 44.6, 200, 7500)] == ["unknown", "done", "45 s", "3 min 20 s", "2 h 5 min"]
