"""The studio's uploaded assets: checked, stored once by content, recorded, and videos ingested.

An upload is streamed to a temp file (hashed on the way, capped at
``PVIDEO_MAX_UPLOAD_MB``), checked (``pvideo.jobs.assetchecks``), then stored in the
configured storage under ``assets/<sha256><ext>`` with a small preview picture
under ``asset-thumbs/<sha256>.png``, and recorded in ``assets``. Scenes name it
``uploads/<sha256>/<filename>`` (``pvideo.plan.uploads``), which every machine with
the storage can resolve. The same bytes uploaded twice are one asset.

A video's template version is ingested after the upload (``ingest_asset``, run by
a worker): renders of the scenes on it then find the plain version stored, and
the asset's ``ingest_state`` is what the studio's progress shows.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from pathlib import Path
from typing import IO

import av
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvideo.db.engine import Database, rows_changed
from pvideo.db.models import Asset, AssetKind, IngestState
from pvideo.errors import AssetError, NotFound, PermanentError
from pvideo.jobs.assetchecks import CheckedAsset, check_asset
from pvideo.plan.uploads import UploadPath, asset_root, parse_upload_path, uploaded_file
from pvideo.render.ingest import ingest
from pvideo.render.versions import ingest_options
from pvideo.settings import Settings
from pvideo.storage import Storage

CHUNK = 1 << 20
THUMB_SIZE = (320, 180)
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


def safe_filename(filename: str | None) -> str:
    """The uploaded name as a scene path's last part: letters, digits, ``. _ -`` and spaces, at most 150."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = _UNSAFE.sub("-", stem).replace("..", ".").strip(" .-")[:120] or "asset"
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def asset_path(asset: Asset) -> str:
    """How a scene names ``asset``: the whole content hash, then the name it was uploaded as."""
    return str(UploadPath(asset.sha256, asset.name))


def asset_key(asset: Asset) -> str:
    return UploadPath(asset.sha256, asset.name).key


def thumbnail_key(sha256: str) -> str:
    return f"asset-thumbs/{sha256}.png"


def store_asset(
    session: Session,
    storage: Storage,
    settings: Settings,
    stream: IO[bytes],
    *,
    filename: str | None,
    uploaded_by: str | None,
) -> Asset:
    """Check and store the file ``stream`` holds; ``AssetError`` (nothing kept) if pvideo cannot use it.

    A video comes back ``QUEUED`` for ingest the first time its bytes are uploaded."""
    name = safe_filename(filename)
    limit = settings.max_upload_mb * CHUNK
    with tempfile.TemporaryDirectory(prefix="pvideo-asset-", dir=_temp_root(settings)) as tmp:
        received = Path(tmp) / f"received{Path(name).suffix}"
        digest, size = hashlib.sha256(), 0
        with received.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise AssetError(f"{name}: larger than {settings.max_upload_mb} MB (PVIDEO_MAX_UPLOAD_MB)")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise AssetError(f"{name}: the file is empty")
        checked = check_asset(received, name)
        sha256 = digest.hexdigest()
        existing = session.get(Asset, sha256)
        if existing is not None:
            return existing
        asset = _record(sha256, name, size, checked, uploaded_by)
        thumbnail = _thumbnail(received, checked.kind)
        storage.put_file_if_absent(asset_key(asset), received, _CONTENT_TYPES.get(Path(name).suffix.lower()))
        if thumbnail is not None:
            storage.put_bytes(thumbnail_key(sha256), thumbnail, "image/png")
    session.add(asset)
    session.flush()
    return asset


def _temp_root(settings: Settings) -> Path:
    root = Path(settings.data_dir) / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _record(sha256: str, name: str, size: int, checked: CheckedAsset, uploaded_by: str | None) -> Asset:
    state = IngestState.QUEUED if checked.kind is AssetKind.VIDEO else IngestState.NONE
    return Asset(
        sha256=sha256,
        name=name,
        kind=checked.kind.value,
        size=size,
        width=checked.width,
        height=checked.height,
        duration=checked.duration,
        uploaded_by=uploaded_by,
        ingest_state=state.value,
    )


