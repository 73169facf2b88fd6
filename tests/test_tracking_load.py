"""Correctness under concurrency on PostgreSQL: 2,000 events from 20 clients, each batch sent twice
(a retry after a lost answer): every acknowledged event stored exactly once. Speed is measured by
``python -m pvideo.bench_events``, not here."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import httpx
import sqlalchemy as sa

from pvideo.database import Database
from pvideo.settings import Settings
from pvideo.tokens import ViewerTokens
from tests.conftest import SECRET
from tests.viewers import done_campaign

CLIENTS, BATCHES, BATCH = 20, 5, 20


def test_2000_events_from_20_clients_none_lost_none_duplicated(postgres_url, tmp_path, assets_dir, scenes_dir):
    import uvicorn

    from api.main import create_app
    from workers.runtime import Runtime

    settings = Settings(data_dir=tmp_path, database_url=postgres_url, secret_key=SECRET, api_keys=["k"],
                        assets_dir=assets_dir, scenes_dir=scenes_dir, event_rate_burst=1000)
    runtime = Runtime.from_settings(settings)
    campaign_id, viewers = done_campaign(runtime.db, ViewerTokens(SECRET), viewers=CLIENTS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port,
                                           log_level="warning"))
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
                events = [{"event_id": uuid.uuid4().hex, "type": "ping", "position": float(k), "session_id": f"s{n}",
                           "seq": b * BATCH + k} for k in range(BATCH)]
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
        rows = conn.execute(sa.text("SELECT event_id, count(*) FROM events WHERE campaign_id = :c GROUP BY event_id"),
                            {"c": campaign_id}).all()
    db.dispose()
    runtime.db.dispose()
    assert {e for e, _ in rows} == set(acked)  # none lost, none invented
    assert all(n == 1 for _, n in rows)  # none duplicated
