"""Who sends campaign webhooks, and how a worker hears of an answer another process stored.

With a Redis queue the API process only writes deliveries and the workers send them; on
PostgreSQL the transaction that writes them sends ``NOTIFY``, so a worker's deliverer starts the
POST at the commit instead of at its next poll.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import delete

from pvideo.db.engine import Database
from pvideo.db.models import WebhookDelivery
from pvideo.jobs.deliveries import WEBHOOK_EVENTS
from pvideo.runtime import Runtime
from pvideo.storage import storage_from_settings
from tests.jobs.test_deliveries import make_campaign, rows, subscribe
from tests.webhook_receiver import wait_until
from workers.deliverer import Deliverer

PUBLISH = textwrap.dedent(
    """
    import sys
    from pvideo.db.engine import Database
    from pvideo.jobs import deliveries

    db = Database(sys.argv[1])
    with db.session() as session:
        deliveries.publish(session, campaign_id=sys.argv[2], event_type="poll_answered", event_id=sys.argv[3], data={})
    """
)


@pytest.mark.parametrize(
    ("senders", "redis_url", "api", "worker"),
    [
        ("auto", None, True, False),  # embedded: the server is the worker
        ("auto", "redis://127.0.0.1:6379/0", False, True),
        ("api", "redis://127.0.0.1:6379/0", True, False),
        ("workers", None, False, True),
        ("all", None, True, True),
    ],
)
def test_which_processes_send_webhooks(settings, senders, redis_url, api, worker):
    chosen = settings.model_copy(update={"webhook_senders": senders, "redis_url": redis_url})
    assert (chosen.sends_webhooks("api"), chosen.sends_webhooks("worker")) == (api, worker)


def test_a_worker_sends_at_the_commit_of_an_answer_stored_by_another_process(postgres_url, settings, receiver):
    db = Database(postgres_url)
    db.create_schema()
    with db.session() as session:
        session.execute(delete(WebhookDelivery))
    slow_poll = settings.model_copy(update={"webhook_allow_private": True, "webhook_poll_seconds": 60.0})
    campaign_id, _ = make_campaign(db)
    subscribe(db, slow_poll, campaign_id, url=receiver.url(), events=list(WEBHOOK_EVENTS))
    deliverer = Deliverer(lambda: Runtime(settings=slow_poll, db=db, storage=storage_from_settings(slow_poll)))
    deliverer.start()
    try:
        assert deliverer._wakeups is not None
        wait_until(lambda: deliverer._wakeups.listening, "the deliverer listens")  # type: ignore[union-attr]
        for n in range(3):  # another process stores an answer; nothing in this one wakes the deliverer
            subprocess.run([sys.executable, "-c", PUBLISH, postgres_url, campaign_id, f"e{n}"], check=True)
            # the next poll is a minute away: only the commit's NOTIFY can bring it this soon
            receiver.wait_for(lambda r, n=n: len(r.delivered) == n + 1, f"delivery {n}", timeout=20)
        wait_until(lambda: {d.status for d in rows(db, campaign_id=campaign_id)} == {"delivered"}, "recorded")
    finally:
        deliverer.stop()
        db.dispose()
