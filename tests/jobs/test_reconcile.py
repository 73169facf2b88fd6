"""The reconciler on the real PostgreSQL and Redis: lost messages are sent again (once), a dead
worker's rows go to the front, spent rows fail with their reason, the outbox is relayed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from pvideo.db.models import OutboxEntry, Render, utcnow
from pvideo.jobs import claims, fanout, pipeline
from pvideo.jobs.reconcile import reconcile
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from tests.conftest import API_KEY
from tests.jobs.runs import ROW, submit
from workers.queue import RenderQueue


@pytest.fixture()
def queued(settings, redis_url, postgres_url):
    """A runtime and queue on the real services (no worker running), and a Redis client."""
    s = settings.model_copy(update={"redis_url": redis_url, "database_url": postgres_url})
    runtime = Runtime.from_settings(s)
    with runtime.db.session() as session:  # the reconciler looks at every campaign: start from none
        session.execute(text("TRUNCATE campaigns, renders, outbox, leases CASCADE"))
    queue = RenderQueue(runtime)
    client = redis.Redis.from_url(redis_url)
    yield runtime, queue, client
    queue.close()
    client.close()
    runtime.db.dispose()


def _rows(n: int) -> list[CustomerRow]:
    return [CustomerRow(i, {**ROW, "customer_id": f"c{i}"}) for i in range(1, n + 1)]


def _waiting(client: redis.Redis, queue_name: str = "renders") -> list[str]:
    """The render ids waiting on a queue, front first."""
    import dramatiq

    ids = [i.decode() for i in client.lrange(f"dramatiq:{queue_name}", 0, -1)]
    return [dramatiq.Message.decode(client.hget(f"dramatiq:{queue_name}.msgs", i)).args[0] for i in ids]


def _pass(runtime: Runtime, queue: RenderQueue, *, later: float = 0.0):
    s = runtime.settings
    return reconcile(
        runtime.db,
        queue.actors,
        grace_seconds=s.reconcile_grace_seconds,
        lease_seconds=s.render_lease_seconds,
        max_attempts=pipeline.max_attempts(s),
        now=utcnow() + timedelta(seconds=later),
    )


def test_messages_lost_with_redis_are_sent_again_exactly_once(queued, card_spec):
    runtime, queue, client = queued
    campaign_id, ids = submit(runtime, card_spec, _rows(5))
    assert fanout.fan_out(runtime.db, campaign_id, queue.actors.send_renders) == 5
    assert sorted(_waiting(client)) == sorted(ids)
    assert not _pass(runtime, queue, later=60).resent  # all five are on the queue: nothing to do
    client.flushdb()  # Redis restarted empty
    assert not _pass(runtime, queue).resent  # within the grace period: left alone
    assert _pass(runtime, queue, later=60).resent == 5
    assert sorted(_waiting(client)) == sorted(ids)
    assert not _pass(runtime, queue, later=120).resent  # live again: never duplicated


def test_a_dead_workers_rendering_row_goes_to_the_front_and_spent_rows_fail(queued, card_spec):
    runtime, queue, client = queued
    s = runtime.settings
    campaign_id, ids = submit(runtime, card_spec, _rows(4))
    fanout.fan_out(runtime.db, campaign_id, queue.actors.send_renders)
    client.delete("dramatiq:renders")  # two rows are in flight on a worker that dies:
    for render_id in ids[:2]:
        assert isinstance(claims.claim(runtime.db, render_id, 1.0), claims.Job)
    queue.actors.send_renders(ids[2:])  # the other two wait behind a backlog
    with runtime.db.session() as session:
        session.get(Render, ids[1]).attempts = pipeline.max_attempts(s)  # this one has no attempt left
    result = _pass(runtime, queue, later=s.render_lease_seconds + 2)  # both leases have lapsed
    assert (result.rescued, result.failed) == (1, 1)
    assert _waiting(client)[0] == ids[0]  # at the front, ahead of the backlog
    with runtime.db.session() as session:
        spent = session.get(Render, ids[1])
        assert spent.status == "failed"
        assert spent.error == "gave up after 5 attempts: the worker stopped (killed or lost) while rendering"


def test_a_claim_past_the_attempt_budget_fails_the_row_with_the_last_reason(runtime, card_spec):
    _, ids = submit(runtime, card_spec, _rows(1))
    for attempt in range(1, 4):
        job = claims.claim(runtime.db, ids[0], 60, max_attempts=3)
        assert isinstance(job, claims.Job) and job.attempts == attempt
        claims.requeue(runtime.db, ids[0], "No space left on device")  # a re-sent message never resets the count
    assert claims.claim(runtime.db, ids[0], 60, max_attempts=3) == "failed"
    with runtime.db.session() as session:
        row = session.get(Render, ids[0])
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.error == "gave up after 3 attempts: No space left on device"


def test_submit_while_redis_is_down_answers_202_and_the_relay_starts_the_campaign(queued, settings, scenes_dir):
    runtime, queue, client = queued
    down = runtime.settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})  # nothing listens on port 9
    app = create_app(runtime=Runtime.from_settings(down))
    with TestClient(app) as http:
        answer = http.post(
            "/api/campaigns",
            json={"scene": "card", "rows": [{**ROW, "customer_id": "a"}, {**ROW, "customer_id": "b"}]},
            headers={"X-API-Key": API_KEY},
        )
    assert answer.status_code == 202, answer.text
    campaign_id = answer.json()["id"]
    with runtime.db.session() as session:
        entry = session.query(OutboxEntry).filter_by(ref=campaign_id).one()
        assert entry.sent_at is None and entry.kind == "fan_out"
    assert _pass(runtime, queue, later=5).relayed == 1  # Redis is back: the next pass sends it
    assert _waiting(client, "campaigns") == [campaign_id]
    with runtime.db.session() as session:
        assert session.get(OutboxEntry, entry.id).sent_at is not None
    assert not _pass(runtime, queue, later=10).relayed


def test_a_fan_out_lost_before_its_last_batch_is_sent_again(queued, card_spec):
    runtime, queue, client = queued
    campaign_id, ids = submit(runtime, card_spec, _rows(6))
    with runtime.db.session() as session:
        session.query(OutboxEntry).filter_by(ref=campaign_id).update({"sent_at": utcnow()})
    assert _pass(runtime, queue, later=60).fanned_out == 1
    assert _waiting(client, "campaigns") == [campaign_id]  # never fanned out, message gone: sent again
    assert not _pass(runtime, queue, later=120).fanned_out  # its message is live now
    assert len(ids) == 6


def test_redis_broker_rescues_a_dead_workers_messages_to_the_front(queued, card_spec):
    runtime, queue, client = queued
    campaign_id, ids = submit(runtime, card_spec, _rows(5))
    fanout.fan_out(runtime.db, campaign_id, queue.actors.send_renders)
    dying = RenderQueue(runtime).broker
    consumer = dying.consume("renders", prefetch=2, timeout=1000)
    taken = [next(consumer).args[0] for _ in range(2)]
    assert taken == ids[:2]
    client.zadd("dramatiq:__heartbeats__", {dying.broker_id: 0})  # its heartbeat stopped long ago
    live = queue.broker
    live._last_maintenance.clear()
    live.do_fetch("renders", 0)  # any fetch runs maintenance on its clock
    waiting = _waiting(client)
    assert set(waiting[:2]) == set(ids[:2]) and waiting[2:] == ids[2:]  # the dead worker's two first
    assert not client.smembers(f"dramatiq:__acks__.{dying.broker_id}.renders")
