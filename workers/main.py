"""Entry point for the ``dramatiq`` command (what ``pvideo worker`` runs).

``dramatiq workers.main`` imports this module, so this is the one place where
settings are read and the broker is set at import time.
"""

from __future__ import annotations

import os
from functools import lru_cache

import dramatiq

from pvideo.logs import configure_logging
from pvideo.render.priority import lower_priority
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from workers.actors import declare_for
from workers.broker import build_broker
from workers.deliverer import Deliverer, DelivererMiddleware
from workers.reconciler import Reconciler, ReconcilerMiddleware
from workers.retention import RetentionMiddleware, RetentionRunner

settings = Settings()
configure_logging(fmt=settings.log_format)
if "renders" in os.environ.get("PVIDEO_WORKER_QUEUES", "renders").split(","):
    # renders yield to previews and pages (pvideo/render/priority.py); a worker without renders
    # (`--queues campaigns,webhooks`: fan-out and webhook sending) keeps the normal priority
    lower_priority(settings.render_nice)
broker = build_broker(settings)
dramatiq.set_broker(broker)


@lru_cache(maxsize=1)
def _runtime() -> Runtime:
    return Runtime.from_settings(settings)


actors = declare_for(broker, _runtime, settings)
render_customer, fan_out_campaign, deliver_webhook = actors.render, actors.fan_out, actors.webhook
broker.add_middleware(ReconcilerMiddleware(Reconciler(_runtime, actors)))
broker.add_middleware(RetentionMiddleware(RetentionRunner(_runtime)))  # one holder at a time (workers/retention.py)
if settings.sends_webhooks("worker"):  # campaign webhooks, in every worker process (workers/deliverer.py)
    broker.add_middleware(DelivererMiddleware(Deliverer(_runtime)))
