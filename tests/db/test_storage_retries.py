"""S3 outages are ridden out inside one storage call; permanent answers are not retried.

The real S3 endpoint (moto) sits behind a TCP proxy the tests switch off (connections
refused, open ones reset) or freeze (connections accepted, nothing answered). What
was written is read back straight from moto, byte for byte.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from pvideo.errors import NotFound, StorageError
from pvideo.settings import Settings
from pvideo.storage import S3Storage, Storage, storage_from_settings
from tests.s3server import sent_requests
from tests.tcpproxy import TcpProxy

CALLERS = 24  # worker threads, each with its own storage (its own connections)


@pytest.fixture()
def proxy(s3_server: str) -> Iterator[TcpProxy]:
    parts = urlsplit(s3_server)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 80)
    yield proxy
    proxy.close()


def direct(endpoint: str):
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(s3={"addressing_style": "path"})
    )


def through(proxy: TcpProxy, bucket: str, **settings: float) -> Storage:
    """The storage a worker builds from its settings (defaults unless given), via the proxy."""
    return storage_from_settings(Settings(storage_url=f"s3://{bucket}", s3_endpoint_url=proxy.url, **settings))


def during_outage(
    calls: list[Callable[[], object]], start: Callable[[], None], end: Callable[[], None], seconds: float
):
    """Start ``calls`` (one thread each) as the outage starts; end it after ``seconds``; each call's result or error."""
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    start()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    end()
    for thread in threads:
        thread.join(timeout=180)
    return results


def mixed_calls(
    storages: list[Storage], tmp_path: Path, blobs: list[bytes], readable: bytes
) -> list[Callable[[], object]]:
    """What a render does to storage: uploads files, conditional creates, small puts, heads and reads."""
    calls: list[Callable[[], object]] = []
    for i, (storage, blob) in enumerate(zip(storages, blobs, strict=True)):
        path = tmp_path / f"part{i}.ts"
        path.write_bytes(blob)
        key = f"outputs/{i}/video.mp4"
        calls.append(
            [
                lambda s=storage, k=key, p=path: s.put_file(k, p, "video/mp4"),
                lambda s=storage, k=key, p=path: s.put_file_if_absent(k, p, "video/mp4"),
                lambda s=storage, k=key, b=blob: s.put_bytes(k, b),
                lambda s=storage: (s.exists("ready/object"), s.get_bytes("ready/object") == readable),
            ][i % 4]
        )
    return calls


@pytest.mark.parametrize("outage", ["refused", "frozen"])
def test_calls_during_an_outage_succeed_in_one_call_and_read_back_identical(
    outage: str, proxy: TcpProxy, s3_bucket: tuple[str, str], tmp_path: Path
) -> None:
    endpoint, bucket = s3_bucket
    moto = direct(endpoint)
    readable = os.urandom(50_000)
    moto.put_object(Bucket=bucket, Key="ready/object", Body=readable)
    # a frozen endpoint is only noticed by a read timeout: a short one keeps the test short
    timeouts = {"s3_read_timeout": 2.0} if outage == "frozen" else {}
    storages = [through(proxy, bucket, **timeouts) for _ in range(CALLERS)]
    for storage in storages:
        assert storage.exists("ready/object")  # each holds an open connection when the outage starts
    blobs = [os.urandom(300_000) for _ in range(CALLERS)]
    calls = mixed_calls(storages, tmp_path, blobs, readable)
    start, end = (proxy.off, proxy.on) if outage == "refused" else (proxy.freeze, proxy.thaw)
    started = time.monotonic()
    results = during_outage(calls, start, end, seconds=10)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert time.monotonic() - started >= 10
    for i, blob in enumerate(blobs):
        if i % 4 != 3:
            assert moto.get_object(Bucket=bucket, Key=f"outputs/{i}/video.mp4")["Body"].read() == blob
        else:
            assert results[i] == (True, True)


def test_a_hung_endpoint_fails_the_call_once_the_retry_time_is_spent(
    proxy: TcpProxy, s3_bucket: tuple[str, str]
) -> None:
    storage = through(proxy, s3_bucket[1], s3_read_timeout=1.0, storage_retry_seconds=3.0)
    sent = sent_requests(storage)
    proxy.freeze()
    started = time.monotonic()
    with pytest.raises(StorageError, match=r"S3 put failed for s3://pvideo-test-\w+/k/v\.mp4"):
        storage.put_bytes("k/v.mp4", b"x")
    assert time.monotonic() - started >= 3  # it kept trying for the retry time
    # then gave up: every attempt waits out the 1 s read timeout, so calls start only in the first
    # 3 s (at most three of them) with at most four tries each (botocore's first and its 3 retries).
    # Counted, not timed: a loaded machine makes fewer tries, never more; a loop that did not stop
    # makes more.
    assert set(sent) == {"PUT"} and 2 <= len(sent) <= 12, sent


def test_no_such_bucket_is_not_retried(s3_server: str) -> None:
    storage = S3Storage("pvideo-no-such-bucket", endpoint_url=s3_server)
    sent = sent_requests(storage)
    with pytest.raises(StorageError, match="NoSuchBucket"):
        storage.put_bytes("k", b"x")
    assert sent == ["PUT"]  # one request: neither botocore nor the call retried


def test_a_missing_key_is_not_found_at_once(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    storage = S3Storage(bucket, endpoint_url=endpoint)
    sent = sent_requests(storage)
    with pytest.raises(NotFound):
        storage.get_bytes("no/such/key")
    assert not storage.exists("no/such/key")
    assert sent == ["GET", "HEAD"]


class ScriptedS3(BaseHTTPRequestHandler):
    """Answers each request with the next status of ``script`` (then 200): an S3 in a bad mood."""

    script: ClassVar[list[tuple[int, str]]] = []
    seen: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(self.command)
        status, code = self.script.pop(0) if self.script else (200, "")
        body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode() if code else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 200:
            self.send_header("ETag", '"0"')
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_GET = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def scripted(s3_server: str) -> Iterator[type[ScriptedS3]]:  # s3_server: fake credentials in the environment
    handler = type("Handler", (ScriptedS3,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()


def test_access_denied_is_not_retried(scripted: type[ScriptedS3]) -> None:
    scripted.script = [(403, "AccessDenied")] * 10
    storage = S3Storage("bucket", endpoint_url=scripted.url)  # type: ignore[attr-defined]
    with pytest.raises(StorageError, match=r"s3://bucket/k/v\.mp4: .*AccessDenied"):
        storage.put_bytes("k/v.mp4", b"x")
    assert scripted.seen == ["PUT"]  # one request: neither botocore nor the call retried


def test_throttling_and_5xx_are_retried_past_botocores_own_attempts(scripted: type[ScriptedS3]) -> None:
    scripted.script = [(503, "SlowDown"), (500, "InternalError"), (503, "ServiceUnavailable")] * 2
    storage = S3Storage("bucket", endpoint_url=scripted.url)  # type: ignore[attr-defined]
    storage.put_bytes("k/v.mp4", b"x")
    assert scripted.seen == ["PUT"] * 7
