"""The proof that an erased customer is gone from everywhere (issue #18, "Done when").

A customer with a distinctive id, name and email goes through the whole product on PostgreSQL,
S3 (moto's server, a versioned bucket), Redis and a real ``pvideo worker`` process: a render
with MP4 + HLS + thumbnails + captions, landing visits, player events, a form answer, a webhook
subscription that receives it, a manifest export. Then ``DELETE /api/customers/{id}``, and a
scan of every text and JSON column of every table, every version of every object in the bucket
(names and bytes), every file of the data folder and every key of the Redis database finds none
of the three values; the campaign's analytics are what they were; the other customer still plays.
"""

from __future__ import annotations

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.privacy.erasure import load
from pvideo.runtime import Runtime
from tests.conftest import API_KEY
from tests.privacy.erasing import (
    ERASED,
    KEPT,
    bucket_hits,
    database_hits,
    file_hits,
    redis_hits,
    write_scene,
)
from tests.tracking.answering import answer
from tests.viewers import event
from tests.webhook_receiver import wait_until
from tests.workers.test_worker_faults import Worker

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture()
def deployment(settings, own_postgres_url, redis_url, s3_bucket, tmp_path, monkeypatch):
    """Settings of a production-like deployment, and the moto client and bucket (versioning on)."""
    endpoint, bucket = s3_bucket
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    extra = {
        "PVIDEO_WEBHOOK_ALLOW_PRIVATE": "true",
        "PVIDEO_RECONCILE_INTERVAL": "1",
        "PVIDEO_RENDER_LEASE_SECONDS": "3",
        "PVIDEO_STORAGE_RETRY_SECONDS": "1",
        "PVIDEO_WEBHOOK_POLL_SECONDS": "0.1",
    }
    for name, value in extra.items():
        monkeypatch.setenv(name, value)  # the worker process reads them
    s = settings.model_copy(
        update={
            "database_url": own_postgres_url,
            "redis_url": redis_url,
            "storage_url": f"s3://{bucket}/pv",
            "s3_endpoint_url": endpoint,
            "scenes_dir": write_scene(tmp_path / "scenes"),
            "webhook_allow_private": True,
            "reconcile_interval": 1.0,
            "render_lease_seconds": 3.0,
            "storage_retry_seconds": 1.0,
            "webhook_poll_seconds": 0.1,
        }
    )
    return s, client, bucket


def _get(client: TestClient, url: str):
    return client.get(url.removeprefix("http://testserver"), follow_redirects=False)


def test_an_erased_customer_is_nowhere(deployment, receiver, tmp_path):
    settings, s3, bucket = deployment
    runtime = Runtime.from_settings(settings)
    worker = Worker(settings, tmp_path / "worker.log")
    try:
        with TestClient(create_app(runtime=runtime)) as api:
            created = api.post("/api/campaigns", headers=AUTH, json={"scene": "erasable", "rows": [ERASED, KEPT]})
            assert created.status_code == 201, created.text
            campaign_id = created.json()["id"]
            hook = api.post(
                f"/api/campaigns/{campaign_id}/webhooks",
                headers=AUTH,
                json={"url": receiver.url("/hooks"), "events": ["form_submitted", "video_completed"]},
            )
            assert hook.status_code == 201, hook.text

            def finished():
                rows = api.get(f"/api/campaigns/{campaign_id}/renders", headers=AUTH).json()
                return rows if all(r["status"] == "done" for r in rows) else None

            renders = {r["customer_id"]: r for r in wait_until(finished, "both renders done", timeout=180, every=0.5)}
            erased, kept = renders[ERASED["customer_id"]], renders[KEPT["customer_id"]]
            assert erased["captions_url"] and erased["thumbnail_gif_url"], erased
            keys_before, _ = bucket_hits(s3, bucket, ())
            assert any(k.endswith("index.m3u8") for k in keys_before) and any(".ts" in k for k in keys_before)
            assert any("/captions-" in k for k in keys_before)

            for viewer in (erased, kept):  # visits, events to the end and an answer
                token = viewer["landing_url"].rsplit("/", 1)[1]
                page = _get(api, viewer["landing_url"])
                assert page.status_code == 200 and (viewer is kept or ERASED["first_name"] in page.text)
                events = [event("page_view", seq=1), event("play", 0, seq=2), event("end", 4, seq=3)]
                assert api.post("/api/events", json={"token": token, "events": events}).json()["stored"] == 3
                email = ERASED["email"] if viewer is erased else KEPT["email"]
                form = answer(token, "contact", {"fields": {"email": email}, "consent": True})
                assert api.post("/api/responses", json=form).status_code == 201
            receiver.wait_for(lambda r: len(r.to("/hooks")) >= 4, "the form and completion webhooks")
            assert any(ERASED["email"].encode() in r.body for r in receiver.to("/hooks"))
            manifest = api.get(f"/api/campaigns/{campaign_id}/manifest?format=csv", headers=AUTH)
            assert manifest.status_code == 200 and ERASED["customer_id"] in manifest.text
            analytics = api.get(f"/api/campaigns/{campaign_id}/analytics", headers=AUTH).json()
            assert database_hits(runtime.db.engine)  # the scan does see the customer before

            gone = api.delete(f"/api/customers/{ERASED['customer_id']}", headers=AUTH)
            assert gone.status_code == 202, gone.text
            assert _get(api, erased["landing_url"]).status_code != 200  # at once, before the job is done
            wait_until(lambda: load(runtime.db, gone.json()["job_id"]).state == "done", "erasure done", timeout=60)

            assert api.get(f"/api/campaigns/{campaign_id}/analytics", headers=AUTH).json() == analytics
            for url in (erased["landing_url"], erased["video_url"], erased["captions_url"]):
                assert _get(api, url).status_code != 200
            assert _get(api, kept["landing_url"]).status_code == 200
            video = _get(api, kept["video_url"])
            assert video.status_code == 307 and httpx.get(video.headers["location"]).status_code == 200
            manifest = api.get(f"/api/campaigns/{campaign_id}/manifest?format=csv", headers=AUTH)
            assert KEPT["customer_id"] in manifest.text and ERASED["customer_id"] not in manifest.text
    finally:
        worker.stop()
    assert database_hits(runtime.db.engine) == []
    keys_after, object_hits = bucket_hits(s3, bucket)
    assert object_hits == [] and not any(erased["video_url"] in k for k in keys_after)
    assert len([k for k in keys_after if k.endswith("/video.mp4")]) == 1  # the other customer's
    assert file_hits(settings.data_dir) == []
    count, hits = redis_hits(settings.redis_url)
    assert hits == [], hits
    print(f"scanned: {len(keys_after)} object versions left, {count} Redis keys")
    runtime.db.dispose()
