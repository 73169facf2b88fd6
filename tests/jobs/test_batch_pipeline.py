"""Batch messages (``pvideo.jobs.batches``, ``render_customers``): each row claimed as a single
render is, so a batch whose rows are partly held elsewhere renders only the rest, once; a bad row
fails alone; the fan-out groups a campaign's renders ``render_batch_size`` to a message."""

from __future__ import annotations

import dramatiq
import yaml
from dramatiq.brokers.stub import StubBroker

from pvideo.db.models import Render
from pvideo.jobs import batches, claims
from pvideo.jobs.pipeline import render_customer
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import load_scene
from tests.conftest import CARD_SCENE
from tests.jobs.runs import ROW, submit, wait_finished
from tests.media import frames_rgb
from workers.actors import declare_actors
from workers.broker import live_refs
from workers.queue import RenderQueue


def _rows(n, **extra):
    return [CustomerRow(i, dict(ROW, customer_id=f"b{i}", first_name=f"Name{i}", **extra)) for i in range(1, n + 1)]


def _row(runtime, render_id):
    with runtime.db.session() as session:
        row = session.get(Render, render_id)
        session.expunge(row)
        return row


def test_a_batch_partly_claimed_elsewhere_renders_only_the_rest_exactly_once(runtime, card_spec):
    _, ids = submit(runtime, card_spec, _rows(4))
    held = claims.claim(runtime.db, ids[1], lease_seconds=600)  # another live worker has this one
    assert isinstance(held, claims.Job)
    render_customer(runtime.db, runtime.storage, runtime.settings, ids[2])  # and this one is finished already
    statuses = batches.render_customers(runtime.db, runtime.storage, runtime.settings, ids)
    assert statuses == {ids[0]: "done", ids[1]: batches.BUSY, ids[2]: "done", ids[3]: "done"}
    rows = [_row(runtime, i) for i in ids]
    assert [r.status for r in rows] == ["done", "rendering", "done", "done"]
    assert [r.attempts for r in rows] == [1, 1, 1, 1]  # nothing claimed twice, nothing rendered twice
    assert rows[0].video_key != rows[3].video_key  # each customer their own video
    for row in (rows[0], rows[3]):
        assert runtime.storage.exists(row.video_key) and runtime.storage.exists(row.poster_key)
        assert len(frames_rgb(runtime.storage.local_path(row.video_key))) == runtime_frames(runtime, rows[2])
    again = batches.render_customers(runtime.db, runtime.storage, runtime.settings, ids)  # a redelivered message
    assert again == {ids[0]: "done", ids[1]: batches.BUSY, ids[2]: "done", ids[3]: "done"}
    assert [_row(runtime, i).attempts for i in ids] == [1, 1, 1, 1]


def runtime_frames(runtime, done_row):
    return len(frames_rgb(runtime.storage.local_path(done_row.video_key)))


def test_batch_output_is_the_single_render_output(runtime, card_spec):
    _, batch_ids = submit(runtime, card_spec, _rows(3))
    batches.render_customers(runtime.db, runtime.storage, runtime.settings, batch_ids)
    keys = [_row(runtime, i).video_key for i in batch_ids]
    videos = [runtime.storage.local_path(k).read_bytes() for k in keys]
    for key in keys:
        runtime.storage.delete_prefix(key.rsplit("/", 1)[0])
    _, single_ids = submit(runtime, card_spec, _rows(3))  # the same customers again, one by one
    for render_id in single_ids:
        assert render_customer(runtime.db, runtime.storage, runtime.settings, render_id) == "done"
    assert [_row(runtime, i).video_key for i in single_ids] == keys
    assert [runtime.storage.local_path(k).read_bytes() for k in keys] == videos


def test_a_bad_row_in_a_batch_fails_alone(runtime, tmp_path):
    scene = dict(CARD_SCENE, fields={**CARD_SCENE["fields"], "pic": {"default": "logo.png"}})
    scene["layers"] = [CARD_SCENE["layers"][0], dict(CARD_SCENE["layers"][1], id="pic", src="{{ pic }}")]
    path = tmp_path / "pic.yaml"
    path.write_text(yaml.safe_dump(scene))
    rows = _rows(3)
    rows[1] = CustomerRow(2, dict(ROW, customer_id="b2", first_name="Bad", pic="not-an-image.png"))
    _, ids = submit(runtime, load_scene(path), rows)
    statuses = batches.render_customers(runtime.db, runtime.storage, runtime.settings, ids)
    assert statuses == {ids[0]: "done", ids[1]: "failed", ids[2]: "done"}
    bad = _row(runtime, ids[1])
    assert bad.attempts == 1 and "not-an-image.png" in bad.error and bad.video_key is None
    assert all(runtime.storage.exists(_row(runtime, i).video_key) for i in (ids[0], ids[2]))


def test_fan_out_groups_renders_by_the_batch_size_and_k1_keeps_single_messages(runtime):
    broker = StubBroker()
    actors = declare_actors(broker, lambda: runtime)
    broker.declare_queue("renders")
    ids = [f"r{i}" for i in range(7)]
    actors.send_render_batches(ids)  # batch size 1: today's messages
    actors.batch_size = 3
    actors.send_render_batches(ids)
    messages = [dramatiq.Message.decode(m) for m in list(broker.queues["renders"].queue)]
    assert [(m.actor_name, m.args) for m in messages] == [("render_customer", (i,)) for i in ids] + [
        ("render_customers", (ids[0:3],)),
        ("render_customers", (ids[3:6],)),
        ("render_customers", (ids[6:],)),
    ]
    assert live_refs(broker, ["renders"]) == set(ids)  # the reconciler sees the rows a batch carries
    broker.close()


def test_a_campaign_fanned_out_in_batches_renders_every_row_once(settings, card_spec):
    runtime = Runtime.from_settings(settings.model_copy(update={"render_batch_size": 2}))
    campaign_id, ids = submit(runtime, card_spec, _rows(3))
    queue = RenderQueue(runtime)
    try:
        queue.start()
        queue.fan_out(campaign_id)
        counts = wait_finished(runtime, campaign_id, len(ids), timeout=60)
    finally:
        queue.close()
    assert counts["done"] == 3 and counts["failed"] == 0
    assert [_row(runtime, i).attempts for i in ids] == [1, 1, 1]
    runtime.db.dispose()
