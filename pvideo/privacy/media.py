"""Reading a stored object's size and bytes without holding it in memory, through ``Storage`` only.

A local folder hands out the file itself (``local_path``). S3 hands out a URL (``url``: a
presigned GET made for this read, valid ``READ_URL_SECONDS``), read chunk by chunk; its size
comes from a one-byte ranged GET on such a URL, whose ``Content-Range`` names the whole size (a
presigned URL signs its method: a HEAD on a GET URL is refused). A storage offering neither is
read with ``get_bytes``.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import IO, Protocol

from pvideo.errors import NotFound, StorageError
from pvideo.storage import Storage

READ_URL_SECONDS = 300
TIMEOUT_SECONDS = 60.0
CHUNK = 1024 * 1024
_WHOLE = re.compile(r"/(\d+)\s*$")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def object_size(storage: Storage, key: str, *, timeout: float = TIMEOUT_SECONDS) -> int | None:
    """The size of ``key`` in bytes, ``None`` when it is not stored."""
    path = storage.local_path(key)
    if path is not None:
        return path.stat().st_size if path.is_file() else None
    url = storage.url(key, expires=READ_URL_SECONDS)
    if url is None:
        try:
            return len(storage.get_bytes(key))
        except NotFound:
            return None
    try:
        with urllib.request.urlopen(_get(url, {"Range": "bytes=0-0"}), timeout=timeout) as answer:
            whole = _WHOLE.search(answer.headers.get("Content-Range") or "")
            length = whole.group(1) if whole else answer.headers.get("Content-Length")
            return int(length) if length is not None else len(answer.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # no byte 0: an empty object
            return 0
        if exc.code == 404:
            return None
        raise StorageError(f"cannot size {key!r}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StorageError(f"cannot size {key!r}: {exc}") from exc


def copy_object(storage: Storage, key: str, out: IO[bytes], *, timeout: float = TIMEOUT_SECONDS) -> int:
    """Write the bytes of ``key`` to ``out`` a chunk at a time; how many. ``NotFound`` when it is not stored."""
    path = storage.local_path(key)
    if path is not None:
        try:
            with path.open("rb") as source:
                return _copy(source, out)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFound(f"no object {key!r}") from exc
    url = storage.url(key, expires=READ_URL_SECONDS)
    if url is None:
        data = storage.get_bytes(key)
        out.write(data)
        return len(data)
    try:
        with urllib.request.urlopen(_get(url), timeout=timeout) as answer:
            return _copy(answer, out)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise NotFound(f"no object {key!r}") from exc
        raise StorageError(f"cannot read {key!r}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StorageError(f"cannot read {key!r}: {exc}") from exc


def _get(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    if not url.startswith(("https://", "http://")):
        raise StorageError(f"storage handed out a URL that is not http(s): {url[:40]!r}")
    return urllib.request.Request(url, headers=headers or {}, method="GET")


def _copy(source: _Readable, out: IO[bytes]) -> int:
    copied = 0
    while chunk := source.read(CHUNK):
        out.write(chunk)
        copied += len(chunk)
    return copied
