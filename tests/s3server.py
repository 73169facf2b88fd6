"""Pytest plugin: a real S3 HTTP endpoint (moto's threaded server) for storage tests.

Register with ``pytest_plugins = ["tests.s3server"]``. Fixtures:

* ``s3_server`` (session): starts ``ThreadedMotoServer`` on 127.0.0.1 and a free
  port, sets fake AWS credentials in the environment, yields the endpoint URL.
* ``s3_bucket`` (function): a fresh, uniquely named bucket on that server;
  yields ``(endpoint_url, bucket_name)`` and empties/deletes it afterwards.

If moto cannot start, tests using these fixtures are skipped, or fail when
``CI`` is true (so CI never silently skips the S3 backend).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest

_START_TIMEOUT = 15.0
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables that could route boto3 to a real account or through a proxy.
_CLEARED_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"moto S3 server unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"moto S3 server unavailable: {reason}")


@lru_cache(maxsize=4)
def _raw_client(endpoint_url: str):  # boto3 clients are thread-safe and slow to build
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    mp = pytest.MonkeyPatch()
    for name, value in _FAKE_ENV.items():
        mp.setenv(name, value)
    for name in _CLEARED_ENV:
        mp.delenv(name, raising=False)
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    mp.setenv("NO_PROXY", no_proxy)
    mp.setenv("no_proxy", no_proxy)

    server = None
    try:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # moto[server] not installed
            _unavailable(f"cannot import moto.server ({exc})")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        # start() blocks forever if the server thread dies before binding; bound it.
        starter = threading.Thread(target=server.start, daemon=True)
        starter.start()
        starter.join(_START_TIMEOUT)
        if starter.is_alive():
            server = None
            _unavailable(f"server did not start within {_START_TIMEOUT:.0f}s")
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            _raw_client(endpoint).list_buckets()
        except Exception as exc:
            _unavailable(f"server at {endpoint} does not answer S3 requests ({exc})")
        yield endpoint
    finally:
        if server is not None:
            server.stop()
        mp.undo()


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[tuple[str, str]]:
    client = _raw_client(s3_server)
    bucket = f"pvideo-test-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    yield s3_server, bucket
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)
    except Exception:
        pass


def sent_requests(storage: Any) -> list[str]:
    """The HTTP method of every request ``storage`` (a ``pvideo.s3storage.S3Storage``) sends from now
    on, each try of botocore's own retries included."""
    sent: list[str] = []
    storage.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.method))
    return sent
