"""Storage backends against real outcomes: files on disk and a real S3 HTTP endpoint (moto)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from pvideo.errors import NotFound, StorageError
from pvideo.settings import Settings
from pvideo.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    storage_from_settings,
    storage_from_url,
    validate_key,
)
from tests.s3server import sent_requests

BAD_KEYS = ["../x", "a/../../x", "/abs", "a//b", "a\\b", "", "a/", "./a", "a/./b", ".."]


def _raw_client(endpoint_url: str):
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name="us-east-1", config=Config(s3={"addressing_style": "path"})
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(bucket, endpoint_url=endpoint)


# -- both backends ---------------------------------------------------------------


def test_put_bytes_roundtrip(store: Storage) -> None:
    data = os.urandom(4096)
    store.put_bytes("renders/1/video.mp4", data, content_type="video/mp4")
    assert store.get_bytes("renders/1/video.mp4") == data


def test_put_file_roundtrip(store: Storage, tmp_path: Path) -> None:
    src = tmp_path / "poster.jpg"
    src.write_bytes(b"\xff\xd8\xff" + os.urandom(10_000))
    store.put_file("renders/1/poster.jpg", src, content_type="image/jpeg")
    assert store.get_bytes("renders/1/poster.jpg") == src.read_bytes()


def test_overwrite_replaces_content(store: Storage) -> None:
    store.put_bytes("k.txt", b"old")
    store.put_bytes("k.txt", b"new")
    assert store.get_bytes("k.txt") == b"new"


def test_exists_and_delete(store: Storage) -> None:
    assert not store.exists("a/b.bin")
    store.put_bytes("a/b.bin", b"x")
    assert store.exists("a/b.bin")
    assert not store.exists("a")  # a "folder" is not an object
    store.delete("a/b.bin")
    assert not store.exists("a/b.bin")
    with pytest.raises(NotFound):
        store.get_bytes("a/b.bin")
    store.delete("a/b.bin")  # deleting a missing key is not an error


def test_get_missing_raises_notfound(store: Storage) -> None:
    with pytest.raises(NotFound):
        store.get_bytes("nope/missing.mp4")


@pytest.mark.parametrize("backend", ["local", "s3"])
@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_rejected(backend: str, key: str, tmp_path: Path) -> None:
    # Validation runs before any I/O: the S3 endpoint is dead, so a request would
    # surface as StorageError, not ValueError.
    store: Storage = (
        LocalStorage(tmp_path)
        if backend == "local"
        else S3Storage("bucket", endpoint_url="http://127.0.0.1:1", max_attempts=1)
    )
    for call in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.url(key),
        lambda: store.local_path(key),
    ):
        with pytest.raises(ValueError):
            call()


def test_validate_key_accepts_normal_keys() -> None:
    for key in ["a", "renders/42/video.mp4", "a.b/c-d_e.mp4", "video..mp4"]:
        assert validate_key(key) == key


# -- local -----------------------------------------------------------------------


def test_local_url_is_none_and_local_path_points_at_file(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.put_bytes("r/v.mp4", b"video")
    assert store.url("r/v.mp4") is None
    path = store.local_path("r/v.mp4")
    assert path == tmp_path.resolve() / "r" / "v.mp4"
    assert path.read_bytes() == b"video"


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    src = tmp_path.parent / f"{tmp_path.name}-src.bin"
    src.write_bytes(b"file")
    store.put_bytes("a/one.bin", b"1")
    store.put_bytes("a/one.bin", b"11")
    store.put_file("a/b/two.bin", src)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["a/b/two.bin", "a/one.bin"]


def test_local_failed_write_keeps_old_object_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStorage(tmp_path)
    store.put_bytes("v.mp4", b"complete")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(StorageError):
        store.put_bytes("v.mp4", b"partial")
    monkeypatch.undo()
    assert store.get_bytes("v.mp4") == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_local_symlink_escape_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    store = LocalStorage(root)
    with pytest.raises(ValueError):
        store.put_bytes("link/x", b"x")
    assert not (outside / "x").exists()


# -- S3 --------------------------------------------------------------------------


def test_s3_presigned_url_serves_bytes_and_content_type(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    store = S3Storage(bucket, endpoint_url=endpoint)
    data = os.urandom(2048)
    store.put_bytes("r/1/video.mp4", data, content_type="video/mp4")
    url = store.url("r/1/video.mp4", expires=300)
    assert url and url.startswith(endpoint) and "X-Amz-Signature=" in url
    with httpx.Client(trust_env=False, timeout=10) as http:
        response = http.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "video/mp4"
    assert store.local_path("r/1/video.mp4") is None


def test_s3_put_file_guesses_content_type(s3_bucket: tuple[str, str], tmp_path: Path) -> None:
    endpoint, bucket = s3_bucket
    store = S3Storage(bucket, endpoint_url=endpoint)
    src = tmp_path / "poster.jpg"
    src.write_bytes(b"\xff\xd8\xff-jpeg")
    store.put_file("r/poster.jpg", src)
    with httpx.Client(trust_env=False, timeout=10) as http:
        response = http.get(store.url("r/poster.jpg"))
    assert response.content == src.read_bytes()
    assert response.headers["content-type"] == "image/jpeg"


def test_s3_prefix_stores_under_prefix(s3_bucket: tuple[str, str]) -> None:
    endpoint, bucket = s3_bucket
    store = S3Storage(bucket, "pre/fix", endpoint_url=endpoint)
    store.put_bytes("a/b.txt", b"hello")
    listed = _raw_client(endpoint).list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["pre/fix/a/b.txt"]
    assert store.get_bytes("a/b.txt") == b"hello"
    assert store.exists("a/b.txt")
    assert not S3Storage(bucket, endpoint_url=endpoint).exists("a/b.txt")
    store.delete("a/b.txt")
    assert _raw_client(endpoint).list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_s3_missing_bucket_is_storage_error(s3_server: str) -> None:
    store = S3Storage("no-such-bucket-pvideo", endpoint_url=s3_server)
    with pytest.raises(StorageError, match="no-such-bucket-pvideo"):
        store.put_bytes("k", b"x")


def test_s3_closed_port_raises_storage_error_quickly(s3_server: str) -> None:
    # s3_server only provides the fake credentials; the endpoint below is dead.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3Storage(
        "bucket",
        endpoint_url=f"http://127.0.0.1:{port}",
        connect_timeout=1,
        read_timeout=1,
        max_attempts=1,
        retry_seconds=0,
    )
    sent = sent_requests(store)
    for call in (
        lambda: store.put_bytes("k/v.mp4", b"x"),
        lambda: store.get_bytes("k/v.mp4"),
        lambda: store.exists("k/v.mp4"),
    ):
        with pytest.raises(StorageError, match=r"s3://bucket/k/v\.mp4"):
            call()
    # quickly: two tries a call (botocore's max_attempts counts retries), none more from the call's
    # own backoff (retry_seconds=0)
    assert sent == ["PUT", "PUT", "GET", "GET", "HEAD", "HEAD"]


def test_s3_construction_does_no_network() -> None:
    store = S3Storage("bucket", endpoint_url="http://127.0.0.1:1")
    assert store._client is None


# -- URL parsing -----------------------------------------------------------------


def test_storage_from_url_file(tmp_path: Path) -> None:
    store = storage_from_url(f"file://{tmp_path}/store")
    assert isinstance(store, LocalStorage)
    assert store.root == (tmp_path / "store").resolve()


@pytest.mark.parametrize(
    "url, prefix",
    [
        ("s3://bucket", ""),
        ("s3://bucket/", ""),
        ("s3://bucket/pre/fix", "pre/fix"),
        ("s3://bucket/pre/fix/", "pre/fix"),
    ],
)
def test_storage_from_url_s3(url: str, prefix: str) -> None:
    store = storage_from_url(url, endpoint_url="http://minio:9000")
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix, store.endpoint_url) == ("bucket", prefix, "http://minio:9000")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x",
        "ftp://x/y",
        "/plain/path",
        "file://relative/path",
        "file:relative",
        "s3://",
        "s3:///prefix-only",
        "s3://bucket/../x",
        "s3://bucket/a//b",
        "s3://bucket/x?y=1",
    ],
)
def test_storage_from_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        storage_from_url(url)


def test_storage_from_settings(tmp_path: Path) -> None:
    local = storage_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalStorage)
    assert local.root == (tmp_path / "storage").resolve()

    s3 = storage_from_settings(Settings(storage_url="s3://media/pvideo", s3_endpoint_url="http://127.0.0.1:9000"))
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == ("media", "pvideo", "http://127.0.0.1:9000")


def test_backends_satisfy_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalStorage(tmp_path), Storage)
    assert isinstance(S3Storage("b"), Storage)
