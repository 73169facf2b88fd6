"""The export's media from S3 (moto's real HTTP server): sizes and bytes equal the stored objects,
read a chunk at a time; a missing object is listed with size null and left out of the ZIP."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from pvideo.errors import NotFound
from pvideo.privacy import media
from pvideo.privacy.archive import write_zip
from pvideo.privacy.export import customer_export
from tests.api.served import app_client
from tests.conftest import API_KEY
from tests.privacy.export_seed import CUSTOMER, seed
from tests.s3server import _raw_client


@pytest.fixture()
def s3_client(settings, s3_bucket):
    endpoint, bucket = s3_bucket
    with app_client(settings, storage_url=f"s3://{bucket}/pv", s3_endpoint_url=endpoint) as client:
        yield client


def test_the_zip_from_s3_holds_the_stored_bytes(s3_client, s3_bucket):
    state = s3_client.app.state.pvideo
    seeded = seed(state.runtime, state.tokens)
    endpoint, bucket = s3_bucket
    answer = s3_client.get(f"/api/customers/{CUSTOMER}/export?format=zip", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        doc = json.loads(archive.read("export.json"))
        assert {m["key"]: m["size"] for m in doc["media"]} == {k: len(v) for k, v in seeded.objects.items()}
        for item in doc["media"]:  # read back from the bucket itself, not through pvideo
            stored = _raw_client(endpoint).get_object(Bucket=bucket, Key=f"pv/{item['key']}")["Body"].read()
            assert archive.read(f"media/{item['render_id']}/{item['name']}") == stored
    assert len(max(seeded.objects.values(), key=len)) > media.CHUNK  # the video spans several reads


def test_sizes_and_a_missing_object(s3_client, tmp_path):
    state = s3_client.app.state.pvideo
    storage = state.runtime.storage
    seed(state.runtime, state.tokens, video_size=10)
    storage.put_bytes("outputs/empty.bin", b"")
    assert media.object_size(storage, "outputs/empty.bin") == 0
    assert media.object_size(storage, "outputs/none.bin") is None
    with pytest.raises(NotFound):
        media.copy_object(storage, "outputs/none.bin", io.BytesIO())

    export = customer_export(state.runtime, CUSTOMER)
    video = next(m for m in export.media if m.name == "video.mp4")
    assert video.size == 10
    storage.delete(video.key)
    gone = customer_export(state.runtime, CUSTOMER)
    assert next(m for m in gone.media if m.key == video.key).size is None
    with zipfile.ZipFile(write_zip(gone, storage, tmp_path / "x.zip")) as archive:
        assert f"media/{video.render_id}/video.mp4" not in archive.namelist()
        listed = json.loads(archive.read("export.json"))["media"]
        assert {"render_id": video.render_id, "name": "video.mp4", "key": video.key, "size": None} in listed
