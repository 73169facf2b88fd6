"""Finding assets (videos, images, fonts) safely inside the assets folder."""

from __future__ import annotations

import difflib
import hashlib
from functools import lru_cache
from pathlib import Path

from pvideo.errors import AssetError

FONT_SUFFIXES = (".otf", ".ttf")


def resolve_asset(assets_dir: Path, relative: str) -> Path:
    """Return the file ``relative`` names under ``assets_dir``; refuse anything outside it."""
    root = Path(assets_dir).resolve()
    if not relative or Path(relative).is_absolute() or "\\" in relative:
        raise AssetError(f"asset path {relative!r} must be relative to the assets folder")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise AssetError(f"asset path {relative!r} escapes the assets folder")
    if not path.is_file():
        raise AssetError(f"asset {relative!r} not found in {root}")
    return path


def resolve_font(assets_dir: Path, name: str) -> Path:
    """Fonts are named by file stem (``Inter-Bold``) and live in ``assets/fonts/``."""
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


@lru_cache(maxsize=64)
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
