"""Folding raw interaction events and answers into tallies and deleting them leaves every number
of a campaign unchanged (the golden fixture's campaign), on SQLite and PostgreSQL, and over HTTP
byte for byte."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pvideo.db.models import Event, FailedEvent, Response
from pvideo.db.privacy_tables import InteractionTally
from pvideo.settings import Settings
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.tallies import fold_and_delete
from tests.conftest import API_KEY, SECRET
from tests.tracking.test_interaction_stats import DAY, GOLDEN
from tests.tracking.test_interaction_stats import _load as load_golden

RANGES = [(None, None), (date(2026, 11, 22), date(2026, 11, 22)), (None, date(2026, 11, 21))]


def _numbers(db, campaign_id: str) -> list[dict]:
    with db.session() as session:
        return [campaign_analytics(session, campaign_id, start=s, end=e) for s, e in RANGES]


def _raw(db, campaign_id: str) -> tuple[int, int]:
    with db.session() as session:
        events = session.scalar(select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id))
        answers = session.scalar(select(func.count()).select_from(Response).where(Response.campaign_id == campaign_id))
    return events or 0, answers or 0


def _fold(db, **scope) -> dict[str, int]:
    with db.session() as session:
        removed = fold_and_delete(session, **scope)
        session.commit()
    return removed


def test_fold_everything_keeps_every_number(db):
    campaign_id, _ = load_golden(db)
    with db.session() as session:
        session.add(FailedEvent(campaign_id=campaign_id, reason="bad", payload="{}", received_at=DAY))
        session.commit()
    numbers, (events, answers) = _numbers(db, campaign_id), _raw(db, campaign_id)
    assert events > 0 and answers > 0

    removed = _fold(db, campaign_id=campaign_id, before=DAY + timedelta(days=1))

    assert removed == {"events": events, "responses": answers}
    assert _raw(db, campaign_id) == (0, 0)
    with db.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(FailedEvent).where(FailedEvent.campaign_id == campaign_id))
            == 0
        )
        assert session.scalar(select(func.sum(InteractionTally.count))) > 0
    assert _numbers(db, campaign_id) == numbers
    assert numbers[0]["interactions"] == GOLDEN["expected"]
    # again: nothing left to fold, nothing counted twice
    assert _fold(db, campaign_id=campaign_id, before=DAY + timedelta(days=1)) == {"events": 0, "responses": 0}
    assert _numbers(db, campaign_id) == numbers


def test_nothing_received_after_before_is_touched(db):
    campaign_id, _ = load_golden(db)
    raw = _raw(db, campaign_id)
    assert _fold(db, campaign_id=campaign_id, before=DAY) == {"events": 0, "responses": 0}
    assert _raw(db, campaign_id) == raw


def test_one_viewer_at_a_time_and_small_batches(db):
    campaign_id, renders = load_golden(db)
    numbers = _numbers(db, campaign_id)
    removed = _fold(db, campaign_id=campaign_id, render_ids=[renders["A"]])
    assert removed["events"] + removed["responses"] > 0
    with db.session() as session:
        left = session.scalars(select(Event.render_id).where(Event.campaign_id == campaign_id)).all()
    assert left and renders["A"] not in left
    assert _numbers(db, campaign_id) == numbers
    while sum(_fold(db, campaign_id=campaign_id, before=DAY + timedelta(days=1), limit=1).values()):
        assert _numbers(db, campaign_id) == numbers
    assert _raw(db, campaign_id) == (0, 0)
    assert _numbers(db, campaign_id) == numbers
    assert _fold(db, campaign_id=campaign_id, render_ids=[]) == {"events": 0, "responses": 0}


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path, assets_dir, scenes_dir):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from pvideo.runtime import Runtime

    url = None if request.param == "sqlite" else request.getfixturevalue("own_postgres_url")
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        assets_dir=assets_dir,
        scenes_dir=scenes_dir,
        secret_key=SECRET,
        api_keys=[API_KEY],
        public_base_url="http://testserver",
    )
    runtime = Runtime.from_settings(settings)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client, runtime
    runtime.db.dispose()


def test_the_analytics_api_answers_the_same_bytes(app):
    client, runtime = app
    campaign_id, _ = load_golden(runtime.db)
    urls = [f"/api/campaigns/{campaign_id}/analytics", f"/api/campaigns/{campaign_id}/analytics?start=2026-11-22"]
    before = [client.get(url, headers={"X-API-Key": API_KEY}) for url in urls]
    assert all(r.status_code == 200 for r in before)
    _fold(runtime.db, campaign_id=campaign_id, before=datetime(2027, 1, 1, tzinfo=UTC))
    assert _raw(runtime.db, campaign_id) == (0, 0)
    after = [client.get(url, headers={"X-API-Key": API_KEY}) for url in urls]
    assert [r.content for r in after] == [r.content for r in before]
