"""Serving a stored object to a viewer: a redirect where storage serves URLs (S3), else the file.

A presigned URL works for whoever holds it until it expires, whatever happens to
the link it was made for; so each is made per request, after the route has
checked the viewer token, and lives ``PVIDEO_PRESIGNED_URL_SECONDS`` (at most
5 minutes): a revoked link's media stops within that.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from pvideo.storage import Storage

PRIVATE_CACHE = {"Cache-Control": "private, max-age=3600"}


def stored_file(
    storage: Storage,
    key: str | None,
    media_type: str,
    *,
    not_found: str,
    expires: int,
    headers: dict[str, str] = PRIVATE_CACHE,
) -> Response:
    """The object at ``key`` (a URL valid ``expires`` seconds, or the file); 404 with ``not_found``."""
    if not key:
        raise HTTPException(404, not_found)
    direct = storage.url(key, expires=expires)
    if direct:
        return RedirectResponse(direct, status_code=307, headers={"Cache-Control": "no-store"})
    path = storage.local_path(key)
    if path is None or not path.is_file():
        raise HTTPException(404, not_found)
    return FileResponse(path, media_type=media_type, headers=headers)
