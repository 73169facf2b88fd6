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
    valign: str = "middle"
    line_height: float = 1.0
    wrap: bool = False
    stroke_width: int = 0
    stroke_color: str | None = None
    shadow: tuple[int, int, str] | None = None  # (dx, dy, color)

    def line_step(self, font: ImageFont.FreeTypeFont) -> int:
        """Pixels from one line's top to the next."""
        ascent, descent = font.getmetrics()
        return max(1, round((ascent + descent) * self.line_height))

    @property
    def margins(self) -> tuple[int, int]:
        """Extra (x, y) room the stroke and the shadow need around the glyphs."""
        dx, dy = (abs(self.shadow[0]), abs(self.shadow[1])) if self.shadow else (0, 0)
        return 2 * self.stroke_width + dx, 2 * self.stroke_width + dy


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise AssetError(f"font {path.name} cannot be loaded: {exc}") from None


def _line_width(font: ImageFont.FreeTypeFont, line: str) -> float:
    return font.getlength(line)


def _block_height(font: ImageFont.FreeTypeFont, count: int, style: TextStyle) -> int:
    ascent, descent = font.getmetrics()
    return (count - 1) * style.line_step(font) + ascent + descent if count else 0


def _fits(font: ImageFont.FreeTypeFont, lines: list[str], width: int, height: int, style: TextStyle) -> bool:
    return (_block_height(font, len(lines), style) <= height
            and all(_line_width(font, line) <= width for line in lines))


def wrap_lines(font: ImageFont.FreeTypeFont, text: str, width: int, limit: int | None = None) -> list[str]:
    """Greedy word wrap at spaces; a word wider than ``width`` keeps a line of its own.

    Stops after ``limit`` + 1 lines (the caller only needs to know there are too many).
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current: str | None = None
        for word in paragraph.split(" "):
            candidate = word if current is None else f"{current} {word}"
            if current is None or _line_width(font, candidate) <= width:
                current = candidate
            else:
                lines.append(current)
                current = word
            if limit is not None and len(lines) > limit:
                return lines
        lines.append(current or "")
    return lines


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


def _max_lines(font: ImageFont.FreeTypeFont, height: int, style: TextStyle) -> int:
    ascent, descent = font.getmetrics()
    return max(1, (height - ascent - descent) // style.line_step(font) + 1)


def fit_text(text: str, width: int, height: int, style: TextStyle) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Largest size from ``style.size`` down to ``style.min_size`` that fits (wrapping words
    first when ``style.wrap``); else ellipsize what does not fit at ``min_size``."""
    size = style.size
    while True:
        font = _font(style.font, size)
        limit = _max_lines(font, height, style)
        lines = wrap_lines(font, text, width, limit) if style.wrap else text.split("\n")
        if _fits(font, lines, width, height, style):
            return font, lines
        if size <= style.min_size:
            break
        size = max(style.min_size, int(size * _SHRINK_STEP))
    max_lines = _max_lines(font, height, style)
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
    extra_w, extra_h = style.margins
    inner_w, inner_h = max(1, width - 2 * pad - extra_w), max(1, height - 2 * pad - extra_h)
    font, lines = fit_text(text, inner_w, inner_h, style)
    block = _block_height(font, len(lines), style)
    top = pad + style.stroke_width + max(0, -style.shadow[1] if style.shadow else 0)
    left = pad + style.stroke_width + max(0, -style.shadow[0] if style.shadow else 0)
    if style.valign == "top":
        y = top
    elif style.valign == "bottom":
        y = top + inner_h - block
    else:
        y = top + (inner_h - block) // 2
    placed = []
    for line in lines:
        line_w = _line_width(font, line)
        if style.align == "center":
            x = left + (inner_w - line_w) / 2
        elif style.align == "right":
            x = left + inner_w - line_w
        else:
            x = left
        placed.append((x, y, line))
        y += style.line_step(font)
    outline = dict(stroke_width=style.stroke_width, stroke_fill=style.stroke_color or style.color)
    if style.shadow:
        dx, dy, shadow_color = style.shadow
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        shadow_draw = ImageDraw.Draw(layer)
        for x, y, line in placed:
            shadow_draw.text((x + dx, y + dy), line, font=font, fill=shadow_color, anchor="la",
                             stroke_width=style.stroke_width, stroke_fill=shadow_color)
        image.alpha_composite(layer)
    for x, y, line in placed:
        draw.text((x, y), line, font=font, fill=style.color, anchor="la", **outline)
    return _png(image)


def render_shape(shape: str, width: int, height: int, *, fill: str | None, stroke_width: int = 0,
                 stroke_color: str | None = None, radius: int = 0) -> bytes:
    """A ``width`` x ``height`` RGBA PNG: a rectangle, rounded rectangle or centered circle."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    outline = stroke_color if stroke_width else None
    kwargs = dict(fill=fill, outline=outline, width=stroke_width)
    if shape == "circle":
        side = min(width, height)
        x0, y0 = (width - side) // 2, (height - side) // 2
        draw.ellipse((x0, y0, x0 + side - 1, y0 + side - 1), **kwargs)
    else:
        r = min(radius, width // 2, height // 2) if shape == "rounded_rectangle" else 0
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=r, **kwargs)
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
