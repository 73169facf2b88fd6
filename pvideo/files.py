"""Local files that many threads and processes share: written whole or not at all, hashed once.

Caches of segments, uploaded assets and frames are filled by whichever process needs
them first, often several at once; a reader must never see half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path


def write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, safe against every other thread and process doing the same.

    Each writer fills a temp file of its own and renames it into place, so a reader never sees a
    partial file and two writers never share (or delete) a temp file; the last rename wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=256)
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, cached while its size and mtime stay the same."""
    stat = path.stat()
    return _file_hash(path, stat.st_size, stat.st_mtime_ns)
