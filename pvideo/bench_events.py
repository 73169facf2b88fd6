"""Event benchmarks against PostgreSQL: ``python -m pvideo.bench_events ingest|analytics``.

``ingest``: the real app (``uvicorn --workers N``) on a fresh schema; ``clients``
threads POST batches of ``batch`` events to random viewer links for
``seconds``; reports events/s, latency percentiles, and checks that every
acknowledged event is stored exactly once (lost = acknowledged but missing).

``analytics``: COPYs ``events`` events (sessions of ~50 events, one per
viewer) into a fresh schema, builds the session rollups from them (what
ingestion keeps up to date), and times ``campaign_analytics`` (first call and
the median of the next five).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from pvideo.database import Database, normalize_url
from pvideo.models import Campaign, Render, RenderStatus, new_id
from pvideo.rollups import rebuild_campaign
from pvideo.tokens import ViewerTokens

SECRET = "bench-" + "x" * 40
CTA = {"id": "buy", "label": "Buy", "href": "https://shop.example/buy", "x": 10, "y": 10, "w": 100, "h": 40,
       "start": 5.0, "end": 15.0}


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
            session.add(Render(id=rid, campaign_id=campaign.id, row_number=n + 1, customer_id=f"c{n}",
                               status=RenderStatus.DONE, duration=duration, width=1280, height=720,
                               hotspots=[CTA], viewer_token=token))
            out.append((rid, token))
        return campaign.id, out


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_ingest(url: str, *, seconds: float, clients: int, batch: int, renders: int, workers: int) -> dict:
    import httpx

    schema, schema_url = _schema(url)
    db = Database(schema_url)
    db.create_schema()
    campaign_id, links = _campaign(db, renders)
    port = _port()
    env = dict(os.environ, PVIDEO_DATABASE_URL=schema_url, PVIDEO_SECRET_KEY=SECRET, PVIDEO_API_KEYS="bench",
               PVIDEO_LOG_FORMAT="text")
    env.pop("PVIDEO_REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host",
                               "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level",
                               "warning", "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        latencies: list[float] = []
        acked: list[str] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def client(n: int) -> None:
            rng = random.Random(n)
            mine_lat, mine_ack, mine_status = [], [], {}
            with httpx.Client(base_url=base, timeout=10) as http:
                seq = 0
                while time.monotonic() < deadline:
                    _, token = rng.choice(links)
                    now = datetime.now(timezone.utc).isoformat()
                    events = []
                    for _ in range(batch):
                        seq += 1
                        events.append({"event_id": uuid.uuid4().hex, "type": "ping", "position": float(seq % 60),
                                       "session_id": f"bench{n}", "seq": seq, "client_ts": now})
                    body = json.dumps({"token": token, "sent_at": now, "events": events})
                    start = time.perf_counter()
                    try:
                        r = http.post("/api/events", content=body, headers={"content-type": "text/plain"})
                        code = r.status_code
                    except httpx.HTTPError:
                        code = 0
                    mine_lat.append(time.perf_counter() - start)
                    mine_status[code] = mine_status.get(code, 0) + 1
                    if code == 200:
                        mine_ack.extend(e["event_id"] for e in events)
            with lock:
                latencies.extend(mine_lat)
                acked.extend(mine_ack)
                for k, v in mine_status.items():
                    statuses[k] = statuses.get(k, 0) + v

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
    finally:
        server.terminate()
        server.wait(timeout=30)
    with db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*), count(DISTINCT event_id) FROM events")).one()
        conn.execute(sa.text("CREATE TEMP TABLE acked (event_id varchar(100))"))
        conn.execute(sa.text("INSERT INTO acked VALUES (:e)"), [{"e": e} for e in acked])
        lost = conn.execute(sa.text("SELECT count(*) FROM acked a WHERE NOT EXISTS "
                                    "(SELECT 1 FROM events e WHERE e.event_id = a.event_id)")).scalar()
    db.dispose()
    _drop(url, schema)
    latencies.sort()
    pct = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)  # noqa: E731
    return {"seconds": round(elapsed, 1), "clients": clients, "batch": batch, "server_workers": workers,
            "requests": len(latencies), "statuses": statuses, "events_acknowledged": len(acked),
            "events_per_second": round(len(acked) / elapsed), "p50_ms": pct(0.50), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99), "max_ms": round(1000 * latencies[-1], 1), "events_stored": stored[0],
            "duplicates_stored": stored[0] - stored[1], "acknowledged_but_lost": lost}


def _session_rows(campaign_id: str, render_id: str, rng: random.Random, t0: datetime, duration: float):
    sid = uuid.uuid4().hex
    seq = 0
    t = t0 + timedelta(seconds=rng.randrange(0, 14 * 86400))
    device = rng.choice(("mobile", "mobile", "desktop", "tablet"))

    def row(kind, pos=None, cta=None, percent=None):
        nonlocal seq
        seq += 1
        when = t + timedelta(seconds=seq)
        return (campaign_id, render_id, uuid.uuid4().hex, kind, pos, cta, when, when, sid, seq, percent,
                duration, None, device, when)

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
    from pvideo.analytics import campaign_analytics

    schema, schema_url = _schema(url)
    db = Database(schema_url)
    db.create_schema()
    viewers = max(1, events // per_session)
    campaign_id, links = _campaign(db, viewers, duration=60.0)
    rng = random.Random(6)
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    columns = ("campaign_id, render_id, event_id, type, position, cta_id, client_ts, received_at, session_id, seq, "
               "percent, media_duration, detail, device, occurred_at")
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
    timings = []
    for _ in range(repeat + 1):
        with db.session() as session:
            start = time.perf_counter()
            stats = campaign_analytics(session, campaign_id)
            timings.append(time.perf_counter() - start)
    db.dispose()
    _drop(url, schema)
    return {"events": written, "viewers": viewers, "sessions": sessions, "copy_seconds": round(load_s, 1),
            "rollup_rebuild_seconds": round(rollup_s, 1),
            "first_ms": round(1000 * timings[0]), "median_ms": round(1000 * statistics.median(timings[1:])),
            "max_ms": round(1000 * max(timings[1:])), "unique_viewers": stats["unique_viewers"],
            "avg_percent_watched": stats["avg_percent_watched"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pvideo.bench_events", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("ingest", "analytics"))
    parser.add_argument("--database-url", default=os.environ.get("PVIDEO_BENCH_DATABASE_URL",
                                                                 "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if args.mode == "ingest":
        result = bench_ingest(args.database_url, seconds=args.seconds, clients=args.clients, batch=args.batch,
                              renders=args.renders, workers=args.workers)
    else:
        result = bench_analytics(args.database_url, events=args.events)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
