"""The group commit keeps its PostgreSQL connection between groups (no pool checkout and liveness
ping per transaction), gives it back after a failed transaction, and stores the same either way."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Event
from pvideo.tracking import groupcommit
from pvideo.tracking.groupcommit import EventWriter, Pending
from tests.viewers import done_campaign

SECRET = "s" * 40


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_the_writer_keeps_its_connection_between_groups(db, monkeypatch):
    campaign_id, (ana, bo) = done_campaign(db, ViewerTokens(SECRET))
    writer = EventWriter(db)
    checkouts: list[int] = []
    sa_event.listen(db.engine.pool, "checkout", lambda *args: checkouts.append(1))

    def batch(viewer, name: str, **extra) -> Pending:
        return Pending(viewer.token, viewer.render_id, [{"event_id": name, "type": "page_view", **extra}])

    for n in range(5):
        (result,) = writer.store([batch(ana if n % 2 else bo, f"e{n}")])
        assert result is not None and result.stored == 1
    assert len(checkouts) == 1 and len(writer._idle) == 1
    with pytest.raises(Exception, match="surrogate|UTF|utf|encode"):  # the database refuses the text
        writer.store([batch(ana, "bad", detail="x\ud800y")])
    assert writer._idle == []  # back to the pool, rolled back
    (result,) = writer.store([batch(ana, "after")])
    assert result is not None and result.stored == 1 and len(checkouts) == 2
    monkeypatch.setattr(groupcommit, "HOLD_SECONDS", 0.0)
    writer.store([batch(bo, "recycled")])
    assert writer._idle == []  # held past HOLD_SECONDS: returned, the next group checks out a fresh one
    writer.close()
    with db.session() as session:
        stored = session.scalars(select(Event.event_id).where(Event.campaign_id == campaign_id)).all()
        assert sorted(stored) == sorted([f"e{n}" for n in range(5)] + ["after", "recycled"])
        assert session.scalar(select(func.count()).select_from(Event).where(Event.event_id == "bad")) == 0
