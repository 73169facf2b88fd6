"""Operations: /readyz, Prometheus /metrics, JSON logs carrying campaign and render ids."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.jobs.pipeline import render_customer
from pvideo.logs import ContextFilter, JsonFormatter
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from tests.conftest import API_KEY
from tests.jobs.runs import submit


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


def test_readyz_checks_database_redis_and_storage(settings, redis_url, tmp_path):
    s = settings.model_copy(update={"redis_url": redis_url})
    with TestClient(create_app(runtime=Runtime.from_settings(s))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "storage": "ok", "redis": "ok"}
    broken = settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:1/0",
            "storage_url": "s3://no-such-bucket/x",
            "s3_endpoint_url": "http://127.0.0.1:1",
        }
    )
    runtime = Runtime.from_settings(broken)
    runtime.storage._config.retries["max_attempts"] = 1
    with TestClient(create_app(runtime=runtime)) as client:
        down = client.get("/readyz", headers={"X-API-Key": API_KEY})  # an admin key: the details too
        assert client.get("/healthz").status_code == 200  # alive, just not ready
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert checks["database"] == "ok" and checks["redis"].startswith("error") and checks["storage"].startswith("error")


def test_metrics_count_renders_render_seconds_queue_depth_and_events(runtime):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers={"X-API-Key": API_KEY},
            json={
                "scene": "card",
                "rows": [
                    {"customer_id": "m1", "first_name": "Mo", "price": 1},
                    {"customer_id": "m2", "first_name": "Al", "price": 1},
                    {"customer_id": "m3", "price": 1},
                ],
            },
        )
        assert response.status_code == 201
        client.app.state.pvideo.queue.join(timeout_ms=120_000)
        text = client.get("/metrics").text
    assert _metric(text, 'pvideo_renders{status="done"}') == 2
    assert _metric(text, 'pvideo_renders{status="failed"}') == 1
    assert _metric(text, "pvideo_render_seconds_count") == 2
    assert _metric(text, 'pvideo_render_seconds_bucket{le="+Inf"}') == 2
    assert 0 < _metric(text, "pvideo_render_seconds_sum") < 120
    assert _metric(text, "pvideo_events_ingested_total") == 0
    assert "pvideo_queue_depth" in text


def test_queue_depth_metric_reads_redis(settings, redis_url, card_spec):
    s = settings.model_copy(update={"redis_url": redis_url})
    runtime = Runtime.from_settings(s)
    with TestClient(create_app(runtime=runtime)) as client:
        client.app.state.pvideo.queue.enqueue(["a", "b", "c"])
        text = client.get("/metrics").text
    assert _metric(text, 'pvideo_queue_depth{queue="renders"}') == 3
    runtime.db.dispose()


def test_render_logs_are_json_with_campaign_and_render_ids(runtime, card_spec):
    campaign_id, queued = submit(
        runtime, card_spec, [CustomerRow(1, {"customer_id": "j", "first_name": "J", "price": 1})]
    )
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pvideo")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        render_customer(runtime.db, runtime.storage, runtime.settings, queued[0])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    done = [r for r in records if r["msg"].startswith(f"render {queued[0]} done")]
    assert done and done[0]["render_id"] == queued[0] and done[0]["campaign_id"] == campaign_id
    assert done[0]["level"] == "info" and done[0]["seconds"] > 0
