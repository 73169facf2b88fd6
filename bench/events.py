"""Event benchmarks against PostgreSQL: ``python -m bench.events ingest|analytics``.

``ingest``: the real server (``pvideo serve --workers N``) on a fresh schema; one asyncio
process runs ``clients`` closed loops, each on a keep-alive connection, POSTing pre-serialized
batches as ``api/static/tracker.js`` sends them (visits to random viewer links, grouped by the
batching constants read from tracker.js; ``--batching previous`` replays the tracker before it
batched like analytics.js, ~1.16 events per request; ``--batch N`` regroups each visit into
requests of N) for ``seconds``. Reports events/s and requests/s,
latency percentiles, the CPU seconds of the server and of the load generator, and checks that
every acknowledged event is stored exactly once (lost = acknowledged but missing).

``analytics``: COPYs ``events`` events (sessions of ~50 events, one per viewer) into a fresh
schema, builds the rollups from them (what ingestion keeps up to date), and times
``campaign_analytics`` (first call and the median of the next five, wall and CPU).

The figures print as a table, or with ``--json`` as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.tracker import CTA, PREVIOUS_TRACKER, TRACKER, Batching, tracker_batches
from pvideo.access.tokens import ViewerTokens
from pvideo.db.engine import Database, normalize_url
from pvideo.db.models import Campaign, Render, RenderStatus, new_id
from pvideo.tracking.rollups import rebuild_campaign

SECRET = "bench-" + "x" * 40


def _schema(url: str) -> tuple[str, str]:
    schema = f"pvideo_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in url else "?"
    return schema, f"{url}{sep}options=-csearch_path%3D{schema}"


def _drop(url: str, schema: str) -> None:
    admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _campaign(db: Database, renders: int, duration: float = 60.0) -> tuple[str, list[tuple[str, str]]]:
    tokens = ViewerTokens(SECRET)
    out = []
    with db.session() as session:
        campaign = Campaign(id=new_id(), name="bench", scene_name="bench", scene={"layers": [dict(CTA, type="cta")]})
        session.add(campaign)
        session.flush()
        for n in range(renders):
            rid = new_id()
            token = tokens.issue(rid)
            session.add(
                Render(
                    id=rid,
                    campaign_id=campaign.id,
                    row_number=n + 1,
                    customer_id=f"c{n}",
                    status=RenderStatus.DONE,
                    duration=duration,
                    width=1280,
                    height=720,
                    hotspots=[CTA],
                    viewer_token=token,
                )
            )
            out.append((rid, token))
        return campaign.id, out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bodies(
    links: list[tuple[str, str]], rng: random.Random, visits: int, batch: int = 0, batching: Batching = TRACKER
) -> list[tuple[bytes, list[str]]]:
    """Pre-serialized request bodies of ``visits`` tracker visits to random links, with their event ids;
    ``batch`` > 0 regroups each visit's events into requests of that many (a tracker batching more)."""
    now = datetime.now(UTC)
    out = []
    for _ in range(visits):
        _, token = rng.choice(links)
        batches = tracker_batches(rng, now, batching=batching)
        if batch:
            events = [e for b in batches for e in b]
            batches = [events[i : i + batch] for i in range(0, len(events), batch)]
        for events in batches:
            body = json.dumps({"token": token, "sent_at": events[-1]["client_ts"], "events": events})
            out.append((body.encode(), [e["event_id"] for e in events]))
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process and its children (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for child in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


async def _load(base: str, bodies: list[list[tuple[bytes, list[str]]]], seconds: float, rate: float = 0) -> dict:
    """One asyncio process: a loop per client, each on its own keep-alive connection. Closed (the next
    request as soon as the answer is in), or at ``rate`` events/s in all: each client then sends on a
    fixed schedule and latency counts from the scheduled time, so a slow server is not excused by the
    requests it delayed (no coordinated omission)."""
    import aiohttp

    latencies: list[float] = []
    acked: list[str] = []
    statuses: dict[int, int] = {}
    answers = {"stored": 0, "duplicates": 0, "failed": 0}
    deadline = time.monotonic() + seconds
    headers = {"content-type": "text/plain", "user-agent": "Mozilla/5.0 (iPhone) pvideo-bench"}

    async def client(n: int, mine: list[tuple[bytes, list[str]]], http: aiohttp.ClientSession) -> None:
        due = time.perf_counter() + (n * len(mine[0][1]) / rate if rate and mine else 0)  # staggered starts
        for body, ids in mine:
            if time.monotonic() >= deadline:
                return
            start = time.perf_counter()
            if rate:
                await asyncio.sleep(max(0.0, due - start))
                start, due = due, due + len(ids) * len(bodies) / rate
            try:
                async with http.post(f"{base}/api/events", data=body, headers=headers) as r:
                    code, answer = r.status, await r.read()
            except aiohttp.ClientError:
                code, answer = 0, b""
            latencies.append(time.perf_counter() - start)
            statuses[code] = statuses.get(code, 0) + 1
            if code == 200:
                acked.extend(ids)
                for key, value in json.loads(answer).items():
                    if key in answers:
                        answers[key] += value

    connector = aiohttp.TCPConnector(limit=len(bodies))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        began = time.monotonic()
        await asyncio.gather(*(client(n, mine, http) for n, mine in enumerate(bodies)))
        elapsed = time.monotonic() - began
    return {"latencies": latencies, "acked": acked, "statuses": statuses, "answers": answers, "elapsed": elapsed}


def _env(schema_url: str, env_extra: dict[str, str] | None = None) -> dict[str, str]:
    """The bench's settings for a pvideo process: its schema, no Redis unless ``env_extra`` says so."""
    env = {k: v for k, v in os.environ.items() if k != "PVIDEO_REDIS_URL"}
    env.update(
        PVIDEO_DATABASE_URL=schema_url,
        PVIDEO_SECRET_KEY=SECRET,
        PVIDEO_API_KEYS="bench",
        PVIDEO_LOG_FORMAT="text",
        PVIDEO_LOG_LEVEL="WARNING",
        **(env_extra or {}),
    )
    return env


def wait_healthy(base: str, timeout: float = 30.0) -> None:
    """Until the server at ``base`` answers ``/healthz`` (it may be starting its processes)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the server at {base} did not answer /healthz in {timeout:g} s")
        time.sleep(0.1)


def _server(
    schema_url: str, port: int, workers: int, access_log: bool, env_extra: dict[str, str] | None = None
) -> subprocess.Popen:
    """``pvideo serve --workers N``: the server as documented for production (``env_extra``: more settings)."""
    env = _env(schema_url, env_extra)
    command = [
        sys.executable,
        "-c",
        "from pvideo.cli import app; app()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--access-log" if access_log else "--no-access-log",
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def bench_ingest(
    url: str,
    *,
    seconds: float,
    clients: int,
    renders: int,
    workers: int,
    access_log: bool = False,
    batch: int = 0,
    rate: float = 0,
    batching: Batching = TRACKER,
) -> dict:

    schema, schema_url = _schema(url)
    db = Database(schema_url)
    db.create_schema()
    _, links = _campaign(db, renders)
    rng = random.Random(6)
    # enough pre-serialized requests for 6,000 events/s: building them is not part of the run
    pool = _bodies(links, rng, visits=max(clients, int(seconds * 6000 / 14)), batch=batch, batching=batching)
    bodies = [pool[n::clients] for n in range(clients)]
    port = _port()
    server = _server(schema_url, port, workers, access_log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        server_cpu = _cpu_seconds(server.pid)
        own = resource.getrusage(resource.RUSAGE_SELF)
        run = asyncio.run(_load(base, bodies, seconds, rate))
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = _cpu_seconds(server.pid) - server_cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
    acked, latencies, elapsed = run["acked"], sorted(run["latencies"]), run["elapsed"]
    with db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*), count(DISTINCT event_id) FROM events")).one()
        conn.execute(sa.text("CREATE TEMP TABLE acked (event_id varchar(100))"))
        with conn.connection.dbapi_connection.cursor().copy("COPY acked FROM STDIN") as copy:
            for event_id in acked:
                copy.write_row((event_id,))
        lost = conn.execute(
            sa.text(
                "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = a.event_id)"
            )
        ).scalar()
    db.dispose()
    _drop(url, schema)
    pct = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)  # noqa: E731
    load_cpu = own_after.ru_utime + own_after.ru_stime - own.ru_utime - own.ru_stime
    return {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "offered_events_per_second": rate or "closed loop",
        "server_workers": workers,
        "access_log": access_log,
        "batching": f"{batch} events per request" if batch else _describe(batching),
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed),
        "events_per_request": round(len(acked) / max(1, run["statuses"].get(200, 0)), 2),
        "statuses": run["statuses"],
        "answers": run["answers"],
        "events_acknowledged": len(acked),
        "events_per_second": round(len(acked) / elapsed),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(1000 * latencies[-1], 1),
        "events_stored": stored[0],
        "duplicates_stored": stored[0] - stored[1],
        "acknowledged_but_lost": lost,
        "server_cpu_seconds": round(server_cpu, 1),
        "load_generator_cpu_seconds": round(load_cpu, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def _describe(batching: Batching) -> str:
    end = ", at the end of the video" if batching.on_end else ""
    return f"at {batching.flush_at} events or {batching.interval:g} s after the first{end}, the rest on pagehide"


def _session_rows(campaign_id: str, render_id: str, rng: random.Random, t0: datetime, duration: float):
    sid = uuid.uuid4().hex
    seq = 0
    t = t0 + timedelta(seconds=rng.randrange(0, 14 * 86400))
    device = rng.choice(("mobile", "mobile", "desktop", "tablet"))

    def row(kind, pos=None, cta=None, percent=None):
        nonlocal seq
        seq += 1
        when = t + timedelta(seconds=seq)
        return (
            campaign_id,
            render_id,
            uuid.uuid4().hex,
            kind,
            pos,
            cta,
            when,
            when,
            sid,
            seq,
            percent,
            duration,
            None,
            device,
            when,
        )

    yield row("page_view")
    if rng.random() < 0.2:
        return
    yield row("ready", 0.0)
    yield row("play", 0.0)
    stop = duration if rng.random() < 0.5 else rng.uniform(5, duration)
    pos, next_pct = 0.0, 10
    while pos < stop:
        pos = min(stop, pos + 1.25)
        if pos >= duration * next_pct / 100 and next_pct < 100:
            yield row("percent_progress", pos, percent=next_pct)
            next_pct += 10
        elif pos >= 5 and pos - 1.25 < 5:
            yield row("cta_impression", pos, cta="buy")
        else:
            yield row("ping", pos)
    if rng.random() < 0.1:
        yield row("cta_click", pos, cta="buy")
    yield row("end" if stop >= duration else "pause", pos)


def bench_analytics(url: str, *, events: int, per_session: int = 50, repeat: int = 5) -> dict:
    from pvideo.tracking.analytics import campaign_analytics

    schema, schema_url = _schema(url)
    db = Database(schema_url)
    db.create_schema()
    viewers = max(1, events // per_session)
    campaign_id, links = _campaign(db, viewers, duration=60.0)
    rng = random.Random(6)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    columns = (
        "campaign_id, render_id, event_id, type, position, cta_id, client_ts, received_at, session_id, seq, "
        "percent, media_duration, detail, device, occurred_at"
    )
    written = 0
    began = time.monotonic()
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY events ({columns}) FROM STDIN") as copy:
            while written < events:
                for rid, _ in links:
                    for r in _session_rows(campaign_id, rid, rng, t0, 60.0):
                        copy.write_row(r)
                        written += 1
                        if written >= events:
                            break
                    if written >= events:
                        break
        raw.commit()
    finally:
        raw.close()
    load_s = time.monotonic() - began
    began = time.monotonic()
    with db.session() as session:
        sessions = rebuild_campaign(session, campaign_id)
    rollup_s = time.monotonic() - began
    with db.engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        conn.commit()
    timings, cpu = [], []
    for _ in range(repeat + 1):
        with db.session() as session:
            start, start_cpu = time.perf_counter(), time.process_time()
            stats = campaign_analytics(session, campaign_id)
            timings.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    db.dispose()
    _drop(url, schema)
    return {
        "events": written,
        "viewers": viewers,
        "sessions": sessions,
        "copy_seconds": round(load_s, 1),
        "rollup_rebuild_seconds": round(rollup_s, 1),
        "first_ms": round(1000 * timings[0]),
        "median_ms": round(1000 * statistics.median(timings[1:])),
        "max_ms": round(1000 * max(timings[1:])),
        "python_cpu_median_ms": round(1000 * statistics.median(cpu[1:])),
        "unique_viewers": stats["unique_viewers"],
        "avg_percent_watched": stats["avg_percent_watched"],
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=("ingest", "analytics"))
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PVIDEO_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="pvideo serve --workers")
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="offered events/s in all, on a fixed schedule (default 0: closed loop, as fast as answered)",
    )
    parser.add_argument(
        "--batch", type=int, default=0, help="events per request (default 0: as tracker.js batches them)"
    )
    parser.add_argument(
        "--batching",
        choices=("tracker", "previous"),
        default="tracker",
        help="whose batching to replay: tracker.js's (default), or the previous tracker's (1 s, 10 events)",
    )
    parser.add_argument("--access-log", action="store_true", help="pvideo serve --access-log (default: off)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.mode == "ingest":
        result = bench_ingest(
            args.database_url,
            seconds=args.seconds,
            clients=args.clients,
            renders=args.renders,
            workers=args.workers,
            access_log=args.access_log,
            batch=args.batch,
            rate=args.rate,
            batching=TRACKER if args.batching == "tracker" else PREVIOUS_TRACKER,
        )
    else:
        result = bench_analytics(args.database_url, events=args.events)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_figures(result, title=f"python -m bench.events {args.mode}")


def print_figures(result: dict[str, Any], *, title: str) -> None:
    """One row per figure; a nested figure (statuses, answers) as its JSON."""
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", title=title)
    for name, value in result.items():
        table.add_row(name, json.dumps(value) if isinstance(value, dict | list) else str(value))
    Console().print(table)


if __name__ == "__main__":
    main()
