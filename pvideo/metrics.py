"""Prometheus metrics, computed at scrape time from the shared state.

Workers run on many machines and processes, so per-process counters would
each tell part of the story. Everything here is read from what they share
instead: renders by status and the render-seconds histogram from the
database, queue depth from Redis, events ingested from the events table.
Any API replica gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import case, func, select

from pvideo.db.engine import Database
from pvideo.db.models import Event, Render, RenderStatus

RENDER_SECONDS_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


class PvideoCollector(Collector):
    def __init__(self, db: Database, queue_depth: Callable[[], dict[str, int]]) -> None:
        self.db = db
        self.queue_depth = queue_depth

    def collect(self) -> Iterator:
        with self.db.session() as session:
            by_status = dict(session.execute(select(Render.status, func.count()).group_by(Render.status)).all())
            buckets = session.execute(
                select(
                    *[func.sum(case((Render.render_seconds <= b, 1), else_=0)) for b in RENDER_SECONDS_BUCKETS],
                    func.count(Render.render_seconds),
                    func.coalesce(func.sum(Render.render_seconds), 0.0),
                ).where(Render.render_seconds.is_not(None))
            ).one()
            events = session.scalar(select(func.count()).select_from(Event)) or 0
        renders = GaugeMetricFamily("pvideo_renders", "Renders by status", labels=["status"])
        for status in RenderStatus.ALL:
            renders.add_metric([status], by_status.get(status, 0))
        yield renders
        *cumulative, count, total = buckets
        yield HistogramMetricFamily(
            "pvideo_render_seconds",
            "Wall time of finished renders (claim to stored outputs)",
            buckets=[(str(b), int(c or 0)) for b, c in zip(RENDER_SECONDS_BUCKETS, cumulative)]
            + [("+Inf", int(count or 0))],
            sum_value=float(total or 0),
        )
        depth = GaugeMetricFamily("pvideo_queue_depth", "Messages waiting in each queue", labels=["queue"])
        for queue, size in self.queue_depth().items():
            depth.add_metric([queue], size)
        yield depth
        yield CounterMetricFamily("pvideo_events_ingested", "Viewer events stored", value=events)


def registry(db: Database, queue_depth: Callable[[], dict[str, int]]) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(PvideoCollector(db, queue_depth))
    return reg
