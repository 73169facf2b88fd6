"""Sending renders to the workers, and the in-process worker of embedded mode."""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq

from workers.actors import RENDER_QUEUE, declare_render_actor
from workers.broker import build_broker, is_embedded
from workers.runtime import Runtime


class RenderQueue:
    """Enqueues render ids. Without Redis, it also runs the worker threads itself."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.broker = build_broker(runtime.settings)
        self.actor = declare_render_actor(self.broker, lambda: runtime)
        self._worker: dramatiq.Worker | None = None

    @property
    def embedded(self) -> bool:
        return is_embedded(self.broker)

    def start(self) -> None:
        """Start in-process worker threads (embedded mode only; a no-op with Redis)."""
        if self.embedded and self._worker is None:
            self._worker = dramatiq.Worker(self.broker, worker_threads=self.runtime.settings.worker_threads)
            self._worker.start()

    def enqueue(self, render_ids: Iterable[str]) -> int:
        count = 0
        for render_id in render_ids:
            self.actor.send(render_id)
            count += 1
        return count

    def join(self, timeout_ms: int | None = None) -> None:
        """Wait until the embedded queue is drained (renders done or failed)."""
        if self.embedded:
            self.start()
            self.broker.join(RENDER_QUEUE, timeout=timeout_ms, fail_fast=False)
            if self._worker is not None:
                self._worker.join()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.broker.close()
