"""Where an image layer's picture comes from: a bundled asset, the configured storage, or the web.

``src`` (rendered over the row) is ``storage:KEY`` for an object in the configured
storage (``PVIDEO_STORAGE_URL``), an ``http(s)://`` URL fetched by
``pvideo.plan.fetch`` (size and time limits, public addresses only unless
``PVIDEO_FETCH_ALLOW_PRIVATE``; a URL every row uses is fetched once per process
for a while: ``pvideo.plan.fetch.cached_image``), or otherwise a path under ``assets/``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pvideo.errors import AssetError, NotFound
from pvideo.plan.assets import AssetsDir, resolve_asset
from pvideo.plan.fetch import cached_image
from pvideo.storage import Storage, validate_key

STORAGE_PREFIX = "storage:"


def is_bundled(src: str) -> bool:
    """Whether ``src`` names a file under ``assets/`` (checked when a campaign is submitted)."""
    return not src.startswith(STORAGE_PREFIX) and "://" not in src


def load_picture(
    src: str, *, assets_dir: AssetsDir, storage: Storage | None = None, allow_private: bool = False
) -> Path | bytes:
    """The picture ``src`` names: a file path for assets, bytes otherwise."""
    if src.startswith(STORAGE_PREFIX):
        key = src[len(STORAGE_PREFIX) :]
        if storage is None:
            raise AssetError(f"no storage is configured to read {src!r} from")
        try:
            return storage.get_bytes(validate_key(key))
        except ValueError as exc:
            raise AssetError(f"storage key {key!r} is not valid: {exc}") from None
        except NotFound:
            raise AssetError(f"storage key {key!r} not found") from None
    scheme = urlsplit(src).scheme.lower()
    if scheme in ("http", "https"):
        return cached_image(src, allow_private=allow_private).data
    if "://" in src:
        raise AssetError(f"image {src[:200]!r}: only http(s) URLs, storage: keys and asset paths are allowed")
    return resolve_asset(assets_dir, src)
