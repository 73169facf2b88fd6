"""Campaign webhook deliveries against a real local receiver, on SQLite and PostgreSQL.

A ``Deliverer`` (the loop every worker and API process runs) sends what ``publish`` stored;
every delivery is checked with the ``standardwebhooks`` package, and every outcome is read back
from the delivery rows.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy import delete, func, select

from pvideo.db.models import Campaign, Render, WebhookDelivery
from pvideo.errors import DataError, NotFound
from pvideo.jobs import deliveries, delivery_log, hubspot, subscriptions
from pvideo.jobs.deliveries import WEBHOOK_EVENTS, Outgoing, RetryPolicy
from pvideo.jobs.signed_post import Attempt
from pvideo.jobs.subscriptions import SubscriptionCreate
from pvideo.runtime import Runtime
from pvideo.storage import storage_from_settings
from tests.webhook_receiver import wait_until
from workers.deliverer import Deliverer

FORM_GUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture()
def hooks_settings(settings):
    return settings.model_copy(
        update={
            "webhook_allow_private": True,  # the receiver listens on 127.0.0.1
            "webhook_poll_seconds": 0.05,
            "webhook_backoff_seconds": 0.02,
            "webhook_backoff_max_seconds": 0.1,
            "webhook_max_attempts": 3,
            "webhook_timeout": 5.0,
        }
    )


@pytest.fixture(autouse=True)
def no_deliveries_of_other_tests(db):
    """PostgreSQL's test schema lives for the whole run: a deliverer claims every campaign's rows."""
    with db.session() as session:
        session.execute(delete(WebhookDelivery))


@pytest.fixture()
def runtime_on(db, hooks_settings):
    return Runtime(settings=hooks_settings, db=db, storage=storage_from_settings(hooks_settings))


@pytest.fixture()
def deliverer(runtime_on):
    d = Deliverer(lambda: runtime_on)
    d.start()
    yield d
    d.stop()


def make_campaign(db, name: str = "Spring check-in") -> tuple[str, str]:
    """A campaign with one render (for its landing page link); their ids."""
    with db.session() as session:
        campaign = Campaign(name=name, scene_name="checkin", scene={})
        session.add(campaign)
        session.flush()
        render = Render(campaign_id=campaign.id, row_number=1, customer_id="c-1", viewer_token=f"tok-{uuid4().hex}")
        session.add(render)
        session.flush()
        return campaign.id, render.id


def subscribe(db, settings, campaign_id: str, **spec) -> tuple[str, str]:
    with db.session() as session:
        row, secret = subscriptions.create(
            session, campaign_id, SubscriptionCreate(**spec), settings=settings, created_by="tests"
        )
        return row.id, secret


def publish(db, campaign_id: str, event_type: str, event_id: str, **data) -> int:
    with db.session() as session:
        return deliveries.publish(session, campaign_id=campaign_id, event_type=event_type, event_id=event_id, data=data)


def rows(db, **where) -> list[WebhookDelivery]:
    with db.session() as session:
        query = select(WebhookDelivery).filter_by(**where).order_by(WebhookDelivery.event_id)
        return list(session.scalars(query))


def statuses(db, campaign_id: str) -> dict[str, str]:
    return {d.event_id: d.status for d in rows(db, campaign_id=campaign_id)}


def test_publish_adds_one_delivery_per_subscription_that_asked_once_per_event_id(db, hooks_settings):
    campaign_id, render_id = make_campaign(db)
    other_id, _ = make_campaign(db, "Other")
    forms, _ = subscribe(db, hooks_settings, campaign_id, url="https://crm.example/hook", events=["form_submitted"])
    subscribe(db, hooks_settings, campaign_id, url="https://bi.example/hook", events=["form_submitted", "cta_clicked"])
    paused, _ = subscribe(db, hooks_settings, campaign_id, url="https://off.example/hook", events=list(WEBHOOK_EVENTS))
    with db.session() as session:
        subscriptions.update(
            session, campaign_id, paused, subscriptions.SubscriptionUpdate(active=False), settings=hooks_settings
        )

    assert publish(db, campaign_id, "form_submitted", "e1", render_id=render_id, answer={"email": "a@b.example"}) == 2
    assert publish(db, campaign_id, "form_submitted", "e1", render_id=render_id) == 0  # a replayed answer
    assert publish(db, campaign_id, "cta_clicked", "e2", render_id=render_id) == 1
    assert publish(db, campaign_id, "poll_answered", "e3", render_id=render_id) == 0  # nobody asked
    assert publish(db, other_id, "form_submitted", "e1") == 0  # a campaign without subscriptions
    with pytest.raises(DataError, match="event_type"):
        publish(db, campaign_id, "form_sent", "e4")

    stored = rows(db, campaign_id=campaign_id)
    assert sorted((d.event_id, d.event_type) for d in stored) == [
        ("e1", "form_submitted"),
        ("e1", "form_submitted"),
        ("e2", "cta_clicked"),
    ]
    assert all(d.status == "pending" and d.attempts == 0 and d.id.startswith("msg_") for d in stored)
    first = next(d for d in stored if d.subscription_id == forms)
    assert first.payload["type"] == "form_submitted"
    assert first.payload["data"] == {"render_id": render_id, "answer": {"email": "a@b.example"}, "event_id": "e1"}
    assert datetime.fromisoformat(first.payload["timestamp"].replace("Z", "+00:00")).tzinfo is not None


def test_publish_rolls_back_with_the_callers_transaction(db, hooks_settings):
    campaign_id, _ = make_campaign(db)
    subscribe(db, hooks_settings, campaign_id, url="https://crm.example/hook", events=["poll_answered"])
    with pytest.raises(RuntimeError), db.session() as session:
        deliveries.publish(session, campaign_id=campaign_id, event_type="poll_answered", event_id="e1", data={})
        raise RuntimeError("the answer could not be stored")
    assert rows(db, campaign_id=campaign_id) == []
    assert publish(db, campaign_id, "poll_answered", "e1") == 1  # the retried answer goes out after all


def test_deliveries_are_signed_per_standard_webhooks(db, hooks_settings, receiver, deliverer):
    campaign_id, render_id = make_campaign(db)
    sub_id, secret = subscribe(
        db, hooks_settings, campaign_id, url=receiver.url("/hooks?src=pvideo"), events=list(WEBHOOK_EVENTS)
    )
    for n, event_type in enumerate(("poll_answered", "branch_chosen", "form_submitted")):
        publish(db, campaign_id, event_type, f"e{n}", render_id=render_id, answer={"n": n, "text": "<b>é</b>"})
        deliveries.wake()

    receiver.wait_for(lambda r: len(r.delivered) == 3, "three deliveries")
    stored = {d.id: d for d in rows(db, campaign_id=campaign_id)}
    for got in receiver.requests:
        body = got.verified(secret)  # raises unless the signature is right
        assert got.path == "/hooks?src=pvideo" and got.headers["content-type"] == "application/json"
        assert got.webhook_id in stored and body == stored[got.webhook_id].payload
        assert set(body) == {"type", "timestamp", "data"} and body["data"]["answer"]["text"] == "<b>é</b>"
        with pytest.raises(Exception, match="signature"):
            got.verified(subscriptions.generate_secret())
    wait_until(lambda: set(statuses(db, campaign_id).values()) == {"delivered"}, "delivered rows")
    for d in stored.values():
        (done,) = rows(db, id=d.id)
        assert (done.attempts, done.last_status_code, done.last_error) == (1, 204, None)
        assert done.last_latency_ms is not None and done.delivered_at is not None and done.claimed_by is None
        assert [a["status"] for a in done.attempt_log] == [204]
    with db.session() as session:  # the log: newest first, a page at a time
        first = delivery_log.delivery_log(session, sub_id, limit=2)
        rest = delivery_log.delivery_log(session, sub_id, limit=2, cursor=first.next_cursor)
    assert [d.event_id for d in first.deliveries + rest.deliveries] == ["e2", "e1", "e0"]
    assert rest.next_cursor is None


@pytest.mark.parametrize("answer", [500, 410])
def test_an_error_answer_is_retried_with_backoff_then_failed(db, hooks_settings, receiver, deliverer, answer):
    campaign_id, _ = make_campaign(db)
    receiver.answers["/down"] = answer
    sub_id, secret = subscribe(db, hooks_settings, campaign_id, url=receiver.url("/down"), events=["cta_clicked"])
    publish(db, campaign_id, "cta_clicked", "click-1", cta_id="buy")
    deliveries.wake()

    wait_until(lambda: statuses(db, campaign_id) == {"click-1": "failed"}, "the delivery to fail")
    (failed,) = rows(db, campaign_id=campaign_id)
    assert failed.attempts == hooks_settings.webhook_max_attempts == 3
    assert failed.last_status_code == answer and failed.last_error.startswith(f"answered {answer}")
    assert [a["status"] for a in failed.attempt_log] == [answer] * 3
    sent = receiver.to("/down")
    assert len(sent) == 3 and {r.webhook_id for r in sent} == {failed.id}  # one id on every retry
    assert all(r.verified(secret)["data"]["cta_id"] == "buy" for r in sent)
    with db.session() as session:
        log = delivery_log.delivery_log(session, sub_id, status=deliveries.DeliveryStatus.FAILED)
        assert [d.id for d in log.deliveries] == [failed.id]


def test_a_receiver_down_then_back_gets_each_event_once(db, hooks_settings, receiver, deliverer):
    campaign_id, _ = make_campaign(db)
    deliverer.runtime().settings.webhook_max_attempts = 100  # retried for as long as the outage lasts
    subscribe(db, hooks_settings, campaign_id, url=receiver.url(), events=["poll_answered"])
    receiver.stop()  # connections refused from now on
    for n in range(3):
        publish(db, campaign_id, "poll_answered", f"answer-{n}", answer=n)
    deliveries.wake()
    wait_until(lambda: all(d.attempts >= 2 for d in rows(db, campaign_id=campaign_id)), "failed attempts")
    assert set(statuses(db, campaign_id).values()) == {"pending"}
    assert all(d.last_status_code is None and d.last_error for d in rows(db, campaign_id=campaign_id))

    receiver.start()  # the same port
    wait_until(lambda: set(statuses(db, campaign_id).values()) == {"delivered"}, "all delivered after the outage")
    stored = rows(db, campaign_id=campaign_id)
    assert receiver.delivered == {d.id: 1 for d in stored}
    assert sorted(r.json()["data"]["event_id"] for r in receiver.requests) == ["answer-0", "answer-1", "answer-2"]


def test_a_slow_receiver_holds_one_thread_not_the_others(db, hooks_settings, receiver, deliverer):
    campaign_id, _ = make_campaign(db)
    subscribe(db, hooks_settings, campaign_id, url=receiver.url("/slow"), events=["form_submitted"])
    subscribe(db, hooks_settings, campaign_id, url=receiver.url("/fast"), events=["form_submitted"])
    receiver.hold("/slow")
    publish(db, campaign_id, "form_submitted", "f1")
    deliveries.wake()
    receiver.wait_for(lambda r: r.to("/slow") and r.to("/fast") and r.to("/fast")[0].answered, "both POSTs")
    # while the slow receiver still holds its request, more answers are stored and delivered
    assert publish(db, campaign_id, "form_submitted", "f2") == 2
    deliveries.wake()
    receiver.wait_for(lambda r: len([x for x in r.to("/fast") if x.answered]) == 2, "the second fast delivery")
    assert receiver.to("/slow")[0].answered is None
    receiver.release()
    wait_until(lambda: set(statuses(db, campaign_id).values()) == {"delivered"}, "everything delivered")


def test_replay_sends_again_with_the_same_id_and_a_new_budget(db, hooks_settings, receiver, deliverer):
    campaign_id, _ = make_campaign(db)
    receiver.answers["/hooks"] = 500
    _, secret = subscribe(db, hooks_settings, campaign_id, url=receiver.url(), events=["video_completed"])
    publish(db, campaign_id, "video_completed", "end-1", percent=100)
    deliveries.wake()
    wait_until(lambda: statuses(db, campaign_id) == {"end-1": "failed"}, "the delivery to fail")

    receiver.answers["/hooks"] = 200
    (failed,) = rows(db, campaign_id=campaign_id)
    with db.session() as session:
        again = delivery_log.replay(session, campaign_id, failed.id)
        assert again.status == "pending" and again.attempts == 3 and again.attempts_at_replay == 3
    wait_until(lambda: statuses(db, campaign_id) == {"end-1": "delivered"}, "the replay to be delivered")
    (done,) = rows(db, campaign_id=campaign_id)
    assert done.attempts == 4 and [a["status"] for a in done.attempt_log] == [500, 500, 500, 200]
    assert receiver.delivered == {failed.id: 1} and receiver.requests[-1].verified(secret)["data"]["percent"] == 100

    with db.session() as session:  # a delivered one may be replayed too; the receiver sees the same id
        delivery_log.replay(session, campaign_id, failed.id)
    receiver.wait_for(lambda r: r.delivered == {failed.id: 2}, "the second replay")
    with db.session() as session, pytest.raises(NotFound):
        other_campaign, _ = make_campaign(db, "Other")
        delivery_log.replay(session, other_campaign, failed.id)


def test_two_processes_never_claim_one_delivery(db, hooks_settings):
    campaign_id, _ = make_campaign(db)
    subscribe(db, hooks_settings, campaign_id, url="https://crm.example/hook", events=["poll_answered"])
    for n in range(40):
        publish(db, campaign_id, "poll_answered", f"p{n}")
    claimed: dict[str, list[Outgoing]] = {}
    start = threading.Barrier(4)

    def claim_all(holder: str) -> None:
        start.wait()
        got: list[Outgoing] = []
        while batch := deliveries.claim(db, holder=holder, limit=3, lease_seconds=60, base_url="http://x"):
            got += batch
        claimed[holder] = got

    threads = [threading.Thread(target=claim_all, args=(f"holder-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [o.id for got in claimed.values() for o in got]
    assert len(ids) == len(set(ids)) == 40


def test_a_lapsed_claim_goes_to_another_process_and_the_first_outcome_is_dropped(db, hooks_settings):
    campaign_id, _ = make_campaign(db)
    subscribe(db, hooks_settings, campaign_id, url="https://crm.example/hook", events=["poll_answered"])
    publish(db, campaign_id, "poll_answered", "p1")
    policy = RetryPolicy.from_settings(hooks_settings)
    (first,) = deliveries.claim(db, holder="dead", limit=5, lease_seconds=-1, base_url="http://x")  # lapsed at once
    (second,) = deliveries.claim(db, holder="alive", limit=5, lease_seconds=60, base_url="http://x")
    assert first.id == second.id and first.claim != second.claim
    assert deliveries.claim(db, holder="third", limit=5, lease_seconds=60, base_url="http://x") == []
    outcomes = [(first, Attempt(500, 3, "answered 500")), (second, Attempt(204, 5, None))]
    assert deliveries.record(db, outcomes, policy) == [None, "delivered"]  # the first's claim was lost
    (row,) = rows(db, campaign_id=campaign_id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 204)


def test_backoff_doubles_with_jitter_up_to_the_cap():
    policy = RetryPolicy(max_attempts=8, backoff_seconds=2, backoff_max_seconds=300)
    assert [policy.delay(n, jitter=lambda: 0.5) for n in range(1, 9)] == [2, 4, 8, 16, 32, 64, 128, 256]
    assert policy.delay(9, jitter=lambda: 0.5) == 300 and policy.delay(500, jitter=lambda: 0.5) == 300
    assert policy.delay(1, jitter=lambda: 0.0) == pytest.approx(1.6)
    assert policy.delay(1, jitter=lambda: 1.0) == pytest.approx(2.4)


def test_hubspot_preset_posts_the_forms_api_submission(db, hooks_settings, receiver, deliverer):
    s = hooks_settings.model_copy(update={"hubspot_forms_url": receiver.url("/hs")})
    campaign_id, render_id = make_campaign(db, "Spring check-in")
    config = {
        "portal_id": "123456",
        "form_guid": FORM_GUID,
        "fields": {"email": "work_email", "firstname": "first_name", "interests": "topics", "nps": "score"},
    }
    _, secret = subscribe(db, s, campaign_id, preset="hubspot", preset_config=config)
    occurred = datetime(2026, 5, 4, 3, 2, 1, 500000, tzinfo=UTC)
    answer = {"work_email": "ana@example.com", "first_name": "Ana", "topics": ["billing", "savings"], "score": 9}
    with db.session() as session:
        for event_type, event_id in (("poll_answered", "p1"), ("form_submitted", "f1")):
            deliveries.publish(
                session,
                campaign_id=campaign_id,
                event_type=event_type,
                event_id=event_id,
                data={
                    "render_id": render_id,
                    "answer": {"fields": answer, "consent": True},  # as pvideo.scene.answers checks a form's
                    "consent": {"given": True, "text": "You may email me."},
                },
                occurred_at=occurred,
            )
    deliveries.wake()

    receiver.wait_for(lambda r: len(r.delivered) == 1, "the HubSpot submission")
    (got,) = receiver.requests  # the poll answer was never sent to HubSpot
    assert got.path == f"/hs/submissions/v3/integration/submit/123456/{FORM_GUID}"
    body = got.verified(secret)
    check_hubspot_submission(body)
    assert body["submittedAt"] == str(int(occurred.timestamp() * 1000))
    assert body["fields"] == [
        {"objectTypeId": "0-1", "name": "email", "value": "ana@example.com"},
        {"objectTypeId": "0-1", "name": "firstname", "value": "Ana"},
        {"objectTypeId": "0-1", "name": "interests", "value": "billing;savings"},
        {"objectTypeId": "0-1", "name": "nps", "value": "9"},
    ]
    with db.session() as session:
        token = session.get(Render, render_id).viewer_token
    assert body["context"] == {"pageUri": f"http://testserver/v/{token}", "pageName": "Spring check-in"}
    assert body["legalConsentOptions"] == {"consent": {"consentToProcess": True, "text": "You may email me."}}


def test_hubspot_submission_leaves_consent_out_unless_ticked():
    config = hubspot.HubSpotConfig(portal_id="1", form_guid=FORM_GUID, fields={"email": "email"})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    refused = {
        "answer": {"fields": {"email": "a@b.example"}, "consent": False},
        "consent": {"given": False, "text": "t"},
    }
    body = hubspot.submission(config, refused, submitted_at=at, page_uri="u", page_name="n")
    check_hubspot_submission(body)
    assert "legalConsentOptions" not in body
    empty = hubspot.submission(config, {"answer": {"email": ""}}, submitted_at=at, page_uri="u", page_name="n")
    assert empty["fields"] == []


def check_hubspot_submission(body: dict) -> None:
    """The shape HubSpot documents for POST /submissions/v3/integration/submit/{portalId}/{formGuid}."""
    assert set(body) <= {"fields", "submittedAt", "context", "legalConsentOptions", "skipValidation"}
    assert isinstance(body["fields"], list) and len(body["fields"]) <= 1000
    for field in body["fields"]:
        assert set(field) == {"objectTypeId", "name", "value"} and all(isinstance(v, str) for v in field.values())
    assert body["submittedAt"].isdigit()
    assert set(body["context"]) <= {"hutk", "ipAddress", "pageUri", "pageId", "pageName"}
    assert all(isinstance(v, str) for v in body["context"].values())
    consent = body.get("legalConsentOptions", {}).get("consent")
    if consent is not None:
        assert consent["consentToProcess"] is True and isinstance(consent["text"], str) and consent["text"]


def test_deleting_a_subscription_drops_its_deliveries(db, hooks_settings):
    campaign_id, _ = make_campaign(db)
    sub_id, _ = subscribe(db, hooks_settings, campaign_id, url="https://crm.example/hook", events=["poll_answered"])
    publish(db, campaign_id, "poll_answered", "p1")
    with db.session() as session:
        subscriptions.delete(session, campaign_id, sub_id)
    with db.session() as session:
        assert session.scalar(select(func.count()).where(WebhookDelivery.campaign_id == campaign_id)) == 0
