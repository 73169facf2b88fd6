"""Where rendered MP4s and posters live: a local folder or an S3 bucket.

Keys are ``/``-separated relative paths (``renders/42/video.mp4``). Both
backends validate keys the same way, so a key that works locally also works
on S3 and no key can escape the storage root. Backend failures surface as
``StorageError`` (retryable) and missing objects as ``NotFound``; raw OS or
botocore exceptions never leak to callers.

S3 calls ride out outages inside the call: botocore retries a few times, and
around it each call retries transient failures (connection refused or reset,
timeouts, 5xx, throttling) with backoff until ``retry_seconds`` have passed, so
a minute of S3 trouble costs a render time, not one of its attempts. Permanent
answers (403, NoSuchBucket, a missing key) raise at once.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import unquote, urlsplit

from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from pvideo.errors import NotFound, StorageError
from pvideo.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

_MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_BUSY_CODES = {"RequestTimeout", "SlowDown", "Throttling", "ThrottlingException", "TooManyRequests", "InternalError"}
_FIRST_BACKOFF, _MAX_BACKOFF = 0.5, 8.0  # seconds between retries: doubling, jittered, capped


@runtime_checkable
class Storage(Protocol):
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def put_file_if_absent(self, key: str, path: Path, content_type: str | None = None) -> bool:
        """Create ``key`` from ``path`` only if no object has that key; True if this call created it.

        Atomic: of two concurrent writers exactly one creates the object, and a
        reader never sees a partial object.
        """

    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str, *, retry: bool = True) -> bool: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str, expires: int = 3600) -> str | None:
        """A URL a browser can fetch directly, or None if the API must serve the bytes."""

    def local_path(self, key: str) -> Path | None:
        """The file backing ``key`` (for range-capable responses), or None if not on disk."""

    def __hash__(self) -> int:
        """Storages are hashable (by identity): caches of what a storage holds key on it."""


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative key, else raise ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative, got {key!r}")
    if "\\" in key or "\x00" in key:
        raise ValueError(f"storage key must not contain backslashes or NUL: {key!r}")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"storage key has an empty, '.' or '..' part: {key!r}")
    return key


class LocalStorage:
    """Objects are plain files under ``root``; writes are atomic (temp file + os.replace)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = self.root / validate_key(key)
        # Defence in depth: a symlink inside root must not lead outside it.
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} resolves outside {self.root}")
        return path

    def _write(self, key: str, src: IO[bytes]) -> None:
        dest = self._path(key)
        tmp_name: str | None = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, 0o644)  # mkstemp creates 0600
            os.replace(tmp_name, dest)
            tmp_name = None
        except OSError as exc:
            raise StorageError(f"cannot write {key!r} under {self.root}: {exc}") from exc
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Copy ``path`` in. ``content_type`` is ignored: the API guesses it from the key."""
        validate_key(key)
        with open(path, "rb") as src:  # a missing source is the caller's bug: not wrapped
            self._write(key, src)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(key, io.BytesIO(data))

    def put_file_if_absent(self, key: str, path: Path, content_type: str | None = None) -> bool:
        """Write a temp file, then hard-link it into place: ``link`` fails if the key exists."""
        dest = self._path(key)
        tmp_name: str | None = None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, 0o644)
            try:
                os.link(tmp_name, dest)
            except FileExistsError:
                return False
            return True
        except OSError as exc:
            raise StorageError(f"cannot write {key!r} under {self.root}: {exc}") from exc
        finally:
            if tmp_name is not None:
                Path(tmp_name).unlink(missing_ok=True)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(f"no object {key!r} in {self.root}") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} under {self.root}: {exc}") from exc

    def exists(self, key: str, *, retry: bool = True) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            if not path.is_dir():
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r} under {self.root}: {exc}") from exc

    def url(self, key: str, expires: int = 3600) -> str | None:
        validate_key(key)
        return None

    def local_path(self, key: str) -> Path | None:
        """Where ``key`` is (or would be) stored; the file may not exist yet."""
        return self._path(key)


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

    def delete(self, key: str) -> None:  # S3 deletes of missing keys succeed
        self._call("delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

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


def storage_from_url(
    url: str,
    *,
    endpoint_url: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 20.0,
    retry_seconds: float = 120.0,
) -> Storage:
    """``file:///abs/path`` -> LocalStorage; ``s3://bucket[/prefix]`` -> S3Storage (timeouts: S3 only)."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"storage URL must not have a query or fragment: {url!r}")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file storage URL must be file:///absolute/path, got {url!r}")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError(f"file storage URL needs an absolute path, got {url!r}")
        return LocalStorage(Path(path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"S3 storage URL must be s3://bucket[/prefix], got {url!r}")
        return S3Storage(
            parts.netloc,
            unquote(parts.path),
            endpoint_url=endpoint_url,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retry_seconds=retry_seconds,
        )
    raise ValueError(f"unsupported storage URL {url!r}: use file:///abs/path or s3://bucket/prefix")


def storage_from_settings(settings: Settings) -> Storage:
    return storage_from_url(
        settings.resolved_storage_url,
        endpoint_url=settings.s3_endpoint_url,
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        retry_seconds=settings.storage_retry_seconds,
    )
