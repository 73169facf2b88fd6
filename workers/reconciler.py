"""Running the reconciler (``pvideo.jobs.reconcile``) every few seconds, in one place at a time.

Every ``pvideo worker`` process runs the loop (``ReconcilerMiddleware``), and the
embedded queue runs it in the API process. Each pass first takes the database
lease ``reconciler``, so a deployment of many workers on many machines makes
one pass per interval; if the holder dies, its lease lapses and another takes
over. The first pass runs at start-up: work stranded before a restart moves at
once. Each pass also sends again the pending erasure jobs no one works on
(``pvideo.privacy.erasure.due_jobs``: a killed runner's, or one whose storage backoff is over).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import dramatiq
from dramatiq.middleware import Middleware

from pvideo.db import leases
from pvideo.jobs import pipeline
from pvideo.jobs.reconcile import Pass, WorkQueue, reconcile
from pvideo.privacy import erasure
from pvideo.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = "reconciler"


class Queue(WorkQueue, Protocol):
    def send_erasure(self, job_id: str) -> None: ...


class Reconciler:
    def __init__(self, runtime: Callable[[], Runtime], queue: Queue) -> None:
        self.runtime = runtime
        self.queue = queue
        self.holder = leases.new_holder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Pass | None:
        """One pass if this process holds the lease (None if another does, or the pass failed)."""
        rt = self.runtime()
        settings = rt.settings
        try:
            if not leases.acquire(rt.db, LEASE, self.holder, settings.reconcile_interval * 3):
                return None
            done = reconcile(
                rt.db,
                self.queue,
                grace_seconds=settings.reconcile_grace_seconds,
                lease_seconds=settings.render_lease_seconds,
                max_attempts=pipeline.max_attempts(settings),
            )
            for job_id in erasure.due_jobs(rt.db, grace_seconds=settings.reconcile_grace_seconds):
                self.queue.send_erasure(job_id)
            return done
        except Exception as exc:  # the database or Redis is down: the next pass tries again
            log.warning("reconciler pass failed: %s", exc)
            return None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="pvideo-reconciler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            leases.release(self.runtime().db, LEASE, self.holder)
        except Exception as exc:
            log.info("reconciler lease not released (it lapses by itself): %s", exc)

    def _loop(self) -> None:
        interval = self.runtime().settings.reconcile_interval
        while True:
            self.run_once()
            if self._stop.wait(interval):
                return


class ReconcilerMiddleware(Middleware):
    """Starts the reconciler loop with a Dramatiq worker and stops it before the worker shuts down."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.reconciler.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.reconciler.stop()
