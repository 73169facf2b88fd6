"""What the app holds for its lifetime: runtime (settings, db, storage), queue, tokens, rate limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pvideo.access.ratelimit import RateLimiter
from pvideo.access.tokens import ViewerTokens
from pvideo.jobs.ondemand import OnDemand
from pvideo.runtime import Runtime
from pvideo.tracking.groupcommit import EventWriter
from workers.queue import RenderQueue


class OnePerUser:
    """Which users hold a slot now (a sample render in the studio): one at a time each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: set[str] = set()

    @contextmanager
    def one_for(self, user_id: str) -> Iterator[bool]:
        """Yields whether the slot was free; it is the caller's until the block ends."""
        with self._lock:
            free = user_id not in self._users
            self._users.add(user_id)
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self._users.discard(user_id)


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
    sample_renders: OnePerUser = field(default_factory=OnePerUser)

    @classmethod
    def build(cls, runtime: Runtime) -> AppState:
        settings = runtime.settings
        queue = RenderQueue(runtime)
        return cls(
            runtime=runtime,
            queue=queue,
            tokens=ViewerTokens(settings.signing_key, max_age=settings.viewer_token_max_age_days * 86400),
            event_limiter=RateLimiter(settings.event_rate_per_second, settings.event_rate_burst),
            auth_failures=RateLimiter(settings.auth_failures_per_minute / 60, settings.auth_failure_burst),
            ondemand=OnDemand(runtime, queue.scheduler),  # one order for on-demand and embedded eager parts
            events=EventWriter(runtime.db, concurrency=settings.event_writers),
        )
