"""``python -m bench.queue``: what the queue costs, measured on the configured Redis and database.

1. **Ingest**: a generated N-row CSV (default 100k) is streamed into a campaign
   and fanned out to Redis in pipelined batches. Reports seconds, rows/s, the
   process's peak RSS and the Redis round trips the fan-out took.
2. **Queue overhead**: renders/minute of ``pipeline.render_customer`` called
   in a loop, against a real ``dramatiq workers.main`` worker (1 process,
   1 thread) rendering as many other rows through Redis, in alternating
   batches so both see the same machine load. Rows differ, so nothing is
   reused. The queued time runs from the fan-out message to the last row done.

Everything goes to a Redis namespace of its own (``<namespace>-bench``),
flushed afterwards; campaigns are left in the database, named ``bench-*``.
Campaigns are submitted as the API and the CLI submit them (``campaigns.submit``).

Run it from the repository root, with ``PVIDEO_REDIS_URL`` (and ``PVIDEO_DATABASE_URL``) set:
``python -m bench.queue [--rows 100000] [--renders 20] [--scene SCENE.yaml] [--json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from redis.connection import Connection
from rich.console import Console

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import RenderStatus
from pvideo.jobs import fanout
from pvideo.jobs.campaigns import CampaignRequest, status_counts, submit
from pvideo.scene.customers import CustomerRow, stream_customers
from pvideo.scene.spec import SceneSpec, load_scene
from pvideo.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from pvideo.runtime import Runtime


class _CountingConnection(Connection):
    sends = 0

    def send_packed_command(self, command, check_health=True):
        _CountingConnection.sends += 1
        return super().send_packed_command(command, check_health)


def sample_value(kind: str, i: int, tag: str) -> Any:
    return {"str": f"{tag}{i}", "int": i, "float": i + 0.99, "bool": i % 2 == 0}[kind]


def sample_row(spec: SceneSpec, i: int, tag: str) -> dict[str, Any]:
    row = {name: sample_value(f.type, i, tag) for name, f in spec.fields.items()}
    row[spec.id_field] = f"{tag}{i}"
    return row


def write_csv(path: Path, spec: SceneSpec, rows: int, tag: str) -> Path:
    columns = list(dict.fromkeys([spec.id_field, *spec.fields]))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for i in range(1, rows + 1):
            writer.writerow(sample_row(spec, i, tag))
    return path


def _bench_settings(settings: Settings, rows: int) -> Settings:
    """A Redis namespace of the benchmark's own; a row limit that lets the ``rows`` asked for through."""
    return settings.model_copy(
        update={"redis_namespace": f"{settings.redis_namespace}-bench", "max_rows": max(settings.max_rows, rows)}
    )


