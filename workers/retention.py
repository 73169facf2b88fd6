"""Applying retention (``pvideo.privacy.retention``) every ``retention_interval_seconds``, in one
process of the deployment at a time.

Every ``pvideo worker`` process runs the loop (``RetentionMiddleware``), and the API process runs
it in embedded mode. A pass first takes the database lease ``retention`` for three intervals and
keeps renewing it while it runs, so however many workers and machines there are, one of them
does the work; the holder keeps the lease from pass to pass, and if it dies the lease lapses and
another process takes over. A plain thread, like the reconciler's, rather than a scheduler
library or a periodic Dramatiq message: the work is one function call an hour, the lease already
gives the "once across the deployment" a cron-like scheduler would need a broker-side lock for,
and nothing is added to the queue that renders compete for. The first pass runs at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import dramatiq
from dramatiq.middleware import Middleware

from pvideo.db import leases
from pvideo.privacy.retention import RetentionReport, apply_retention
from pvideo.runtime import Runtime

log = logging.getLogger(__name__)

LEASE = "retention"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RetentionRunner:
    def __init__(self, runtime: Callable[[], Runtime], *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.runtime = runtime
        self.clock = clock
        self.holder = leases.new_holder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> RetentionReport | None:
        """One run if this process holds the lease (None if another does, or the run failed)."""
        rt = self.runtime()
        seconds = rt.settings.retention_interval_seconds * 3
        try:
            if not leases.acquire(rt.db, LEASE, self.holder, seconds):
                return None

            def renew() -> None:
                if not leases.acquire(rt.db, LEASE, self.holder, seconds):
                    log.warning("retention lease lapsed and was taken over while %s ran", self.holder)

            with leases.renewing(renew, every=min(seconds / 3, 60.0), what="the retention lease"):
                report = apply_retention(rt, now=self.clock())
        except Exception as exc:  # the database is down: the next pass tries again
            log.warning("retention run failed: %s", exc)
            return None
        if report.changed or report.errors:
            log.info("retention run: %s", report.totals(), extra={"errors": report.errors})
        return report

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="pvideo-retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the loop (if started) and give the lease up for another process to take at once."""
        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(timeout=30)
        self._thread = None
        try:
            leases.release(self.runtime().db, LEASE, self.holder)
        except Exception as exc:
            log.info("retention lease not released (it lapses by itself): %s", exc)

    def _loop(self) -> None:
        interval = self.runtime().settings.retention_interval_seconds
        while not self._stop.is_set():
            self.run_once()
            if self._stop.wait(interval):
                return


class RetentionMiddleware(Middleware):
    """Starts the retention loop with a Dramatiq worker process and stops it before the worker shuts down."""

    def __init__(self, runner: RetentionRunner) -> None:
        self.runner = runner

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.runner.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.runner.stop()
