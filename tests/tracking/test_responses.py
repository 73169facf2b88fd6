"""Answers stored through the real store step, on SQLite and PostgreSQL: deduplicated, one per
session and interaction even under concurrency, counted as events, and published to the
campaign's webhook subscriptions in the same transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Event, Render, Response, WatchSession, WebhookDelivery, WebhookSubscription
from pvideo.tracking.events import ingest
from pvideo.tracking.responses import Answered, AnswerIn, AnswerStatus, answer_pending, store_answers
from pvideo.tracking.writeback import completed_event_id
from tests.conftest import SECRET
from tests.tracking.answering import answer, interactive_campaign
from tests.viewers import event

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def store(db, render_id: str, *bodies: dict) -> list[Answered | None]:
    with db.session() as session:
        items = [answer_pending(AnswerIn.model_validate(body), render_id) for body in bodies]
        return store_answers(session, items, received=AT)


def subscribe(db, campaign_id: str, events: list[str]) -> None:
    with db.session() as session:
        session.add(
            WebhookSubscription(campaign_id=campaign_id, url="http://127.0.0.1:9/hook", events=events, secret="whsec_x")
        )


def deliveries(db, campaign_id: str) -> list[WebhookDelivery]:
    with db.session() as session:
        query = select(WebhookDelivery).where(WebhookDelivery.campaign_id == campaign_id)
        rows = list(session.scalars(query.order_by(WebhookDelivery.created_at, WebhookDelivery.id)))
        session.expunge_all()
        return rows


@pytest.fixture()
def campaign(db):
    return interactive_campaign(db, ViewerTokens(SECRET), viewers=2)


def test_an_answer_is_stored_with_its_render_session_and_time_then_counted(db, campaign):
    _, (ann, _) = campaign
    [result] = store(db, ann.render_id, answer(ann.token, "path", {"section": "savings"}, event_id="e-1"))
    assert result is not None and result.status == AnswerStatus.STORED and result.response_id
    with db.session() as session:
        row = session.get(Response, result.response_id)
        assert (row.render_id, row.session_id, row.event_id, row.interaction_id, row.interaction_type) == (
            ann.render_id,
            "s1",
            "e-1",
            "path",
            "choice",
        )
        assert row.answer == {"section": "savings"} and row.pii is False and row.consent is None
        assert row.position == 2.0 and row.client_ts.replace(tzinfo=UTC) == datetime(2026, 11, 22, 10, tzinfo=UTC)
        counted = session.execute(
            select(Event.type, Event.event_id, Event.interaction_id, Event.detail, Event.session_id)
            .where(Event.render_id == ann.render_id)
            .order_by(Event.type)
        ).all()
        assert counted == [
            ("branch_chosen", f"chosen-{row.id}", "path", "savings", "s1"),
            ("interaction_answered", f"answered-{row.id}", "path", None, "s1"),
        ]
        sessions = select(func.count()).select_from(WatchSession).where(WatchSession.render_id == ann.render_id)
        assert session.scalar(sessions) == 0  # not folded into rollups


def test_repeats_are_duplicates_and_a_second_answer_in_a_session_a_conflict(db, campaign):
    campaign_id, (ann, _) = campaign
    first = answer(ann.token, "recommend", {"score": 9}, event_id="e-1")
    [stored] = store(db, ann.render_id, first)
    [again] = store(db, ann.render_id, dict(first, answer={"score": 1}))  # same event id: the first stands
    [other] = store(db, ann.render_id, answer(ann.token, "recommend", {"score": 2}, event_id="e-2"))
    [elsewhere] = store(db, ann.render_id, answer(ann.token, "recommend", {"score": 3}, session_id="s2"))
    [no_js] = store(db, ann.render_id, answer(ann.token, "recommend", {"score": 4}, session_id=None))
    [no_js_again] = store(db, ann.render_id, answer(ann.token, "recommend", {"score": 5}, session_id=None))
    assert stored.status == AnswerStatus.STORED and again.status == AnswerStatus.DUPLICATE
    assert other.status == AnswerStatus.CONFLICT
    assert other.detail == "interaction_id: 'recommend' was already answered in this session"
    assert elsewhere.status == no_js.status == AnswerStatus.STORED and no_js_again.status == AnswerStatus.CONFLICT
    with db.session() as session:
        mine = Response.campaign_id == campaign_id
        scores = session.execute(select(Response.session_id, Response.answer).where(mine).order_by(Response.id)).all()
        assert scores == [("s1", {"score": 9}), ("s2", {"score": 3}), ("", {"score": 4})]
        assert session.scalar(select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id)) == 3


def test_one_group_decides_its_own_repeats(db, campaign):
    _, (ann, bo) = campaign
    a = answer(ann.token, "stars", {"stars": 4}, event_id="same")
    results = store(
        db,
        ann.render_id,
        a,
        a,
        answer(ann.token, "stars", {"stars": 1}),
        answer(ann.token, "topic", {"choices": ["nope"]}),
        answer(bo.token, "stars", {"stars": 2}),  # another render's token for this render: not opened
    )
    assert [r.status if r else None for r in results] == [
        AnswerStatus.STORED,
        AnswerStatus.DUPLICATE,
        AnswerStatus.CONFLICT,
        AnswerStatus.REFUSED,
        None,
    ]
    assert results[3].detail == "answer.choices: 'nope' is not a choice (price, service)"


def test_answers_to_what_the_row_was_not_asked_are_refused(db, campaign):
    campaign_id, (ann, _) = campaign
    [vip] = store(db, ann.render_id, answer(ann.token, "vip_only", {"choices": ["yes"]}))
    [unknown] = store(db, ann.render_id, answer(ann.token, "zzz", {}))
    [late] = store(db, ann.render_id, dict(answer(ann.token, "stars", {"stars": 3}), position=90.0))
    assert vip.detail == "interaction_id: 'vip_only' is not an interaction of this video"
    assert unknown.detail == "interaction_id: 'zzz' is not an interaction of this video"
    assert late.detail == "position: 90 is beyond the video's end (40 s)"
    with db.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Response).where(Response.campaign_id == campaign_id)) == 0
        )


def test_concurrent_answers_to_one_interaction_in_one_session_store_one(db, campaign):
    campaign_id, (ann, _) = campaign
    barrier = threading.Barrier(6)
    outcomes: list[object] = []

    def one(n: int) -> None:
        barrier.wait()
        try:
            [result] = store(db, ann.render_id, answer(ann.token, "recommend", {"score": n}, event_id=f"e-{n % 3}"))
            outcomes.append(result.status)
        except Exception as exc:  # the failure this test is for
            outcomes.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(AnswerStatus.STORED) == 1, outcomes
    assert all(o in (AnswerStatus.STORED, AnswerStatus.DUPLICATE, AnswerStatus.CONFLICT) for o in outcomes), outcomes
    with db.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Response).where(Response.campaign_id == campaign_id)) == 1
        )


def test_stored_answers_are_published_to_the_subscribed_events_only(db, campaign):
    campaign_id, (ann, _) = campaign
    subscribe(db, campaign_id, ["form_submitted", "branch_chosen", "cta_clicked"])
    form = answer(
        ann.token,
        "contact",
        {"fields": {"email": "ann@example.com", "note": "<b>hi</b>"}, "consent": True},
        event_id="form-1",
    )
    results = store(
        db,
        ann.render_id,
        form,
        answer(ann.token, "recommend", {"score": 9}),  # poll_answered: not subscribed
        answer(ann.token, "path", {"section": "billing"}, event_id="path-1"),
        answer(ann.token, "meet", {"opened": True}, event_id="meet-1"),
    )
    assert all(r.status == AnswerStatus.STORED for r in results)
    store(db, ann.render_id, form)  # a duplicate publishes nothing again
    sent = {d.event_id: d for d in deliveries(db, campaign_id)}
    assert sorted(sent) == ["form-1", "meet-1", "path-1"]
    assert [sent[k].event_type for k in ("form-1", "path-1", "meet-1")] == [
        "form_submitted",
        "branch_chosen",
        "cta_clicked",
    ]
    data = sent["form-1"].payload["data"]
    assert data == {
        "campaign_id": campaign_id,
        "render_id": ann.render_id,
        "customer_id": "c1",
        "session_id": "s1",
        "interaction_id": "contact",
        "interaction_type": "form",
        "answer": {"fields": {"email": "ann@example.com", "note": "<b>hi</b>"}, "consent": True},
        "position": 2.0,
        "occurred_at": "2026-11-22T10:00:00Z",
        "event_id": "form-1",
        "consent": {"given": True, "text": "You may email me about my plan."},
    }
    assert sent["path-1"].payload["data"]["answer"] == {"section": "billing"}
    assert sent["meet-1"].payload["data"]["href"] == "https://cal.example/c1"
    assert all(d.status == "pending" for d in sent.values())


def test_viewer_events_are_published_clicks_skips_and_one_completion_per_session(db, campaign):
    campaign_id, (ann, bo) = campaign
    with db.session() as session:
        render = session.get(Render, ann.render_id)
        ingest(session, render, [event("end", 40, seq=1)])  # before any subscription: nothing
    subscribe(db, campaign_id, ["cta_clicked", "video_completed", "interaction_skipped"])
    skip = dict(event("interaction_skipped", 3, seq=4), interaction_id="topic", detail="escape", event_id="skip-1")
    with db.session() as session:
        render = session.get(Render, ann.render_id)
        result = ingest(
            session,
            render,
            [
                event("cta_click", 3, seq=2, cta="buy", event_id="click-1"),
                event("end", 40, seq=3),
                skip,
                event("end", 40, seq=5),  # watched again: still one completion
                event("ping", 10, seq=6),
            ],
        )
        assert result.stored == 5
        ingest(session, session.get(Render, bo.render_id), [event("end", 40, seq=1, session_id="b1")])
    sent = deliveries(db, campaign_id)
    assert sorted((d.event_type, d.event_id) for d in sent) == sorted(
        [
            ("cta_clicked", "click-1"),
            ("interaction_skipped", "skip-1"),
            ("video_completed", completed_event_id(ann.render_id, "s1")),
            ("video_completed", completed_event_id(bo.render_id, "b1")),
        ]
    )
    by_type = {d.event_type: d.payload["data"] for d in sent}
    assert by_type["cta_clicked"]["cta_id"] == "buy" and by_type["cta_clicked"]["customer_id"] == "c1"
    skipped = by_type["interaction_skipped"]
    assert (skipped["interaction_id"], skipped["interaction_type"], skipped["reason"]) == ("topic", "poll", "escape")


def test_without_subscriptions_nothing_is_published(db, campaign):
    campaign_id, (ann, _) = campaign
    store(db, ann.render_id, answer(ann.token, "recommend", {"score": 9}))
    with db.session() as session:
        ingest(session, session.get(Render, ann.render_id), [event("end", 40, seq=1), event("cta_click", 3, cta="buy")])
    assert deliveries(db, campaign_id) == []
