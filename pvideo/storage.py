"""Where rendered MP4s and posters live: a local folder or an S3 bucket (``pvideo.s3storage``).

Keys are ``/``-separated relative paths (``renders/42/video.mp4``). Both
backends validate keys the same way (``pvideo.storage_keys``), so a key that works
locally also works on S3 and no key can escape the storage root. Backend failures
surface as ``StorageError`` (retryable) and missing objects as ``NotFound``; raw
OS or botocore exceptions never leak to callers. A delete is for good: on S3 it
removes every version of the object.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from pvideo.errors import NotFound, StorageError
from pvideo.s3storage import S3Storage as S3Storage
from pvideo.settings import Settings
from pvideo.storage_keys import validate_key as validate_key


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
    def delete(self, key: str) -> None:
        """Remove ``key`` for good (on a versioned bucket: every version); a missing key is no error."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under the folder ``prefix`` for good; how many were removed."""

    def url(self, key: str, expires: int = 3600) -> str | None:
        """A URL a browser can fetch directly, or None if the API must serve the bytes."""

    def local_path(self, key: str) -> Path | None:
        """The file backing ``key`` (for range-capable responses), or None if not on disk."""

    def __hash__(self) -> int:
        """Storages are hashable (by identity): caches of what a storage holds key on it."""


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

    def delete_prefix(self, prefix: str) -> int:
        folder = self._path(prefix.rstrip("/"))
        if not folder.is_dir():
            return 0
        try:
            removed = sum(1 for path in folder.rglob("*") if path.is_file())
            shutil.rmtree(folder)
        except FileNotFoundError:  # removed meanwhile
            return 0
        except OSError as exc:
            raise StorageError(f"cannot delete {prefix!r} under {self.root}: {exc}") from exc
        return removed

    def url(self, key: str, expires: int = 3600) -> str | None:
        validate_key(key)
        return None

    def local_path(self, key: str) -> Path | None:
        """Where ``key`` is (or would be) stored; the file may not exist yet."""
        return self._path(key)


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
