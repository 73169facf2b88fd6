"""Entry point for the ``dramatiq`` command (what ``pvideo worker`` runs).

``dramatiq workers.main`` imports this module, so this is the one place where
settings are read and the broker is set at import time.
"""

from __future__ import annotations

from functools import lru_cache

import dramatiq

from pvideo.logs import configure_logging
from pvideo.settings import Settings
from workers.actors import declare_render_actor
from workers.broker import build_broker
from workers.runtime import Runtime

settings = Settings()
configure_logging()
broker = build_broker(settings)
dramatiq.set_broker(broker)


@lru_cache(maxsize=1)
def _runtime() -> Runtime:
    return Runtime.from_settings(settings)


render_customer = declare_render_actor(broker, _runtime)
