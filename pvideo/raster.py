"""Rasterizing layers to RGBA PNGs with Pillow.

Text never reaches an ffmpeg filter string: it is drawn here, with a bundled
font, so quotes, colons and backslashes in a customer's name are just pixels,
and output is identical on every machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from pvideo.errors import AssetError

ELLIPSIS = "\u2026"
_SHRINK_STEP = 0.92


@dataclass(frozen=True)
class TextStyle:
    font: Path
    size: int
    min_size: int
    color: str
    background: str | None = None
    align: str = "left"
    radius: int = 0
    padding: int = 0


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise AssetError(f"font {path.name} cannot be loaded: {exc}") from None


def _line_width(font: ImageFont.FreeTypeFont, line: str) -> float:
    return font.getlength(line)


def _fits(font: ImageFont.FreeTypeFont, lines: list[str], width: int, height: int) -> bool:
    ascent, descent = font.getmetrics()
    return (len(lines) * (ascent + descent) <= height
            and all(_line_width(font, line) <= width for line in lines))


def _ellipsize(font: ImageFont.FreeTypeFont, line: str, width: int) -> str:
    if _line_width(font, line) <= width:
        return line
    lo, hi = 0, len(line)
    while lo < hi:  # longest prefix that still fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if _line_width(font, line[:mid].rstrip() + ELLIPSIS) <= width:
            lo = mid
        else:
            hi = mid - 1
    return line[:lo].rstrip() + ELLIPSIS if lo else ""


def fit_text(text: str, width: int, height: int, style: TextStyle) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Largest size from ``style.size`` down to ``style.min_size`` that fits; else ellipsize."""
    lines = text.split("\n")
    size = style.size
    while True:
        font = _font(style.font, size)
        if _fits(font, lines, width, height):
            return font, lines
        if size <= style.min_size:
            break
        size = max(style.min_size, int(size * _SHRINK_STEP))
    ascent, descent = font.getmetrics()
    max_lines = max(1, height // (ascent + descent))
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1] + ELLIPSIS
    while sum(font.getmetrics()) > height and size > 1:
        size -= 1  # even one line at min_size is taller than the box
        font = _font(style.font, size)
    return font, [_ellipsize(font, line, width) for line in lines]


def render_text(text: str, width: int, height: int, style: TextStyle) -> bytes:
    """A ``width`` x ``height`` RGBA PNG with ``text`` fitted inside it."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if style.background:
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=style.radius, fill=style.background)
    pad = min(style.padding, width // 4, height // 4)
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    font, lines = fit_text(text, inner_w, inner_h, style)
    ascent, descent = font.getmetrics()
    line_h = ascent + descent
    y = pad + (inner_h - line_h * len(lines)) // 2
    for line in lines:
        line_w = _line_width(font, line)
        if style.align == "center":
            x = pad + (inner_w - line_w) / 2
        elif style.align == "right":
            x = pad + inner_w - line_w
        else:
            x = pad
        draw.text((x, y), line, font=font, fill=style.color, anchor="la")
        y += line_h
    return _png(image)


def render_image(path: Path, width: int, height: int) -> bytes:
    """The picture at ``path`` fitted (contain) and centered in a transparent box."""
    try:
        with Image.open(path) as source:
            source.load()
            picture = ImageOps.contain(source.convert("RGBA"), (width, height), Image.Resampling.LANCZOS)
    except Image.DecompressionBombError as exc:
        raise AssetError(f"image {path.name} is too large to decode safely: {exc}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise AssetError(f"{path.name} is not a readable image: {exc}") from None
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.alpha_composite(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    return _png(canvas)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
