"""Rendering into S3 (moto's real HTTP server) and watching through a presigned URL."""

from __future__ import annotations

import json

import boto3
import httpx
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.render.probe import probe
from pvideo.runtime import Runtime
from tests.conftest import API_KEY, FPS, SECONDS


def test_campaign_renders_to_s3_and_plays_back(settings, s3_bucket, tmp_path):
    endpoint, bucket = s3_bucket
    s3_settings = settings.model_copy(update={"storage_url": f"s3://{bucket}/pv", "s3_endpoint_url": endpoint})
    runtime = Runtime.from_settings(s3_settings)
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers={"X-API-Key": API_KEY},
            json={"scene": "card", "rows": [{"customer_id": "s3", "first_name": "Sam", "price": 2}]},
        )
        assert response.status_code == 201, response.text
        client.app.state.pvideo.queue.join(timeout_ms=120_000)
        render = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers={"X-API-Key": API_KEY}).json()[0]
        assert render["status"] == "done", render
        redirect = client.get(render["video_url"].removeprefix("http://testserver"), follow_redirects=False)
    assert redirect.status_code == 307
    presigned = redirect.headers["location"]
    assert presigned.startswith(f"{endpoint}/{bucket}/pv/outputs/")
    video = httpx.get(presigned)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = tmp_path / "from-s3.mp4"
    path.write_bytes(video.content)
    info = probe(path)
    assert info.frames == FPS * SECONDS and info.has_audio

    raw = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = sorted(o["Key"] for o in raw.list_objects_v2(Bucket=bucket)["Contents"])
    outputs = [k.rsplit("/", 1)[1] for k in keys if k.startswith("pv/outputs/")]
    named = {"poster.jpg", "thumbnail.jpg", "thumbnail.gif", "thumbnail.webp", "video.mp4", "index.m3u8"}
    assert named <= set(outputs)
    assert all(name.startswith(("part_", "track-")) for name in set(outputs) - named)
    templates = [k for k in keys if k.startswith("pv/templates/")]
    manifest_key = next(k for k in templates if k.endswith("manifest.json"))
    segments = json.loads(raw.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())["segments"]
    # one a second, and one more cut where the CTA's window starts (2.5 s): keyframes where the personalization is
    assert len([k for k in templates if k.endswith(".ts")]) == len(segments) == SECONDS + 1
    video_key = next(k for k in keys if k.endswith("/video.mp4"))
    assert raw.get_object(Bucket=bucket, Key=video_key)["Body"].read() == video.content
    runtime.db.dispose()
