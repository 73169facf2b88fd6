"""Serving a stored object to a viewer: a redirect where storage serves URLs (S3), else the file."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from pvideo.storage import Storage

PRIVATE_CACHE = {"Cache-Control": "private, max-age=3600"}


def stored_file(
    storage: Storage, key: str | None, media_type: str, *, not_found: str, headers: dict[str, str] = PRIVATE_CACHE
) -> Response:
    """The object at ``key``; 404 with ``not_found`` when there is none."""
    if not key:
        raise HTTPException(404, not_found)
    direct = storage.url(key)
    if direct:
        return RedirectResponse(direct, status_code=307)
    path = storage.local_path(key)
    if path is None or not path.is_file():
        raise HTTPException(404, not_found)
    return FileResponse(path, media_type=media_type, headers=headers)
