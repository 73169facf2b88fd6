"""The actors. Thin: the work is in ``pvideo`` (pipeline, fanout, notifications, webhooks).

* ``render_customer(render_id)`` on ``renders``: one customer's video.
* ``render_customers(render_ids)`` on ``renders``: up to ``render_batch_size`` customers of one
  campaign in one pass (``pvideo.jobs.batches``); the fan-out sends these when it is above 1.
* ``fan_out_campaign(campaign_id)`` on ``campaigns``: enqueue a campaign's rows in batches.
* ``deliver_webhook(url, reference)`` on ``webhooks``: one signed POST, retried with backoff; the
  message names the render or campaign, and the payload is built when it is sent.
* ``ingest_asset(sha256)`` on ``campaigns``: ingest a video uploaded in the studio.
* ``erase_customer(job_id)`` on ``campaigns``: delete an erased customer's stored outputs.

A render's attempts are counted in the database (``pvideo.jobs.claims``), not
in its message: the message's own retries only carry the row to its next
attempt (or through a database outage), and a re-sent message never resets the
count. A message that runs out of retries anyway fails its row (``DeadLetters``), or,
if the database is down too, leaves it open for the reconciler
(``workers.reconciler``), which sends it again once the database is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware, Retries

from pvideo.db.engine import database_errors
from pvideo.errors import PermanentError, RenderBusy
from pvideo.jobs import assetlibrary, batches, claims, fanout, notifications, pipeline, webhooks
from pvideo.jobs.scheduling import EncodeScheduler, Kind
from pvideo.logs import log_context
from pvideo.privacy import erasure
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from workers.broker import enqueue_many, live_refs, message_refs

RENDER_QUEUE = "renders"
CAMPAIGN_QUEUE = "campaigns"
WEBHOOK_QUEUE = "webhooks"
QUEUES = (RENDER_QUEUE, CAMPAIGN_QUEUE, WEBHOOK_QUEUE)
MAX_RETRIES = 4
RENDER_ACTORS = ("render_customer", "render_customers")
MESSAGE_RETRIES_BEYOND_ATTEMPTS = 8
"""Extra retries a render message gets to ride out a database or Redis outage (about 4 minutes)."""

log = logging.getLogger(__name__)


@dataclass
class Actors:
    render: dramatiq.Actor[[str], None]
    fan_out: dramatiq.Actor[[str], None]
    webhook: dramatiq.Actor[[str, dict[str, Any]], None]
    ingest: dramatiq.Actor[[str], None]
    erase: dramatiq.Actor[[str], None]
    render_many: dramatiq.Actor[[list[str]], None] | None = None
    batch_size: int = 1  # renders per fan-out message (``render_batch_size``)

    def send_renders(self, render_ids: Sequence[str], *, first: bool = False) -> None:
        """One message per render, in one round trip; ``first`` puts them at the front of the queue."""
        enqueue_many(
            self.render.broker,
            [
                dramatiq.Message(
                    queue_name=RENDER_QUEUE, actor_name="render_customer", args=(render_id,), kwargs={}, options={}
                )
                for render_id in render_ids
            ],
            first=first,
        )

    def send_render_batches(self, render_ids: Sequence[str]) -> None:
        """A campaign's renders, ``batch_size`` to a message (one message per render at 1), in one round trip."""
        if self.batch_size <= 1 or self.render_many is None:
            self.send_renders(render_ids)
            return
        ids = list(render_ids)
        enqueue_many(
            self.render.broker,
            [
                dramatiq.Message(
                    queue_name=RENDER_QUEUE,
                    actor_name="render_customers",
                    args=(ids[start : start + self.batch_size],),
                    kwargs={},
                    options={},
                )
                for start in range(0, len(ids), self.batch_size)
            ],
        )

    def send_fan_out(self, campaign_id: str) -> None:
        self.fan_out.send(campaign_id)

    def send_erasure(self, job_id: str) -> None:
        self.erase.send(job_id)

    def live_refs(self) -> set[str]:
        """Render and campaign ids with a message waiting, delayed or in flight."""
        return live_refs(self.render.broker, (RENDER_QUEUE, CAMPAIGN_QUEUE))


class DeadLetters(Middleware):
    """After ``Retries`` gave up on a render's message, fail the row with the reason and send its webhooks.

    Attempts are bounded in the database, so a message runs out of retries only
    when the row could not even be claimed every time (a corrupt row, a long
    database outage). If the database is down now too, the row stays open and
    the reconciler sends it again once it is back.
    """

    def __init__(self, on_dead: Callable[[str, BaseException], None]) -> None:
        self.on_dead = on_dead

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None and message.failed and message.actor_name in RENDER_ACTORS:
            for render_id in message_refs(message.args):
                self.on_dead(render_id, exception)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message.actor_name in RENDER_ACTORS:
            for render_id in message_refs(message.args):
                self.on_dead(render_id, RuntimeError("message skipped (too old)"))


