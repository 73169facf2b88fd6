"""The actors. Thin: the work is in ``pvideo`` (pipeline, fanout, notifications, webhooks).

* ``render_customer(render_id)`` on ``renders``: one customer's video.
* ``fan_out_campaign(campaign_id)`` on ``campaigns``: enqueue a campaign's rows in batches.
* ``deliver_webhook(url, payload)`` on ``webhooks``: one signed POST, retried with backoff.

``DeadLetters`` marks a render failed when its message is dead-lettered for a
reason the pipeline could not record itself (e.g. the database was down on
every attempt), so the API never shows a lost render as "rendering".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage, Middleware, Retries

from pvideo.db.engine import database_errors
from pvideo.errors import PermanentError, RenderBusy
from pvideo.jobs import claims, fanout, notifications, pipeline, webhooks
from pvideo.logs import log_context
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from workers.broker import enqueue_many

RENDER_QUEUE = "renders"
CAMPAIGN_QUEUE = "campaigns"
WEBHOOK_QUEUE = "webhooks"
QUEUES = (RENDER_QUEUE, CAMPAIGN_QUEUE, WEBHOOK_QUEUE)
MAX_RETRIES = 4

log = logging.getLogger(__name__)


@dataclass
class Actors:
    render: dramatiq.Actor[[str], None]
    fan_out: dramatiq.Actor[[str], None]
    webhook: dramatiq.Actor[[str, dict[str, Any]], None]

    def send_renders(self, render_ids: Sequence[str]) -> None:
        enqueue_many(
            self.render.broker,
            [
                dramatiq.Message(
                    queue_name=RENDER_QUEUE, actor_name="render_customer", args=(render_id,), kwargs={}, options={}
                )
                for render_id in render_ids
            ],
        )


class DeadLetters(Middleware):
    """After ``Retries`` gave up on a render, mark it failed and send its webhooks."""

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
        if exception is not None and message.failed and message.actor_name == "render_customer":
            self.on_dead(message.args[0], exception)

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        if message.actor_name == "render_customer":
            self.on_dead(message.args[0], RuntimeError("message skipped (too old)"))


def declare_actors(
    broker: dramatiq.Broker, runtime: Callable[[], Runtime], *, max_retries: int = MAX_RETRIES, webhook_retries: int = 8
) -> Actors:
    """Declare every actor on ``broker``; ``runtime`` supplies db, storage, settings."""
    actors: Actors

    def notify(render_id: str) -> None:
        rt = runtime()
        for url, payload in notifications.after_render(rt.db, render_id, rt.settings.public_base_url):
            actors.webhook.send(url, payload)

    def render_customer(render_id: str) -> None:
        rt = runtime()
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else max_retries
        try:
            status = pipeline.render_customer(
                rt.db, rt.storage, rt.settings, render_id, final_attempt=retries >= max_retries
            )
        except RenderBusy as exc:  # a worker holds the lease: look again once it may have lapsed
            actors.render.send_with_options(args=(render_id,), delay=int(exc.retry_after * 1000))
            return
        if status in ("done", "failed"):
            notify(render_id)

    def on_dead(render_id: str, exc: BaseException) -> None:
        rt = runtime()
        with log_context(render_id=render_id):
            try:
                with database_errors():
                    if claims.fail(rt.db, render_id, f"gave up after retries: {exc}"):
                        log.warning("render %s dead-lettered: %s", render_id, exc)
                notify(render_id)
            except Exception:
                log.exception("render %s dead-lettered and could not be marked failed", render_id)

    def fan_out_campaign(campaign_id: str) -> None:
        rt = runtime()
        with log_context(campaign_id=campaign_id), database_errors():
            fanout.fan_out(rt.db, campaign_id, actors.send_renders, batch_size=rt.settings.fanout_batch_size)

    def deliver_webhook(url: str, payload: dict[str, Any]) -> None:
        rt = runtime()
        with log_context(campaign_id=payload.get("campaign_id"), render_id=payload.get("render_id")):
            webhooks.deliver(
                url,
                payload,
                rt.settings.webhook_signing_key,
                timeout=rt.settings.webhook_timeout,
                allow_private=rt.settings.webhook_allow_private,
            )

    broker.add_middleware(DeadLetters(on_dead), before=Retries)
    actors = Actors(
        render=dramatiq.actor(
            broker=broker,
            actor_name="render_customer",
            queue_name=RENDER_QUEUE,
            max_retries=max_retries,
            min_backoff=1_000,
            max_backoff=30_000,
            throws=(PermanentError,),
            time_limit=60 * 60 * 1000,
        )(render_customer),
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
    )
    return actors


def declare_for(broker: dramatiq.Broker, runtime: Callable[[], Runtime], settings: Settings) -> Actors:
    return declare_actors(
        broker, runtime, max_retries=settings.render_max_retries, webhook_retries=settings.webhook_max_retries
    )
