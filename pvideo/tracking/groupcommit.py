"""Group commit for viewer events: concurrent requests share one transaction.

Each request hands its batch to the process's ``EventWriter`` and waits. The writer stores
everything that queued while its previous transaction ran in one transaction (``ingest_many``:
one statement per step, whatever the number of requests) and answers each request only after
that commit, so an acknowledged event is a stored one. Under load the groups grow and the
statements and commits per request shrink; an idle server writes a lone batch at once (no
timer). If a group's transaction fails, its requests are retried one transaction each, so one
bad request cannot sink the others.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import select

from pvideo.db.bulk import one_of
from pvideo.db.engine import Database
from pvideo.db.models import Render
from pvideo.tracking.events import Batch, Ingested, ingest_many


@dataclass
class Pending:
    """A request's batch: the token it came with and the render id the token names."""

    token: str
    render_id: str
    events: list[Any]
    sent_at: datetime | None = None
    device: str | None = None


class EventWriter:
    def __init__(self, db: Database, *, concurrency: int = 1, max_events: int = 5000) -> None:
        self.db = db
        self.concurrency, self.max_events = concurrency, max_events
        self._queue: deque[tuple[Pending, asyncio.Future[Ingested | None]]] = deque()
        self._drains: set[asyncio.Task[None]] = set()

    async def submit(self, pending: Pending) -> Ingested | None:
        """Store ``pending`` with whatever else is queued; ``None`` when its token no longer opens the render."""
        future: asyncio.Future[Ingested | None] = asyncio.get_running_loop().create_future()
        self._queue.append((pending, future))
        if len(self._drains) < self.concurrency:
            task = asyncio.create_task(self._drain())
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._queue:
            group: list[tuple[Pending, asyncio.Future[Ingested | None]]] = []
            events = 0
            while self._queue and (not group or events + len(self._queue[0][0].events) <= self.max_events):
                group.append(self._queue.popleft())
                events += len(group[-1][0].events)
            items = [pending for pending, _ in group]
            try:
                results: list[Any] = await anyio.to_thread.run_sync(self.store, items)
            except Exception:
                results = [await self._store_alone(pending) for pending in items]
            for (_, future), result in zip(group, results, strict=True):
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _store_alone(self, pending: Pending) -> Ingested | BaseException | None:
        try:
            return (await anyio.to_thread.run_sync(self.store, [pending]))[0]
        except Exception as exc:
            return exc

    def store(self, items: list[Pending]) -> list[Ingested | None]:
        """One transaction for ``items``: look up their renders, then ``ingest_many``."""
        with self.db.session() as session:
            conn = session.connection()
            renders = {
                r.id: r
                for r in conn.execute(
                    select(Render.id, Render.campaign_id, Render.duration, Render.hotspots, Render.viewer_token).where(
                        one_of(conn, Render.id, {p.render_id for p in items})
                    )
                )
            }
            slots: list[int | None] = []  # each item's index in batches; None when refused
            batches: list[Batch] = []
            for pending in items:
                render = renders.get(pending.render_id)
                if render is None or render.viewer_token != pending.token:  # deleted, or token revoked
                    slots.append(None)
                else:
                    slots.append(len(batches))
                    batches.append(Batch(render, pending.events, pending.sent_at, pending.device))
            results = ingest_many(session, batches)
        return [None if slot is None else results[slot] for slot in slots]
