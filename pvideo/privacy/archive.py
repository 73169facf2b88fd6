"""A customer's export written out: one JSON document, or a ZIP of it and the media files.

The ZIP is written to a file, each media file streamed into it from storage a chunk at a time
(``pvideo.privacy.media``), so a customer with long videos costs disk, never memory; the
caller streams the file out and removes it. Media are stored uncompressed (video and images
are compressed already), text deflated. Inside: ``export.json`` and
``media/<render id>/<name>`` for each object still stored. One missing when the export was
gathered is listed with size ``null`` and left out; one removed in between (an erasure running
at the same time) leaves an empty entry, also listed with size ``null``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import IO

from pvideo.errors import NotFound
from pvideo.privacy.export import CustomerExport, StoredMedia
from pvideo.privacy.media import copy_object
from pvideo.storage import Storage

JSON_NAME = "export.json"
_COMPRESSED = (".mp4", ".ts", ".jpg", ".jpeg", ".png", ".gif", ".webp")


def json_bytes(export: CustomerExport) -> bytes:
    """The export as one indented UTF-8 JSON document."""
    return json.dumps(export.to_json(), indent=2, ensure_ascii=False, default=str).encode()


def write_json(export: CustomerExport, out: IO[bytes]) -> None:
    out.write(json_bytes(export))


def media_name(item: StoredMedia) -> str:
    return f"media/{item.render_id}/{item.name}"


def write_zip(export: CustomerExport, storage: Storage, path: Path) -> Path:
    """``export.json`` and the media files at ``path``; the JSON lists the sizes as copied."""
    copied: list[StoredMedia] = []
    with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
        for item in export.media:
            if item.size is None:
                copied.append(item)
                continue
            info = zipfile.ZipInfo(media_name(item), date_time=export.generated_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED if item.name.endswith(_COMPRESSED) else zipfile.ZIP_DEFLATED
            try:
                with archive.open(info, "w", force_zip64=True) as entry:
                    size: int | None = copy_object(storage, item.key, entry)
            except NotFound:
                size = None  # removed since the export was gathered: an empty entry is left
            copied.append(replace(item, size=size))
        written = replace(export, media=copied)
        archive.writestr(JSON_NAME, json_bytes(written), compress_type=zipfile.ZIP_DEFLATED)
    return path
