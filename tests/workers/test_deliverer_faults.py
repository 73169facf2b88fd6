"""A worker killed with kill -9 in the middle of a webhook delivery.

A real ``dramatiq workers.main`` process (Redis and PostgreSQL, as in production) claims the
delivery and POSTs it; the receiver holds the request, and the worker is killed. Its claim
lapses, the API-side deliverer (the loop ``api.main`` runs) takes the delivery over and sends
it with the same ``webhook-id``, so the receiver, deduping on it, sees the event delivered once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from pvideo.db.models import Campaign, WebhookDelivery
from pvideo.jobs import deliveries, subscriptions
from pvideo.jobs.subscriptions import SubscriptionCreate
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from tests.webhook_receiver import wait_until
from tests.workers.test_worker_faults import Worker
from workers.deliverer import Deliverer

TIMEOUT = 3.0  # per attempt; a claim lasts 2 x 3 + 5 = 11 s


@pytest.fixture()
def shared(settings, redis_url, own_postgres_url, tmp_path, monkeypatch) -> Settings:
    for name, value in {
        "PVIDEO_WEBHOOK_ALLOW_PRIVATE": "true",
        "PVIDEO_WEBHOOK_POLL_SECONDS": "0.05",
        "PVIDEO_WEBHOOK_TIMEOUT": str(TIMEOUT),
    }.items():
        monkeypatch.setenv(name, value)  # the worker process's settings (its environment is a copy of ours)
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "database_url": own_postgres_url,
            "storage_url": f"file://{tmp_path / 'shared-storage'}",
            "webhook_allow_private": True,
            "webhook_poll_seconds": 0.05,
            "webhook_timeout": TIMEOUT,
        }
    )


def test_a_delivery_survives_its_worker_killed_mid_post(shared, receiver, tmp_path):
    runtime = Runtime.from_settings(shared)
    with runtime.db.session() as session:
        session.execute(delete(WebhookDelivery))  # the schema lives for the whole run
        campaign = Campaign(name="Kill test", scene_name="checkin", scene={})
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
        spec = SubscriptionCreate(url=receiver.url("/crm"), events=["form_submitted"])
        _, secret = subscriptions.create(session, campaign_id, spec, settings=shared, created_by="tests")
        deliveries.publish(session, campaign_id=campaign_id, event_type="form_submitted", event_id="f1", data={"n": 1})
    receiver.hold("/crm")
    worker = Worker(shared, tmp_path / "worker.log", threads=1)
    api_side = Deliverer(lambda: runtime)
    try:
        receiver.wait_for(lambda r: len(r.to("/crm")) == 1, "the worker's POST", timeout=90)
        with runtime.db.session() as session:
            (held,) = session.scalars(select(WebhookDelivery).where(WebhookDelivery.campaign_id == campaign_id))
            assert held.status == "pending" and held.claimed_by and held.attempts == 0  # claimed by the worker
        worker.kill9()  # the machine dies while the receiver holds the request
        receiver.wait_for(lambda r: r.to("/crm")[0].gone, "the killed worker's connection to close")
        receiver.release()

        api_side.start()
        with runtime.db.session() as session:
            deliveries.publish(
                session, campaign_id=campaign_id, event_type="form_submitted", event_id="f2", data={"n": 2}
            )
        deliveries.wake()
        done = wait_until(lambda: _all_delivered(runtime, campaign_id), "both deliveries recorded", timeout=90)
    finally:
        api_side.stop()
        worker.stop()

    first, second = sorted(done, key=lambda d: d.event_id)
    sent = receiver.to("/crm")
    assert [r.webhook_id for r in sent].count(first.id) == 2  # the killed attempt and the takeover: one id
    assert sent[0].gone and sent[0].answered is None and all(r.verified(secret) for r in sent)
    assert receiver.delivered == {first.id: 1, second.id: 1}  # each event delivered once, by webhook-id
    assert first.attempts == 1 and [a["status"] for a in first.attempt_log] == [204]  # the killed one never recorded


def _rows(runtime: Runtime, campaign_id: str) -> list[WebhookDelivery]:
    with runtime.db.session() as session:
        return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.campaign_id == campaign_id)))


def _all_delivered(runtime: Runtime, campaign_id: str) -> list[WebhookDelivery] | None:
    rows = _rows(runtime, campaign_id)
    return rows if len(rows) == 2 and all(d.status == "delivered" for d in rows) else None