def declare_actors(
    broker: dramatiq.Broker,
    runtime: Callable[[], Runtime],
    *,
    max_retries: int = MAX_RETRIES,
    webhook_retries: int = 8,
    scheduler: EncodeScheduler | None = None,
) -> Actors:
    """Declare every actor on ``broker``; ``runtime`` supplies db, storage, settings. With a
    ``scheduler`` (embedded: the one on-demand renders use), renders encode their parts as eager work."""
    actors: Actors
    hooks = pipeline.RenderHooks(
        encode_slot=(lambda _: scheduler.slot(Kind.EAGER)) if scheduler else None,
        finish_slot=(lambda: scheduler.slot(Kind.EAGER)) if scheduler else None,
    )

    def notify(render_id: str) -> None:
        rt = runtime()
        for url, ref in notifications.after_render(rt.db, render_id):
            actors.webhook.send(url, ref)

    def render_customer(render_id: str) -> None:
        rt = runtime()
        try:
            status = pipeline.render_customer(rt.db, rt.storage, rt.settings, render_id, hooks=hooks)
        except RenderBusy:  # a duplicate message: the live holder finishes it (or the reconciler, if it dies)
            log.info("render %s is held by a live worker: message dropped", render_id)
            return
        if status in ("done", "failed"):
            notify(render_id)

    def render_customers(render_ids: list[str]) -> None:
        rt = runtime()
        statuses = batches.render_customers(rt.db, rt.storage, rt.settings, render_ids, encode_slot=hooks.encode_slot)
        for render_id, status in statuses.items():
            if status in ("done", "failed"):
                notify(render_id)
        again = [render_id for render_id, status in statuses.items() if status == batches.RETRY]
        if again:  # each alone, with a single render's retries; if the queue is down, the reconciler sends them
            try:
                actors.send_renders(again)
            except Exception as exc:
                log.warning("renders %s left for the reconciler: %s", ", ".join(again), exc)

    def on_dead(render_id: str, exc: BaseException) -> None:
        rt = runtime()
        with log_context(render_id=render_id):
            try:
                with database_errors():
                    if claims.fail(rt.db, render_id, f"gave up after retries: {exc}"):
                        log.warning("render %s dead-lettered: %s", render_id, exc)
                notify(render_id)
            except Exception as error:
                log.warning("render %s dead-lettered, left open for the reconciler: %s", render_id, error)

    def fan_out_campaign(campaign_id: str) -> None:
        rt = runtime()
        with log_context(campaign_id=campaign_id), database_errors():
            fanout.fan_out(rt.db, campaign_id, actors.send_render_batches, batch_size=rt.settings.fanout_batch_size)

    def deliver_webhook(url: str, message: dict[str, Any]) -> None:
        rt = runtime()
        with log_context(campaign_id=message.get("campaign_id"), render_id=message.get("render_id")):
            # a reference (``notifications.after_render``); a message queued before references
            # existed carries its payload
            payload = (
                notifications.payload_for(rt.db, message, rt.settings.public_base_url) if "ref" in message else message
            )
            if payload is None:
                log.info("webhook %s dropped: its render or campaign is gone, or the customer was erased", message)
                return
            webhooks.deliver(
                url,
                payload,
                rt.settings.webhook_signing_key,
                timeout=rt.settings.webhook_timeout,
                allow_private=rt.settings.webhook_allow_private,
            )

    def ingest_asset(sha256: str) -> None:
        rt = runtime()
        with log_context(asset=sha256[:16]), database_errors():
            assetlibrary.ingest_asset(rt.db, rt.storage, rt.settings, sha256)

    def erase_customer(job_id: str) -> None:
        # a storage failure is kept on the job, which backs off; the reconciler sends it again
        with log_context(erasure=job_id), database_errors():
            erasure.run_erasure(runtime(), job_id)

    broker.add_middleware(DeadLetters(on_dead), before=Retries)
    render_options: dict[str, Any] = {
        "queue_name": RENDER_QUEUE,
        "max_retries": max_retries + MESSAGE_RETRIES_BEYOND_ATTEMPTS,  # attempts are bounded in the database
        "min_backoff": 1_000,
        "max_backoff": 30_000,
        "throws": (PermanentError,),
        "time_limit": 60 * 60 * 1000,
    }
    actors = Actors(
        render=dramatiq.actor(broker=broker, actor_name="render_customer", **render_options)(render_customer),
        fan_out=dramatiq.actor(
            broker=broker,
            actor_name="fan_out_campaign",
            queue_name=CAMPAIGN_QUEUE,
            max_retries=20,
            min_backoff=1_000,
            max_backoff=60_000,
            throws=(PermanentError,),
            time_limit=60 * 60 * 1000,
        )(fan_out_campaign),
        webhook=dramatiq.actor(
            broker=broker,
            actor_name="deliver_webhook",
            queue_name=WEBHOOK_QUEUE,
            max_retries=webhook_retries,
            min_backoff=2_000,
            max_backoff=300_000,
            throws=(PermanentError,),
            time_limit=120 * 1000,
        )(deliver_webhook),
        ingest=dramatiq.actor(
            broker=broker,
            actor_name="ingest_asset",
            queue_name=CAMPAIGN_QUEUE,  # with fan-outs: never behind a campaign's renders
            max_retries=5,
            min_backoff=2_000,
            max_backoff=60_000,
            throws=(PermanentError,),
            time_limit=60 * 60 * 1000,
        )(ingest_asset),
        erase=dramatiq.actor(
            broker=broker,
            actor_name="erase_customer",
            queue_name=CAMPAIGN_QUEUE,
            max_retries=10,  # database outages; storage ones wait on the job (pvideo.privacy.erasure)
            min_backoff=2_000,
            max_backoff=60_000,
            throws=(PermanentError,),
            time_limit=60 * 60 * 1000,
        )(erase_customer),
        render_many=dramatiq.actor(broker=broker, actor_name="render_customers", **render_options)(render_customers),
    )
    return actors


def declare_for(
    broker: dramatiq.Broker,
    runtime: Callable[[], Runtime],
    settings: Settings,
    scheduler: EncodeScheduler | None = None,
) -> Actors:
    actors = declare_actors(
        broker,
        runtime,
        max_retries=settings.render_max_retries,
        webhook_retries=settings.webhook_max_retries,
        scheduler=scheduler,
    )
    actors.batch_size = settings.render_batch_size
    return actors
