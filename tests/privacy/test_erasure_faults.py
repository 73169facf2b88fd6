"""An erasure interrupted halfway completes: the S3 server stopped after the first folder went,
then the worker running the job killed with SIGKILL while the storage is still down. The links
answer no more from the request on; once S3 is back a new worker finishes the job."""

from __future__ import annotations

import socket

import boto3
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.db.models import Render
from pvideo.jobs import pipeline
from pvideo.privacy.erasure import load, request_erasure, run_erasure
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import parse_scene
from tests.conftest import CARD_SCENE
from tests.jobs.runs import submit
from tests.privacy.erasing import ERASED, SCENE, bucket_hits
from tests.webhook_receiver import wait_until
from tests.workers.test_worker_faults import Worker


class OwnS3:
    """A moto server of this test's own, stopped and started again on the same port (moto keeps
    its buckets in the test process, so they outlive a restart)."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture()
def own_s3(s3_server):  # s3_server: the fake credentials in the environment
    s3 = OwnS3()
    yield s3
    s3.stop()


def test_an_interrupted_erasure_completes(settings, own_postgres_url, redis_url, own_s3, tmp_path, monkeypatch):
    client = boto3.client("s3", endpoint_url=own_s3.url, region_name="us-east-1")
    client.create_bucket(Bucket="erasure-faults")
    client.put_bucket_versioning(Bucket="erasure-faults", VersioningConfiguration={"Status": "Enabled"})
    for name, value in {"PVIDEO_RECONCILE_INTERVAL": "1", "PVIDEO_RENDER_LEASE_SECONDS": "3"}.items():
        monkeypatch.setenv(name, value)
    s = settings.model_copy(
        update={
            "database_url": own_postgres_url,
            "redis_url": redis_url,
            "storage_url": "s3://erasure-faults/pv",
            "s3_endpoint_url": own_s3.url,
            "storage_retry_seconds": 30.0,  # the killed worker's delete hangs in retries
            "render_lease_seconds": 3.0,
        }
    )
    runtime = Runtime.from_settings(s)
    renders = []
    for scene in (CARD_SCENE, SCENE):  # two campaigns, two output folders
        row = {**ERASED, "price": 5} if scene is CARD_SCENE else ERASED
        _, ids = submit(runtime, parse_scene(scene), [CustomerRow(1, row)])
        assert pipeline.render_customer(runtime.db, runtime.storage, s, ids[0]) == "done"
        renders += ids
    with runtime.db.session() as session:
        tokens = [session.get(Render, rid).viewer_token for rid in renders]
    job = request_erasure(runtime, ERASED["customer_id"], actor="tests", role="admin")
    assert len(job.keys) == 2 and job.state == "pending"

    real = runtime.storage.delete_prefix

    def delete_then_stop_s3(prefix: str) -> int:
        removed = real(prefix)
        own_s3.stop()  # halfway: the first folder is gone, the second is not
        return removed

    runtime.storage.retry_seconds = 1.0
    monkeypatch.setattr(runtime.storage, "delete_prefix", delete_then_stop_s3)
    halfway = run_erasure(runtime, job.id)
    assert halfway.state == "pending" and len(halfway.keys) == 1 and halfway.last_error
    assert halfway.removed["objects"] > 0
    with TestClient(create_app(runtime=runtime)) as api:  # the links answer no more already
        assert all(api.get(f"/v/{token}").status_code != 200 for token in tokens)

    first = Worker(s, tmp_path / "worker-1.log")
    second = None
    try:
        wait_until(lambda: load(runtime.db, job.id).attempts >= 2, "the worker took the job", timeout=60, every=0.2)
        first.kill9()  # mid-job: its delete is retrying against the stopped S3
        assert load(runtime.db, job.id).state == "pending"
        own_s3.start()
        second = Worker(s, tmp_path / "worker-2.log")
        done = wait_until(
            lambda: (j := load(runtime.db, job.id)).state == "done" and j, "the job done", timeout=120, every=0.5
        )
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
    assert done.keys == [] and done.last_error is None and done.attempts >= 3
    keys, hits = bucket_hits(client, "erasure-faults")
    assert hits == [] and not [k for k in keys if "/outputs/" in k], keys
    print(f"erasure done after {done.attempts} attempts; {done.removed['objects']} object versions removed")
    runtime.db.dispose()