def _thumbnail(path: Path, kind: AssetKind) -> bytes | None:
    """A small PNG for the asset list: the picture, the video's first frame, or a font sample."""
    if kind is AssetKind.IMAGE:
        with Image.open(path) as opened:
            image = opened.convert("RGBA")
    elif kind is AssetKind.VIDEO:
        with av.open(str(path)) as container:
            image = next(container.decode(container.streams.video[0])).to_image()
    elif kind is AssetKind.FONT:
        image = Image.new("RGBA", THUMB_SIZE, "white")
        font = ImageFont.truetype(str(path), 64)
        ImageDraw.Draw(image).text(
            (THUMB_SIZE[0] // 2, THUMB_SIZE[1] // 2), "Aa 12", font=font, fill="black", anchor="mm"
        )
    else:
        return None
    image.thumbnail(THUMB_SIZE)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def list_assets(session: Session, kind: AssetKind | None = None) -> list[Asset]:
    """Every uploaded asset (of ``kind``), newest first."""
    query = select(Asset).order_by(Asset.created_at.desc(), Asset.name)
    if kind is not None:
        query = query.where(Asset.kind == kind.value)
    return list(session.scalars(query))


def get_asset(session: Session, sha256: str) -> Asset:
    asset = session.get(Asset, sha256) if re.fullmatch(r"[0-9a-f]{64}", sha256) else None
    if asset is None:
        raise NotFound("no such asset")
    return asset


def recorded_asset(session: Session, path: str) -> Asset:
    """The asset an ``uploads/...`` path names, if it was uploaded here (``AssetError`` otherwise)."""
    upload = parse_upload_path(path)
    asset = session.get(Asset, upload.sha256)
    if asset is None or UploadPath(asset.sha256, asset.name).suffix != upload.suffix:
        raise AssetError(f"asset {path!r} was not uploaded here")
    return asset


def ingest_asset(db: Database, storage: Storage, settings: Settings, sha256: str) -> str:
    """Ingest an uploaded video's plain template version; the state it ends in.

    Only one caller moves a queued (or failed) asset to ``ingesting``: a duplicate message
    finds it taken and returns. A permanent error fails the asset with the reason; any
    other error puts it back in the queue's hands (``queued``) and is raised for a retry."""
    with db.session() as session:
        taken = rows_changed(
            session,
            update(Asset)
            .where(Asset.sha256 == sha256, Asset.ingest_state.in_([IngestState.QUEUED, IngestState.FAILED]))
            .values(ingest_state=IngestState.INGESTING, ingest_error=None),
        )
        asset = session.get(Asset, sha256)
        path = asset_path(asset) if asset is not None else ""
    if not taken or not path:
        return asset.ingest_state if asset is not None else IngestState.NONE
    try:
        source = uploaded_file(asset_root(settings, storage), path)
        version = ingest(
            source,
            storage,
            ffmpeg_exe=settings.ffmpeg_exe,
            options=ingest_options(settings),
            timeout=settings.ffmpeg_timeout,
        )
    except PermanentError as exc:
        _finish(db, sha256, IngestState.FAILED, error=str(exc))
        return IngestState.FAILED
    except BaseException as exc:
        _finish(db, sha256, IngestState.QUEUED, error=f"will retry: {exc}")
        raise
    _finish(db, sha256, IngestState.READY, template_hash=version.hash)
    return IngestState.READY


def _finish(
    db: Database, sha256: str, state: IngestState, *, error: str | None = None, template_hash: str | None = None
) -> None:
    with db.session() as session:
        session.execute(
            update(Asset)
            .where(Asset.sha256 == sha256)
            .values(ingest_state=state, ingest_error=error and error[:2000], template_hash=template_hash)
        )
