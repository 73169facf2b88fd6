"""Sending work to the workers, and the in-process worker of embedded mode."""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq
from dramatiq.brokers.stub import StubBroker

from pvideo.jobs import outbox
from pvideo.jobs.fanout import mark_enqueued, send_in_batches
from pvideo.jobs.scheduling import EncodeScheduler
from pvideo.runtime import Runtime
from workers.actors import CAMPAIGN_QUEUE, QUEUES, RENDER_QUEUE, WEBHOOK_QUEUE, declare_for
from workers.broker import PvideoRedisBroker, build_broker, is_embedded
from workers.reconciler import Reconciler


class RenderQueue:
    """Enqueues campaigns and renders. Without Redis, it also runs the worker threads and the
    reconciler itself (with Redis, ``pvideo worker`` processes do). ``scheduler`` orders this
    process's part encodes (``pvideo.jobs.scheduling``): embedded, its renders are eager work."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.broker = build_broker(runtime.settings)
        self.scheduler = EncodeScheduler()
        embedded = is_embedded(self.broker)
        self.actors = declare_for(self.broker, lambda: runtime, runtime.settings, self.scheduler if embedded else None)
        self.actor = self.actors.render
        self.reconciler = Reconciler(lambda: runtime, self.actors)
        self._worker: dramatiq.Worker | None = None

    @property
    def embedded(self) -> bool:
        return is_embedded(self.broker)

    def start(self) -> None:
        """Start in-process worker threads and the reconciler (embedded mode only; a no-op with Redis)."""
        if self.embedded and self._worker is None:
            self._worker = dramatiq.Worker(self.broker, worker_threads=self.runtime.settings.worker_threads)
            self._worker.start()
            self.reconciler.start()

    def dispatch(self, outbox_entry: int | None) -> bool:
        """Send a submission's fan-out now; False if the queue is unreachable (the reconciler sends it later)."""
        if outbox_entry is None:
            return True
        return outbox.dispatch(self.runtime.db, outbox_entry, self.actors.send_fan_out)

    def fan_out(self, campaign_id: str) -> None:
        """Send a campaign's fan-out directly (tests, benchmarks); submissions go through ``dispatch``."""
        self.actors.send_fan_out(campaign_id)

    def ingest_asset(self, sha256: str) -> None:
        """Send an uploaded video's template ingest to a worker (in-process when embedded)."""
        self.actors.ingest.send(sha256)

    def enqueue(self, render_ids: Sequence[str]) -> int:
        """Enqueue renders in pipelined batches (one Redis round trip per batch) and stamp them sent.

        Raises if the queue is unreachable; the rows stay queued and the reconciler sends them.
        """
        ids = list(render_ids)
        sent = send_in_batches(ids, self.actors.send_renders, batch_size=self.runtime.settings.fanout_batch_size)
        with self.runtime.db.session() as session:
            mark_enqueued(session, ids)
        return sent

    def depth(self) -> dict[str, int]:
        """Messages waiting per queue (Redis only; empty when embedded)."""
        if isinstance(self.broker, PvideoRedisBroker):
            return {q: self.broker.queue_depth(q) for q in QUEUES}
        return {}

    def ping(self) -> None:
        """Raise unless Redis answers (nothing to ask when embedded)."""
        if isinstance(self.broker, PvideoRedisBroker):
            self.broker.client.ping()

    def join(self, timeout_ms: int | None = None) -> None:
        """Wait until the embedded queues are drained (renders done or failed, webhooks sent)."""
        if isinstance(self.broker, StubBroker):  # embedded
            self.start()
            for queue in (CAMPAIGN_QUEUE, RENDER_QUEUE, WEBHOOK_QUEUE):
                self.broker.join(queue, timeout=timeout_ms, fail_fast=False)
            if self._worker is not None:
                self._worker.join()

    def close(self) -> None:
        if self._worker is not None:
            self.reconciler.stop()
            self._worker.stop()
            self._worker = None
        self.broker.close()
