"""What the app holds for its lifetime: runtime (settings, db, storage), queue, tokens, rate limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pvideo.access.ratelimit import RateLimiter
from pvideo.access.tokens import ViewerTokens
from pvideo.jobs.ondemand import OnDemand
from pvideo.runtime import Runtime
from pvideo.tracking.groupcommit import EventWriter
from workers.queue import RenderQueue


@dataclass
class AppState:
    runtime: Runtime
    queue: RenderQueue
    tokens: ViewerTokens
    event_limiter: RateLimiter
    auth_failures: RateLimiter
    ondemand: OnDemand
    events: EventWriter  # group commit of viewer events
    previews: threading.Semaphore = field(default_factory=lambda: threading.BoundedSemaphore(2))  # at once

    @classmethod
    def build(cls, runtime: Runtime) -> AppState:
        settings = runtime.settings
        return cls(
            runtime=runtime,
            queue=RenderQueue(runtime),
            tokens=ViewerTokens(settings.signing_key, max_age=settings.viewer_token_max_age_days * 86400),
            event_limiter=RateLimiter(settings.event_rate_per_second, settings.event_rate_burst),
            auth_failures=RateLimiter(settings.auth_failures_per_minute / 60, settings.auth_failure_burst),
            ondemand=OnDemand(runtime),
            events=EventWriter(runtime.db, concurrency=settings.event_writers),
        )
