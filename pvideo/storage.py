"""Where rendered MP4s and posters live: a local folder or an S3 bucket.

Keys are ``/``-separated relative paths (``renders/42/video.mp4``). Both
backends validate keys the same way, so a key that works locally also works
on S3 and no key can escape the storage root. Backend failures surface as
``StorageError`` (retryable) and missing objects as ``NotFound``; raw OS or
botocore exceptions never leak to callers.
"""

from __future__ import annotations

import io
import mimetypes
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pvideo.errors import NotFound, StorageError
from pvideo.settings import Settings

_MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


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
    def exists(self, key: str) -> bool: ...
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

    def exists(self, key: str) -> bool:
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
        read_timeout: float = 60.0,
        max_attempts: int = 5,
    ) -> None:
        if not bucket:
            raise ValueError("S3Storage needs a bucket name")
        prefix = prefix.strip("/")
        self.bucket = bucket
        self.prefix = validate_key(prefix) if prefix else ""
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
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

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        where = f"s3://{self.bucket}/{self._key(key)}"
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING_CODES:
                raise NotFound(f"no object at {where}") from exc
            raise StorageError(f"S3 {action} failed for {where}: {exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(
                f"S3 {action} failed for {where} (endpoint {self.endpoint_url or 'AWS'}): {exc}"
            ) from exc

    def _extra(self, key: str, content_type: str | None) -> dict[str, str]:
        # Presigned URLs hand the browser whatever Content-Type was stored, so guess one.
        content_type = content_type or mimetypes.guess_type(key)[0]
        return {"ContentType": content_type} if content_type else {}

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        with self._errors("upload", key):
            self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=self._extra(key, content_type))

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._errors("put", key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self._extra(key, content_type))

    def put_file_if_absent(self, key: str, path: Path, content_type: str | None = None) -> bool:
        """``PutObject`` with ``If-None-Match: *``: S3 refuses (412) when the key exists."""
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        try:
            with self._errors("conditional put", key), open(path, "rb") as body:
                self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=body, IfNoneMatch="*", **self._extra(key, content_type)
                )
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code", "") in _EXISTS_CODES:
                return False
            raise
        return True

    def get_bytes(self, key: str) -> bytes:
        with self._errors("get", key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            with self._errors("head", key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        with self._errors("delete", key):  # S3 deletes of missing keys succeed
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def url(self, key: str, expires: int = 3600) -> str | None:
        """A presigned GET URL; computed locally, no request is made."""
        with self._errors("presign", key):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires
            )

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None


def storage_from_url(url: str, *, endpoint_url: str | None = None) -> Storage:
    """``file:///abs/path`` -> LocalStorage; ``s3://bucket[/prefix]`` -> S3Storage."""
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
        return S3Storage(parts.netloc, unquote(parts.path), endpoint_url=endpoint_url)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///abs/path or s3://bucket/prefix")


def storage_from_settings(settings: Settings) -> Storage:
    return storage_from_url(settings.resolved_storage_url, endpoint_url=settings.s3_endpoint_url)
