"""Finding assets (videos, images, fonts) safely: in the assets folder or uploaded to storage.

A scene names a bundled asset by its path under ``assets/`` and an uploaded one by
``uploads/<sha256>/<filename>`` (``pvideo.plan.uploads``): the whole hash is in the
name, so a scene version's text pins the bytes, and any machine with the storage
can fetch and check them. Both kinds resolve to a local file; an ``AssetRoot``
(the folder plus the storage and a cache) is what lets the second kind resolve.
A plain ``Path`` still works for bundled assets.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from pvideo.errors import AssetError
from pvideo.plan.uploads import UPLOADS_PREFIX, AssetRoot, uploaded_file

FONT_SUFFIXES = (".otf", ".ttf")
AssetsDir = Path | AssetRoot
"""What the resolvers take: the assets folder, or the folder with the storage of uploads."""


def resolve_asset(assets_dir: AssetsDir, relative: str) -> Path:
    """Return the file ``relative`` names under ``assets_dir`` (or uploaded); refuse anything outside it."""
    if relative.startswith(UPLOADS_PREFIX):
        return uploaded_file(assets_dir, relative)
    root = Path(assets_dir).resolve()
    if not relative or Path(relative).is_absolute() or "\\" in relative:
        raise AssetError(f"asset path {relative!r} must be relative to the assets folder")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise AssetError(f"asset path {relative!r} escapes the assets folder")
    if not path.is_file():
        raise AssetError(f"asset {relative!r} not found in {root}")
    return path


def resolve_font(assets_dir: AssetsDir, name: str) -> Path:
    """Bundled fonts are named by file stem (``Inter-Bold``) and live in ``assets/fonts/``;
    an uploaded font by its path, ``uploads/<sha256>/Brand-Bold.ttf``."""
    if name.startswith(UPLOADS_PREFIX):
        if not name.lower().endswith(FONT_SUFFIXES):
            raise AssetError(
                f"font {name!r}: an uploaded font is named by its whole path, ending in .ttf or .otf "
                "(weight: does not apply to it; upload each weight and name that file)"
            )
        return uploaded_file(assets_dir, name)
    fonts = Path(assets_dir) / "fonts"
    if "/" in name or "\\" in name or name.startswith("."):
        raise AssetError(f"font name {name!r} is not a plain font name")
    for suffix in FONT_SUFFIXES:
        candidate = fonts / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    available = sorted(p.stem for p in fonts.glob("*") if p.suffix in FONT_SUFFIXES)
    close = difflib.get_close_matches(name, available, n=1) or [a for a in available if a.lower() == name.lower()]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise AssetError(f"unknown font {name!r}{hint}; available: {', '.join(available) or 'none'}")
