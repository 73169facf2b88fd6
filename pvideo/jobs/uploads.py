"""Customer files uploaded in the studio's new-campaign wizard: stored, found again, expired.

Each upload is a folder ``<data_dir>/uploads/<id>/`` holding the table as it was sent
(``table.csv`` or ``table.xlsx``) and what later steps derive from it (the check
report, a sample video). The ``StudioUpload`` row holds the choices made about it.
An upload belongs to the user who sent it: ``get_upload`` finds no one else's.
Storing a new upload removes the folders (and the unsubmitted rows) older than a day.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from pvideo.db.models import StudioUpload, new_id, utcnow
from pvideo.errors import DataError, NotFound
from pvideo.jobs.checkreport import CheckReport, RowProblem
from pvideo.scene.tables import sniff_kind, table_kind
from pvideo.settings import Settings

KEEP = timedelta(days=1)
CHUNK = 1 << 20


def uploads_dir(settings: Settings) -> Path:
    return settings.data_dir / "uploads"


def upload_dir(settings: Settings, upload: StudioUpload) -> Path:
    return uploads_dir(settings) / upload.id


def table_path(settings: Settings, upload: StudioUpload) -> Path:
    return upload_dir(settings, upload) / f"table.{upload.kind}"


def display_name(filename: str | None) -> str:
    """The uploaded file's name for pages and messages: its last part, printable, at most 100 characters."""
    name = "".join(c for c in (filename or "").replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    return name[:100] or "upload.csv"


def store_upload(
    session: Session, settings: Settings, stream: IO[bytes], *, user_id: str, scene_name: str, filename: str
) -> StudioUpload:
    """Copy ``stream`` to disk chunk by chunk (never whole in memory) and record it.

    Raises ``DataError`` (and keeps nothing) for a name that is not .csv/.xlsx, a file
    over ``max_upload_mb``, or content that is no table of its kind.
    """
    remove_stale(session, settings)
    name = display_name(filename)
    upload = StudioUpload(
        id=new_id(), user_id=user_id, scene_name=scene_name, filename=name, kind=table_kind(name), size=0
    )
    folder = upload_dir(settings, upload)
    folder.mkdir(parents=True)
    limit = settings.max_upload_mb * CHUNK
    received = folder / "received"
    try:
        with received.open("wb") as out:
            while chunk := stream.read(CHUNK):
                upload.size += len(chunk)
                if upload.size > limit:
                    raise DataError(f"{name}: larger than {settings.max_upload_mb} MB (PVIDEO_MAX_UPLOAD_MB)")
                out.write(chunk)
        if upload.size == 0:
            raise DataError(f"{name}: the file is empty")
        upload.kind = sniff_kind(received, name)
        received.rename(table_path(settings, upload))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, upload_id: str, user_id: str) -> StudioUpload:
    """The upload ``upload_id`` if ``user_id`` sent it (else ``NotFound``, as if it did not exist)."""
    upload = session.get(StudioUpload, upload_id) if len(upload_id) <= 32 else None
    if upload is None or upload.user_id != user_id:
        raise NotFound("no such upload (uploads are kept for a day)")
    return upload


def discard_upload(session: Session, settings: Settings, upload: StudioUpload) -> None:
    """Forget a refused upload: its folder and its row."""
    shutil.rmtree(upload_dir(settings, upload), ignore_errors=True)
    session.delete(upload)
    session.flush()


def remove_stale(session: Session, settings: Settings) -> None:
    """Delete upload folders older than ``KEEP``, and the rows of those never submitted."""
    root = uploads_dir(settings)
    cutoff = time.time() - KEEP.total_seconds()
    if root.is_dir():
        for folder in root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:  # another request removed it
                continue
    session.execute(
        delete(StudioUpload).where(StudioUpload.created_at < utcnow() - KEEP, StudioUpload.campaign_id.is_(None))
    )


def report_key(*parts: Any) -> str:
    """A short digest of what a check report depends on (scene, sheet, mapping)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def shown(value: Any) -> dict[str, str]:
    """A typed value as the check page shows it: its text and its type."""
    if value is None:
        return {"value": "", "type": "empty"}
    if isinstance(value, bool):
        return {"value": "true" if value else "false", "type": "bool"}
    if isinstance(value, date):
        return {"value": value.isoformat(), "type": type(value).__name__}
    return {"value": str(value), "type": type(value).__name__}


def cached_report(folder: Path, key: str, check: Callable[[], CheckReport]) -> CheckReport:
    """The report stored beside the upload under ``key``, else ``check()`` stored there.

    The sample's values are stored (and returned) as ``shown`` them, so a page of problems
    read from the file matches the first one computed; paging never reads the rows again.
    """
    path = folder / f"report-{key}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    if isinstance(stored, dict):
        stored["problems"] = [RowProblem(**p) for p in stored["problems"]]
        return CheckReport(**stored)
    report = check()
    report.sample = [{k: shown(v) for k, v in row.items()} for row in report.sample]
    part = path.with_suffix(".part")
    part.write_text(json.dumps(asdict(report)), encoding="utf-8")
    os.replace(part, path)
    return report
