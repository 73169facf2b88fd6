"""Who encodes next: viewers' first parts, then parts by the time playback needs them, then eager work.

A burst of first views (an email just went out) makes many renders compete
for a few cores. What a viewer feels is the wait for their first personalized
part (the player starts once it exists) and any stall later on; an eager
campaign's row can wait. So every part encode of a process asks
``EncodeScheduler`` for a slot, and waiting encodes are granted in
``priority`` order:

1. every viewer's first part, oldest view first;
2. later parts, by the time playback reaches them (view time + the part's
   start in the video): the earliest deadline first;
3. eager renders' parts (and any render's thumbnails and storing), in the
   order they asked;

except that while viewers' work waits, every ``EAGER_EVERY``-th grant goes to
the oldest eager work, if any waits: a burst slows an eager campaign down by
that share, and never stops it.

Why here and not in the queue: Dramatiq's actor ``priority`` only orders the
messages a worker has already fetched, and neither separate queues nor
priorities can preempt a render in progress, so a viewer's part would wait for
a whole eager render (seconds to minutes) to end. A part encode (one to three
segments) is the unit that frees a core soonest, so that is the unit ordered.
Nothing is prefetched: a waiting encode holds only its own thread. On-demand
renders run in the server process (``pvideo.jobs.ondemand``); with the embedded
broker its eager renders ask the same scheduler. Worker processes on Redis
render eager rows at a lowered CPU priority (``pvideo.render.priority``).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    """The classes of work, most urgent first."""

    FIRST = 0  # a viewer's first personalized part: the player starts when it exists
    LATER = 1  # a viewer's later part: needed when playback reaches it
    EAGER = 2  # a campaign rendered ahead of any view


@dataclass(frozen=True)
class Work:
    """One part encode waiting for a slot. ``due``: when it was asked for (first parts, eager) or
    when playback needs it (later parts), on the scheduler's clock; ``seq``: the order of asking."""

    kind: Kind
    due: float
    seq: int


def priority(work: Work) -> tuple[int, float, int]:
    """The sort key: class, then time (asked or needed), then the order of asking."""
    return (int(work.kind), work.due, work.seq)


def order(pending: Iterable[Work]) -> list[Work]:
    """``pending`` by ``priority`` (the order slots are granted in, ``EAGER_EVERY`` aside)."""
    return sorted(pending, key=priority)


EAGER_EVERY = 8
"""One grant in this many goes to eager work while viewers' work waits (about 12% of the encodes)."""


def next_work(pending: Sequence[Work], viewer_grants: int, eager_every: int = EAGER_EVERY) -> Work:
    """The work granted next. ``viewer_grants``: grants in a row to viewers' work while eager work
    waited; at ``eager_every - 1`` of them, the oldest eager work goes first."""
    first = min(pending, key=priority)
    if first.kind != Kind.EAGER and viewer_grants >= eager_every - 1:
        eager = [w for w in pending if w.kind == Kind.EAGER]
        if eager:
            return min(eager, key=priority)
    return first


class EncodeScheduler:
    """``slots`` part encodes at a time, granted in ``priority`` order (no preemption)."""

    def __init__(self, slots: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = slots or os.cpu_count() or 2
        self.clock = clock
        self._free = self.slots
        self._waiting: list[Work] = []
        self._viewer_grants = 0  # in a row, while eager work waited
        self._granted: set[Work] = set()
        self._seq = itertools.count()
        self._cond = threading.Condition()

    def work(self, kind: Kind, due: float | None = None) -> Work:
        """A new ``Work``; ``due`` defaults to now."""
        return Work(kind, self.clock() if due is None else due, next(self._seq))

    @contextmanager
    def slot(self, kind: Kind, due: float | None = None) -> Iterator[None]:
        """Hold a slot for the block; waits until every more urgent encode has had one."""
        work = self.work(kind, due)
        with self._cond:
            self._waiting.append(work)
            self._grant()
            while work not in self._granted:
                self._cond.wait()
            self._granted.discard(work)
        try:
            yield
        finally:
            with self._cond:
                self._free += 1
                self._grant()

    def waiting(self) -> list[Work]:
        """The encodes waiting now, in the order they will be granted."""
        with self._cond:
            return order(self._waiting)

    def _grant(self) -> None:
        while self._free and self._waiting:
            work = next_work(self._waiting, self._viewer_grants)
            eager_waits = any(w.kind == Kind.EAGER for w in self._waiting)
            self._viewer_grants = self._viewer_grants + 1 if work.kind != Kind.EAGER and eager_waits else 0
            self._waiting.remove(work)
            self._granted.add(work)
            self._free -= 1
        self._cond.notify_all()
