"""Uploaded assets: named ``uploads/<sha256>/<filename>`` in scenes, stored as ``assets/<sha256><ext>``.

The upload (``pvideo.jobs.assetlibrary``) checks a file is something the engine
can read and stores it once under its content hash; this module turns the name a
scene uses back into a local file on any machine. The whole hash is in the name,
so resolving needs only the storage, never the database, and the bytes are
checked against it: a scene version's text pins the content its renders use.
On local storage the stored file itself is used; from S3 it is fetched once into
``<data dir>/cache/assets/`` (written whole, after the check, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pvideo.errors import AssetError, NotFound
from pvideo.files import file_hash, write_whole
from pvideo.settings import Settings
from pvideo.storage import Storage

UPLOADS_PREFIX = "uploads/"
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
AUDIO_SUFFIXES = (".m4a", ".mp3", ".wav", ".aac", ".ogg", ".opus", ".flac")
FONT_SUFFIXES = (".ttf", ".otf")
SUFFIXES = VIDEO_SUFFIXES + IMAGE_SUFFIXES + AUDIO_SUFFIXES + FONT_SUFFIXES
_PATH = re.compile(r"uploads/(?P<sha>[0-9a-f]{64})/(?P<name>[A-Za-z0-9][A-Za-z0-9._ -]{0,150})")


@dataclass(frozen=True)
class AssetRoot:
    """Where assets come from: the bundled folder, plus the storage and local cache of uploads.

    It is path-like (the folder), so code that joins bundled paths onto it keeps working."""

    folder: Path
    storage: Storage | None = None
    cache: Path | None = None

    def __fspath__(self) -> str:
        return os.fspath(self.folder)


def asset_root(settings: Settings, storage: Storage | None) -> AssetRoot:
    """The configured assets folder with ``storage`` for uploads, cached under the data folder."""
    return AssetRoot(Path(settings.assets_dir), storage, Path(settings.data_dir) / "cache" / "assets")


@dataclass(frozen=True)
class UploadPath:
    sha256: str
    filename: str

    @property
    def suffix(self) -> str:
        return Path(self.filename).suffix.lower()

    @property
    def key(self) -> str:
        """The storage key: the content hash and the kind's extension, not the display name."""
        return f"assets/{self.sha256}{self.suffix}"

    def __str__(self) -> str:
        return f"{UPLOADS_PREFIX}{self.sha256}/{self.filename}"


def parse_upload_path(path: str) -> UploadPath:
    """``uploads/<sha256>/<filename>`` split into its parts; ``AssetError`` for any other form."""
    match = _PATH.fullmatch(path)
    if match is None or ".." in match["name"]:
        raise AssetError(
            f"asset path {path[:200]!r}: an uploaded asset is named uploads/<sha256>/<filename> "
            "(64 lowercase hex digits, then a plain file name), as the studio's assets page shows it"
        )
    upload = UploadPath(match["sha"], match["name"])
    if upload.suffix not in SUFFIXES:
        raise AssetError(f"asset path {path[:200]!r}: {upload.suffix or 'no extension'} is not an asset type")
    return upload


def uploaded_file(root: Path | AssetRoot, path: str) -> Path:
    """The local file of the uploaded asset ``path``, its bytes checked against the hash it names."""
    upload = parse_upload_path(path)
    if not isinstance(root, AssetRoot) or root.storage is None or root.cache is None:
        raise AssetError(f"asset {path!r} is uploaded: reading it needs the configured storage")
    local = root.storage.local_path(upload.key)
    if local is not None:
        if not local.is_file():
            raise AssetError(f"asset {path!r} is not in storage (was it uploaded here?)")
        if file_hash(local) != upload.sha256:
            raise AssetError(f"asset {path!r}: the stored bytes do not match their hash")
        return local
    cached = root.cache / f"{upload.sha256}{upload.suffix}"
    if not cached.is_file():
        _fetch(root.storage, upload, cached)
    return cached


def _fetch(storage: Storage, upload: UploadPath, dest: Path) -> None:
    try:
        data = storage.get_bytes(upload.key)
    except NotFound:
        raise AssetError(f"asset {str(upload)!r} is not in storage (was it uploaded here?)") from None
    if hashlib.sha256(data).hexdigest() != upload.sha256:
        raise AssetError(f"asset {str(upload)!r}: the stored bytes do not match their hash")
    write_whole(dest, data)
