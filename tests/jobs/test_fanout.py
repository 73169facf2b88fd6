"""Fan-out on the real Redis: batches in few round trips, resumable; broker tuning; dead letters."""

from __future__ import annotations

import contextlib

import redis
from redis.connection import Connection

from pvideo.db.models import Campaign, Render
from pvideo.jobs import fanout
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from tests.jobs.runs import submit
from workers.actors import RENDER_QUEUE, declare_for
from workers.broker import PvideoRedisBroker, build_broker
from workers.queue import RenderQueue


class CountingConnection(Connection):
    """Counts what goes over the socket: one ``send_packed_command`` per round trip."""

    sends = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sends += 1
        return super().send_packed_command(command, check_health)


def _submit(runtime, spec, n):
    rows = [CustomerRow(i, {"customer_id": f"f{i}", "first_name": "F", "price": 1}) for i in range(1, n + 1)]
    return submit(runtime, spec, rows)


def test_fan_out_enqueues_batches_in_a_round_trip_each(settings, redis_url, card_spec):
    s = settings.model_copy(update={"redis_url": redis_url, "fanout_batch_size": 500})
    runtime = Runtime.from_settings(s)
    campaign_id, ids = _submit(runtime, card_spec, 2000)
    broker = PvideoRedisBroker(
        client=redis.Redis.from_url(redis_url, connection_class=CountingConnection),
        heartbeat_timeout_ms=10_000,
        maintenance_interval=2,
    )
    actors = declare_for(broker, lambda: runtime, s)
    CountingConnection.sends = 0
    sent = fanout.fan_out(runtime.db, campaign_id, actors.send_renders, batch_size=500)
    trips = CountingConnection.sends
    assert sent == 2000
    assert trips < 2 * 4 + 5, trips  # a pipelined round trip per batch (+ connection set-up), not one per row
    client = redis.Redis.from_url(redis_url)
    assert client.llen(f"dramatiq:{RENDER_QUEUE}") == 2000
    queued = {
        broker.client.hget(f"dramatiq:{RENDER_QUEUE}.msgs", mid)
        for mid in client.lrange(f"dramatiq:{RENDER_QUEUE}", 0, -1)
    }
    import json

    assert sorted(json.loads(m)["args"][0] for m in queued) == sorted(ids)
    with runtime.db.session() as session:
        assert session.get(Campaign, campaign_id).enqueued_through == 2000
    assert fanout.fan_out(runtime.db, campaign_id, actors.send_renders, batch_size=500) == 0  # a redelivery
    broker.close()
    runtime.db.dispose()


def test_fan_out_resumes_after_a_crash_without_resending_finished_batches(runtime, card_spec):
    campaign_id, ids = _submit(runtime, card_spec, 10)
    got: list[str] = []

    def crash_after_two_batches(batch):
        if len(got) >= 6:
            raise ConnectionError("worker died")
        got.extend(batch)

    with contextlib.suppress(ConnectionError):
        fanout.fan_out(runtime.db, campaign_id, crash_after_two_batches, batch_size=3)
    fanout.fan_out(runtime.db, campaign_id, got.extend, batch_size=3)
    assert got == ids  # each row once, in order


def test_broker_runs_maintenance_on_a_clock_with_a_short_heartbeat(settings, redis_url):
    broker = build_broker(settings.model_copy(update={"redis_url": redis_url}))
    assert isinstance(broker, PvideoRedisBroker)
    assert broker.heartbeat_timeout == 10_000 and broker.maintenance_chance == 0
    assert broker._maintenance_due("fetch", "renders") == 1
    assert broker._maintenance_due("fetch", "renders") == 0  # not again within the interval
    assert broker._maintenance_due("fetch", "renders.DQ") == 1  # each queue on its own clock
    assert broker._maintenance_due("enqueue", "webhooks") == 0  # never on the enqueue path
    broker.close()


def test_corrupt_row_fails_with_its_reason_and_the_rest_render(settings, card_spec):
    s = settings.model_copy(update={"render_max_retries": 0})
    runtime = Runtime.from_settings(s)
    _, ids = _submit(runtime, card_spec, 2)
    with runtime.db.session() as session:
        session.get(Render, ids[0]).data = ["not", "a", "row"]  # a corrupt row: the pipeline itself crashes
    queue = RenderQueue(runtime)
    try:
        queue.start()
        queue.enqueue(ids)
        queue.join(timeout_ms=60_000)
    finally:
        queue.close()
    with runtime.db.session() as session:
        dead, fine = session.get(Render, ids[0]), session.get(Render, ids[1])
    assert dead.status == "failed" and dead.error == "the stored customer data of row 1 is not an object"
    assert dead.attempts == 1
    assert fine.status == "done"
    runtime.db.dispose()
