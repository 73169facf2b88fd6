"""Waking the deliverers when a webhook delivery is written, in this process and in the others.

In this process, ``wake`` sets the events the deliverer loops wait on. Across processes, on
PostgreSQL, the transaction that writes deliveries also sends ``NOTIFY pvideo_webhooks``:
PostgreSQL hands the notification to every listener when, and only if, the transaction commits,
so a worker process's deliverer (``DatabaseWakeups``) starts the POST within milliseconds of
the API's commit, not at its next poll. That is what lets the API process leave the sending to
the workers (``webhook_senders``): answering a viewer then costs the API the same with
subscriptions as without. SQLite has no notifications; there the API is the only process
(embedded mode) and sends itself.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from pvideo.db.engine import Database

log = logging.getLogger(__name__)

CHANNEL = "pvideo_webhooks"
_NOTIFY = text(f"NOTIFY {CHANNEL}")
_WAKE_PENDING = "pvideo_webhooks_wake"
_NOTIFIED = "pvideo_webhooks_notified"
RECONNECT_PAUSE = 2.0

_listeners: set[threading.Event] = set()
_listeners_lock = threading.Lock()


def listen(wakeup: threading.Event) -> None:
    """Have ``wake`` set ``wakeup`` (a deliverer's loop waits on it)."""
    with _listeners_lock:
        _listeners.add(wakeup)


def unlisten(wakeup: threading.Event) -> None:
    with _listeners_lock:
        _listeners.discard(wakeup)


def wake() -> None:
    """Tell this process's deliverers there is new work, so it is sent now rather than at the next poll."""
    with _listeners_lock:
        for wakeup in _listeners:
            wakeup.set()


def wake_after_commit(session: Session) -> None:
    """Wake this process's deliverers once the caller's transaction commits (the rows are not
    visible before), and, on PostgreSQL, every other process's (one ``NOTIFY`` per transaction)."""
    if _WAKE_PENDING not in session.info:
        event.listen(session, "after_commit", _woken)
    session.info[_WAKE_PENDING] = True
    transaction = session.get_transaction()
    if session.get_bind().dialect.name == "postgresql" and session.info.get(_NOTIFIED) is not transaction:
        session.execute(_NOTIFY)
        session.info[_NOTIFIED] = transaction


def _woken(session: Session) -> None:
    if session.info.get(_WAKE_PENDING):
        session.info[_WAKE_PENDING] = False
        wake()


class DatabaseWakeups:
    """A thread that ``LISTEN``s on PostgreSQL and sets ``wakeup`` at each notification, on a
    connection of its own (a pooled one would be lost to the pool while it waits). A lost
    connection is opened again after a pause; meanwhile the deliverer still polls."""

    def __init__(self, db: Database, wakeup: threading.Event) -> None:
        self.url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.wakeup = wakeup
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = False

    @staticmethod
    def supported(db: Database) -> bool:
        return db.engine.dialect.name == "postgresql"

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pvideo-webhook-wakeups", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    self.wakeup.set()  # what was written while no one listened
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.wakeup.set()
            except psycopg.Error as exc:
                self.listening = False
                log.warning("webhook wake-ups from the database lost (polling meanwhile): %s", exc)
                self._stop.wait(RECONNECT_PAUSE)
