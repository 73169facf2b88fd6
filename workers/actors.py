"""The render actor. Thin: the work is ``pvideo.pipeline.render_customer``."""

from __future__ import annotations

from collections.abc import Callable

import dramatiq
from dramatiq.middleware import CurrentMessage

from pvideo import pipeline
from pvideo.errors import PermanentError
from workers.runtime import Runtime

RENDER_QUEUE = "renders"
MAX_RETRIES = 3


def declare_render_actor(broker: dramatiq.Broker, runtime: Callable[[], Runtime]) -> dramatiq.Actor:
    """Declare ``render_customer`` on ``broker``; ``runtime`` supplies db, storage, settings."""

    def render_customer(render_id: str) -> None:
        rt = runtime()
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else MAX_RETRIES
        pipeline.render_customer(rt.db, rt.storage, rt.settings, render_id,
                                 final_attempt=retries >= MAX_RETRIES)

    return dramatiq.actor(
        render_customer, broker=broker, actor_name="render_customer", queue_name=RENDER_QUEUE,
        max_retries=MAX_RETRIES, min_backoff=1_000, max_backoff=30_000, throws=(PermanentError,),
        time_limit=60 * 60 * 1000,
    )
