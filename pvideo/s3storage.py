"""The S3 backend of ``pvideo.storage``: AWS, MinIO, moto.

S3 calls ride out outages inside the call: botocore retries a few times, and
around it each call retries transient failures (connection refused or reset,
timeouts, 5xx, throttling) with backoff until ``retry_seconds`` have passed, so
a minute of S3 trouble costs a render time, not one of its attempts. Permanent
answers (403, NoSuchBucket, a missing key) raise at once. Deleting removes
every version of an object, so on a versioned bucket nothing is left behind.
"""

from __future__ import annotations

import logging
import mimetypes
import random
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from pvideo.errors import NotFound, StorageError
from pvideo.storage_keys import validate_key

log = logging.getLogger(__name__)
T = TypeVar("T")

_MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_BUSY_CODES = {"RequestTimeout", "SlowDown", "Throttling", "ThrottlingException", "TooManyRequests", "InternalError"}
_FIRST_BACKOFF, _MAX_BACKOFF = 0.5, 8.0  # seconds between retries: doubling, jittered, capped


class S3Storage:
    """Objects in ``bucket`` under an optional ``prefix``; works with AWS, MinIO, moto."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        max_attempts: int = 3,
        retry_seconds: float = 120.0,
    ) -> None:
        if not bucket:
            raise ValueError("S3Storage needs a bucket name")
        prefix = prefix.strip("/")
        self.bucket = bucket
        self.prefix = validate_key(prefix) if prefix else ""
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self.retry_seconds = retry_seconds
        self._config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # botocore's max_attempts counts retries: 3 is 4 tries of a request
            retries={"max_attempts": max_attempts, "mode": "standard"},
            signature_version="s3v4",
            # Custom endpoints (MinIO, moto, localhost) rarely have wildcard DNS.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix}, endpoint_url={self.endpoint_url!r})"

    @property
    def client(self) -> Any:
        """The boto3 client, created on first use so construction never touches the network."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3

                    session = boto3.session.Session()  # sessions are not thread-safe; own one
                    self._client = session.client(
                        "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config
                    )
        return self._client

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, action: str, key: str, operation: Callable[[], T]) -> T:
        """``operation()``, retried with backoff while it fails transiently and ``retry_seconds`` last."""
        where = f"s3://{self.bucket}/{self._key(key)}"
        deadline, retry = time.monotonic() + self.retry_seconds, 0
        while True:
            try:
                return operation()
            except (BotoCoreError, Boto3Error, ClientError) as exc:
                retry += 1
                delay = min(_MAX_BACKOFF, _FIRST_BACKOFF * 2 ** (retry - 1)) * random.uniform(0.5, 1.0)
                if not transient(exc) or time.monotonic() + delay > deadline:
                    raise self._error(action, where, exc) from exc
                log.warning("S3 %s of %s failed, retry %d in %.1f s: %s", action, where, retry, delay, exc)
                time.sleep(delay)

    def _error(self, action: str, where: str, exc: Exception) -> NotFound | StorageError:
        if isinstance(exc, ClientError):
            if error_code(exc) in _MISSING_CODES:
                return NotFound(f"no object at {where}")
            return StorageError(f"S3 {action} failed for {where}: {exc}")
        return StorageError(f"S3 {action} failed for {where} (endpoint {self.endpoint_url or 'AWS'}): {exc}")

    def _extra(self, key: str, content_type: str | None) -> dict[str, str]:
        # Presigned URLs hand the browser whatever Content-Type was stored, so guess one.
        content_type = content_type or mimetypes.guess_type(key)[0]
        return {"ContentType": content_type} if content_type else {}

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        extra = self._extra(key, content_type)
        self._call(
            "upload", key, lambda: self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra)
        )

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = self._extra(key, content_type)
        self._call(
            "put", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        )

    def put_file_if_absent(self, key: str, path: Path, content_type: str | None = None) -> bool:
        """``PutObject`` with ``If-None-Match: *``: S3 refuses (412) when the key exists.

        A retry after a lost answer may find the object its own first try created, and
        answers False: the key exists, and content-addressed keys hold the same bytes.
        """
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        extra = self._extra(key, content_type)

        def create() -> bool:
            try:
                with open(path, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body, IfNoneMatch="*", **extra)
            except ClientError as exc:
                if error_code(exc) in _EXISTS_CODES:
                    return False
                raise
            return True

        return self._call("conditional put", key, create)

    def get_bytes(self, key: str) -> bytes:
        def read() -> bytes:  # the body is read inside the retry: a connection can drop mid-stream
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

        return self._call("get", key, read)

    def exists(self, key: str, *, retry: bool = True) -> bool:
        """Whether ``key`` is stored; ``retry=False`` asks once (readiness probes want the answer now)."""

        def head() -> object:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))

        try:
            if retry:
                self._call("head", key, head)
            else:
                try:
                    head()
                except (BotoCoreError, Boto3Error, ClientError) as exc:
                    raise self._error("head", f"s3://{self.bucket}/{self._key(key)}", exc) from exc
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """Every version and delete marker of ``key``: on a versioned bucket a plain delete only hides it."""
        self._purge(key, folder=False)

    def delete_prefix(self, prefix: str) -> int:
        return self._purge(prefix.rstrip("/"), folder=True)

    def _purge(self, key: str, *, folder: bool) -> int:
        """Delete each listed version (``VersionId`` "null" on an unversioned bucket); S3 deletes of
        missing keys succeed, so a purge cut short is simply run again."""
        name = self._key(key) + ("/" if folder else "")

        def versions() -> list[dict[str, str]]:
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=name)
            found = [v for page in pages for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            return [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in found if folder or v["Key"] == name]

        found = self._call("list versions", key, versions)
        for start in range(0, len(found), 1000):  # the most one DeleteObjects takes
            batch: dict[str, Any] = {"Objects": found[start : start + 1000], "Quiet": True}
            answer = self._call("delete", key, partial(self.client.delete_objects, Bucket=self.bucket, Delete=batch))
            if answer.get("Errors"):
                raise StorageError(f"S3 delete failed for s3://{self.bucket}/{name}: {answer['Errors'][:3]}")
        return len(found)

    def url(self, key: str, expires: int = 3600) -> str | None:
        """A presigned GET URL valid for ``expires`` seconds; computed locally, no request is made."""
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        return self._call(
            "presign", key, lambda: self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        )

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def transient(exc: BaseException) -> bool:
    """Whether the same S3 call may succeed later: the endpoint was unreachable, hung, dropped
    the connection, failed (5xx) or throttled. Client errors (403, 404, 412) are answers."""
    if isinstance(exc, (EndpointUnreachable, HTTPClientError, IncompleteReadError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or status in (408, 429) or error_code(exc) in _BUSY_CODES
    if isinstance(exc, Boto3Error) and exc.__context__ is not None:  # upload_file wraps the ClientError
        return transient(exc.__context__)
    return False
