"""Correctness under concurrency on PostgreSQL: 2,000 events from 20 clients, each batch sent twice
(a retry after a lost answer): every acknowledged event stored exactly once. Speed is measured by
``python -m bench.events``, not here."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

from pvideo.access.tokens import ViewerTokens
from pvideo.db.engine import Database
from pvideo.settings import Settings
from tests.conftest import SECRET
from tests.services import PG_URL
from tests.viewers import done_campaign

CLIENTS, BATCHES, BATCH = 20, 5, 20


@pytest.mark.parametrize("writers", [1, 3], ids=["one-writer", "three-writers"])
def test_2000_events_from_20_clients_none_lost_none_duplicated(postgres_url, tmp_path, assets_dir, scenes_dir, writers):
    """Also with several transactions at once per process (row locks taken in the same order)."""
    import uvicorn

    from api.main import create_app
    from pvideo.runtime import Runtime

    settings = Settings(
        data_dir=tmp_path,
        database_url=postgres_url,
        secret_key=SECRET,
        api_keys=["k"],
        assets_dir=assets_dir,
        scenes_dir=scenes_dir,
        event_rate_burst=1000,
        event_writers=writers,
    )
    runtime = Runtime.from_settings(settings)
    campaign_id, viewers = done_campaign(runtime.db, ViewerTokens(SECRET), viewers=CLIENTS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    acked: list[str] = []
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for b in range(BATCHES):
                events = [
                    {
                        "event_id": uuid.uuid4().hex,
                        "type": "ping",
                        "position": float(k),
                        "session_id": f"s{n}",
                        "seq": b * BATCH + k,
                    }
                    for k in range(BATCH)
                ]
                body = json.dumps({"token": viewers[n].token, "events": events})
                for _ in range(2):
                    r = http.post("/api/events", content=body, headers={"content-type": "text/plain"})
                    assert r.status_code == 200, r.text
                    with lock:
                        answers.append((r.json()["stored"], r.json()["duplicates"]))
                with lock:
                    acked.extend(e["event_id"] for e in events)

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert len(acked) == CLIENTS * BATCHES * BATCH == 2000
    assert sum(s for s, _ in answers) == 2000 and sum(d for _, d in answers) == 2000
    db = Database(postgres_url)
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT event_id, count(*) FROM events WHERE campaign_id = :c GROUP BY event_id"),
            {"c": campaign_id},
        ).all()
    db.dispose()
    runtime.db.dispose()
    assert {e for e, _ in rows} == set(acked)  # none lost, none invented
    assert all(n == 1 for _, n in rows)  # none duplicated


@pytest.mark.slow
def test_ingest_benchmark_runs_the_served_app_and_loses_nothing(postgres_url):
    """``python -m bench.events ingest`` for a few seconds: every field the README quotes is
    there and nothing acknowledged is missing. Speed is reported, never asserted. (``postgres_url``
    applies the suite's rule for a missing PostgreSQL; the benchmark makes its own schema.)"""
    from bench.events import bench_ingest

    result = bench_ingest(PG_URL, seconds=4, clients=10, renders=50, workers=2)
    assert result["statuses"] == {200: result["requests"]} and result["requests"] > 0
    assert result["acknowledged_but_lost"] == 0 and result["duplicates_stored"] == 0
    assert result["events_stored"] == result["events_acknowledged"] == result["answers"]["stored"]
    assert 1 <= result["events_per_request"] <= 3  # what the tracker sends
    assert result["server_cpu_seconds"] > 0 and result["load_generator_cpu_seconds"] > 0


@pytest.mark.slow
def test_analytics_benchmark_reads_the_rollups_it_built(postgres_url):
    """``python -m bench.events analytics`` on 20,000 events."""
    from bench.events import bench_analytics

    result = bench_analytics(PG_URL, events=20_000, repeat=1)
    assert result["events"] == 20_000 and result["sessions"] > result["viewers"] > 0
    assert 0 < result["unique_viewers"] <= result["viewers"] and result["median_ms"] > 0
