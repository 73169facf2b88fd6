"""Sending campaign webhook deliveries (``pvideo.jobs.deliveries``) from every process.

With a Redis queue, every ``pvideo worker`` process runs the loop (``DelivererMiddleware``) and
the API process only writes deliveries: sending costs CPU (a claim, a signed POST, a record),
and in the API process it would be taken from the viewers' requests. On PostgreSQL the workers
are woken at the API's commit (``pvideo.jobs.delivery_wake``), so the POST still starts within
milliseconds. In embedded mode the API process sends (it is the worker too); ``webhook_senders``
chooses otherwise. Every sender also polls every ``webhook_poll_seconds`` for retries that fell
due and for work another process left behind.

The loop claims only as many deliveries as it has free threads, so a slow receiver holds one
thread, never the loop. A finished POST hands its outcome back and wakes the loop, which
records all the outcomes that came in in one transaction before it claims more: at hundreds of
answers a second, a commit per delivery would cost the API process more than the POSTs. Claims
are leases (``webhook_lease_seconds``): a process killed mid-delivery leaves its rows to the
others, which send them again with the same ``webhook-id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import dramatiq
from dramatiq.middleware import Middleware

from pvideo.db import leases
from pvideo.jobs import deliveries, signed_post
from pvideo.jobs.deliveries import Outgoing, RetryPolicy
from pvideo.jobs.delivery_wake import DatabaseWakeups
from pvideo.jobs.signed_post import Attempt
from pvideo.runtime import Runtime

log = logging.getLogger(__name__)

OUTAGE_PAUSE = 2.0
IN_FLIGHT_PER_THREAD = 2  # claimed and not yet recorded, per thread: with a 10 s timeout, within the lease
RECORD_BATCH = 16  # seconds between passes while the database fails, rather than a warning per poll


class Deliverer:
    def __init__(self, runtime: Callable[[], Runtime]) -> None:
        self.runtime = runtime
        self.holder = leases.new_holder()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wakeups: DatabaseWakeups | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._busy = 0  # claimed and not yet recorded
        self._outcomes: list[tuple[Outgoing, Attempt]] = []

    def run_once(self, *, flush: bool = True) -> int:
        """Record the outcomes that came in, then claim due deliveries up to ``IN_FLIGHT_PER_THREAD``
        per thread and start them (the pool queues what its threads cannot take yet); how many
        were claimed. Woken by a finished POST (``flush`` False), it waits for a batch: it records
        once ``RECORD_BATCH`` outcomes are in or nothing is left in flight, and claims once half
        the room is free or nothing is in flight, so each query serves many deliveries (a claim
        and a record for one delivery cost ~0.85 ms of CPU; for 64, ~0.08 ms each)."""
        rt = self.runtime()
        settings = rt.settings
        room = settings.webhook_delivery_threads * IN_FLIGHT_PER_THREAD
        with self._lock:
            ready, busy = len(self._outcomes), self._busy
        if flush or ready >= RECORD_BATCH or ready == busy:
            self._record(self._take_outcomes())
        pool = self._pool
        with self._lock:
            free, busy = room - self._busy, self._busy
        if pool is None or free <= 0 or (busy and not flush and free < room // 2):
            return 0
        claimed = deliveries.claim(
            rt.db,
            holder=self.holder,
            limit=free,
            lease_seconds=settings.webhook_lease_seconds,
            base_url=settings.public_base_url,
        )
        for outgoing in claimed:
            with self._lock:
                self._busy += 1
            pool.submit(self._deliver, outgoing).add_done_callback(self._crashed)
        return len(claimed)

    def _deliver(self, outgoing: Outgoing) -> None:
        settings = self.runtime().settings
        headers = signed_post.signed_headers(outgoing.secret, outgoing.id, outgoing.body)
        attempt = signed_post.post(
            outgoing.url,
            outgoing.body,
            headers,
            timeout=settings.webhook_timeout,
            allow_private=settings.webhook_allow_private,
        )
        with self._lock:
            handed = not self._stop.is_set()
            if handed:
                self._outcomes.append((outgoing, attempt))
        if handed:
            self._wakeup.set()
        else:  # the loop has stopped: record it here
            self._record([(outgoing, attempt)])

    def _take_outcomes(self) -> list[tuple[Outgoing, Attempt]]:
        with self._lock:
            taken, self._outcomes = self._outcomes, []
        return taken

    def _record(self, outcomes: list[tuple[Outgoing, Attempt]]) -> None:
        if not outcomes:
            return
        try:
            policy = RetryPolicy.from_settings(self.runtime().settings)
            statuses = deliveries.record(self.runtime().db, outcomes, policy)
        except Exception as exc:  # the database, most likely: the claims lapse and they are sent again
            log.warning("%d webhook outcomes not recorded (sent again once their claims lapse): %s", len(outcomes), exc)
            statuses = [None] * len(outcomes)
        finally:
            with self._lock:
                self._busy -= len(outcomes)
        for (outgoing, attempt), status in zip(outcomes, statuses):
            log.log(
                logging.DEBUG if attempt.ok else logging.INFO,  # a line per failure; successes are in the log table
                "webhook %s (%s): %s in %d ms -> %s",
                outgoing.id,
                outgoing.event_type,
                attempt.status or attempt.error,
                attempt.latency_ms,
                status or "claim lost",
            )

    def _crashed(self, future: Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("webhook delivery thread failed (sent again once its claim lapses): %s", future.exception())
            with self._lock:
                self._busy -= 1

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._pool = ThreadPoolExecutor(
                max_workers=self.runtime().settings.webhook_delivery_threads,
                thread_name_prefix="pvideo-webhook",
            )
            deliveries.listen(self._wakeup)
            db = self.runtime().db
            if DatabaseWakeups.supported(db):
                self._wakeups = DatabaseWakeups(db, self._wakeup)
                self._wakeups.start()
            self._thread = threading.Thread(target=self._loop, name="pvideo-deliverer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop claiming; POSTs under way finish in their threads (at most a timeout or two) and
        record their outcomes themselves."""
        deliveries.unlisten(self._wakeup)
        if self._wakeups is not None:
            self._wakeups.stop()
            self._wakeups = None
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._record(self._take_outcomes())
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _loop(self) -> None:
        poll = self.runtime().settings.webhook_poll_seconds
        woken = False
        while not self._stop.is_set():
            self._wakeup.clear()  # before the pass: a wake during it runs the next pass at once
            try:
                self.run_once(flush=not woken)
            except Exception as exc:  # the database is down: try again a little later
                log.warning("webhook deliverer pass failed: %s", exc)
                self._stop.wait(OUTAGE_PAUSE)
            woken = self._wakeup.wait(poll)


class DelivererMiddleware(Middleware):
    """Starts the deliverer with a Dramatiq worker process and stops it before the worker shuts down."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.deliverer.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.deliverer.stop()