def ingest(settings: Settings, spec: SceneSpec, rows: int) -> dict[str, Any]:
    from pvideo.runtime import Runtime
    from workers.actors import declare_for
    from workers.broker import PvideoRedisBroker

    runtime = Runtime.from_settings(settings)
    broker = PvideoRedisBroker(
        client=redis.Redis.from_url(settings.redis_url, connection_class=_CountingConnection),
        heartbeat_timeout_ms=10_000,
        maintenance_interval=2,
        namespace=settings.redis_namespace,
    )
    actors = declare_for(broker, lambda: runtime, settings)
    with tempfile.TemporaryDirectory(prefix="pvideo-bench-") as tmp:
        path = write_csv(Path(tmp) / "customers.csv", spec, rows, "ingest")
        started = time.perf_counter()
        request = CampaignRequest(
            spec=spec, rows=stream_customers(path, spec), source=str(path), name=f"bench-ingest-{rows}"
        )
        with runtime.db.session() as session:
            sub = submit(session, request, settings=settings, tokens=ViewerTokens(settings.signing_key))
            campaign_id = sub.campaign.id
            sub.queued.clear()
        stored = time.perf_counter()
        _CountingConnection.sends = 0
        sent = fanout.fan_out(runtime.db, campaign_id, actors.send_renders, batch_size=settings.fanout_batch_size)
        done = time.perf_counter()
    depth = broker.queue_depth("renders")
    broker.flush_all()
    broker.close()
    runtime.db.dispose()
    return {
        "rows": rows,
        "enqueued": sent,
        "queue_depth_seen": depth,
        "store_seconds": round(stored - started, 2),
        "fan_out_seconds": round(done - stored, 2),
        "total_seconds": round(done - started, 2),
        "rows_per_second": round(rows / (done - started)),
        "redis_round_trips": _CountingConnection.sends,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _submit(runtime: Runtime, spec: SceneSpec, n: int, tag: str) -> tuple[str, list[str]]:
    rows = [CustomerRow(i, sample_row(spec, i, tag)) for i in range(1, n + 1)]
    settings = runtime.settings
    with runtime.db.session() as session:
        sub = submit(
            session,
            CampaignRequest(spec=spec, rows=rows, name=f"bench-{tag}"),
            settings=settings,
            tokens=ViewerTokens(settings.signing_key),
        )
        return sub.campaign.id, sub.queued


def overhead(settings: Settings, spec: SceneSpec, renders: int, rounds: int = 4) -> dict[str, Any]:
    """Alternate ``rounds`` direct batches and queued batches, so both see the same machine load."""
    from pvideo.jobs.pipeline import render_customer
    from pvideo.runtime import Runtime
    from workers.queue import RenderQueue

    runtime = Runtime.from_settings(settings)
    env = {
        **os.environ,
        **{
            f"PVIDEO_{k.upper()}": str(v)
            for k, v in {
                "redis_url": settings.redis_url,
                "redis_namespace": settings.redis_namespace,
                "database_url": settings.resolved_database_url,
                "storage_url": settings.resolved_storage_url,
                "s3_endpoint_url": settings.s3_endpoint_url,
                "assets_dir": settings.assets_dir,
                "scenes_dir": settings.scenes_dir,
                "data_dir": settings.data_dir,
                "secret_key": settings.signing_key,
                "x264_preset": settings.x264_preset,
                "ffmpeg": settings.ffmpeg,
                "log_format": "text",
            }.items()
            if v is not None
        },
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "workers.main",
            "--processes",
            "1",
            "--threads",
            "1",
            "--queues",
            "renders",
            "campaigns",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    queue = RenderQueue(runtime)
    per_round = max(1, renders // rounds)
    direct_seconds = queued_seconds = 0.0
    done = 0
    try:
        time.sleep(3)  # let the worker import and connect before any clock starts
        for r in range(rounds):
            tag = f"{int(time.time())}-{r}-"
            _, direct_ids = _submit(runtime, spec, per_round, "direct-" + tag)
            started = time.perf_counter()
            for render_id in direct_ids:
                render_customer(runtime.db, runtime.storage, settings, render_id)
            direct_seconds += time.perf_counter() - started

            campaign_id, _ = _submit(runtime, spec, per_round, "queued-" + tag)
            started = time.perf_counter()
            queue.fan_out(campaign_id)
            while True:
                with runtime.db.session() as session:
                    counts = status_counts(session, campaign_id)
                if sum(counts[s] for s in RenderStatus.FINISHED) >= per_round:
                    break
                time.sleep(0.05)
            queued_seconds += time.perf_counter() - started
            done += counts["done"]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        queue.broker.flush_all()
        queue.close()
    total = per_round * rounds
    direct_rate, queued_rate = total * 60 / direct_seconds, total * 60 / queued_seconds
    return {
        "renders": total,
        "rounds": rounds,
        "scene": spec.name,
        "done_through_queue": done,
        "direct_renders_per_minute": round(direct_rate, 1),
        "worker_renders_per_minute": round(queued_rate, 1),
        "worker_vs_direct": round(queued_rate / direct_rate, 3),
    }


def run(
    settings: Settings, *, rows: int, renders: int, scene: Path | None, console: Console | None = None
) -> dict[str, Any]:
    """Both benchmarks (either skipped at 0); ``console`` gets a line as each starts."""
    settings = _bench_settings(settings, rows)
    spec = load_scene(scene or settings.scenes_dir / "welcome.yaml")
    report: dict[str, Any] = {
        "database": settings.resolved_database_url.split(":", 1)[0],
        "storage": settings.resolved_storage_url.split(":", 1)[0],
    }
    if rows:
        if console:
            console.print(f"ingest: {rows} rows ...")
        report["ingest"] = ingest(settings, spec, rows)
    if renders:
        if console:
            console.print(f"queue overhead: {renders} renders direct, {renders} through a worker ...")
        report["overhead"] = overhead(settings, spec, renders)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue",
        description="Measure 100k-row ingest + fan-out (time, peak RSS, Redis round trips) and queue overhead.",
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the ingest benchmark (default: 100000)")
    parser.add_argument(
        "--renders", type=int, default=20, help="renders in the queue-overhead benchmark (0: skip; default: 20)"
    )
    parser.add_argument("--scene", type=Path, default=None, help="scene for the overhead benchmark")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    settings = Settings()
    if not settings.redis_url:
        Console(stderr=True).print(
            "[red]error:[/red] bench.queue measures the Redis queue: set PVIDEO_REDIS_URL", highlight=False
        )
        raise SystemExit(1)
    console = None if args.json else Console()
    report = run(settings, rows=args.rows, renders=args.renders, scene=args.scene, console=console)
    if console is None:
        print(json.dumps(report, indent=2))
    else:
        console.print_json(json.dumps(report))


if __name__ == "__main__":
    main()
