"""Rasterizing layers to RGBA PNGs with Pillow.

Text never reaches an ffmpeg filter string: it is drawn here, with bundled
fonts, so quotes, colons and backslashes in a customer's name are just pixels,
and output is identical on every machine. Scripts the layer's font lacks fall
back to the bundled Noto fonts (see ``pvideo.plan.fonts``).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from pvideo.errors import AssetError
from pvideo.plan import fonts

ELLIPSIS = "\u2026"
_SHRINK_STEP = 0.92

Metrics = tuple[int, int]  # (ascent, descent) of a line in pixels


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

    def line_step(self, metrics: Metrics) -> int:
        """Pixels from one line's top to the next."""
        return max(1, round(sum(metrics) * self.line_height))

    @property
    def margins(self) -> tuple[int, int]:
        """Extra (x, y) room the stroke and the shadow need around the glyphs."""
        dx, dy = (abs(self.shadow[0]), abs(self.shadow[1])) if self.shadow else (0, 0)
        return 2 * self.stroke_width + dx, 2 * self.stroke_width + dy


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return fonts.face(Path(path), size)[0]


def _block_height(metrics: Metrics, count: int, style: TextStyle) -> int:
    return (count - 1) * style.line_step(metrics) + sum(metrics) if count else 0


def _is_wide(ch: str) -> bool:
    """Ideographs, kana and the like: a line may break before and after each one."""
    return unicodedata.east_asian_width(ch) in ("W", "F") and unicodedata.category(ch)[0] in "LS"


def _pieces(word: str) -> list[str]:
    """``word`` cut where a line may break inside it: around wide characters (CJK has no spaces).

    Punctuation, marks and joined sequences stay with what precedes them, opening brackets with what follows.
    """
    if word.isascii() or not any(map(_is_wide, word)):
        return [word]
    pieces: list[str] = []
    opening = ""
    for ch in word:
        category = unicodedata.category(ch)
        if category == "Ps":
            opening += ch
            continue
        attach = (
            pieces
            and not opening
            and (
                category[0] in "PM"
                or category == "Lm"
                or fonts.continues(ch)
                or pieces[-1][-1] == "\u200d"
                or not (_is_wide(ch) or _is_wide(pieces[-1][-1]))
            )
        )
        if attach:
            pieces[-1] += ch
        else:
            pieces.append(opening + ch)
            opening = ""
    return [*pieces, opening] if opening else pieces


def wrap_lines(measure: Callable[[str], float], text: str, width: int, limit: int | None = None) -> list[str]:
    """Greedy wrap at spaces and between CJK characters; a piece wider than ``width`` keeps a line of
    its own. ``measure`` gives a line's width.

    Stops after ``limit`` + 1 lines (the caller only needs to know there are too many).
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current: str | None = None
        for index, word in enumerate(paragraph.split(" ")):
            for number, piece in enumerate(_pieces(word)):
                glue = " " if index and not number else ""
                candidate = piece if current is None else f"{current}{glue}{piece}"
                if current is None or measure(candidate) <= width:
                    current = candidate
                else:
                    lines.append(current)
                    current = piece
                if limit is not None and len(lines) > limit:
                    return lines
        lines.append(current or "")
    return lines


def _ellipsize(measure: Callable[[str], float], line: str, width: int) -> str:
    if measure(line) <= width:
        return line
    cuts = [i for i in range(1, len(line)) if not fonts.continues(line[i]) and line[i - 1] != "\u200d"]

    def fits(count: int) -> bool:
        return measure(line[: cuts[count - 1]].rstrip() + ELLIPSIS) <= width

    lo, hi = 0, 16
    while hi < len(cuts) and fits(hi):
        lo, hi = hi, hi * 2  # a 10 KB line: bound the answer without shaping all of it each time
    hi = min(hi, len(cuts))
    while lo < hi:  # most characters that still fit with the ellipsis, never inside a cluster
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return line[: cuts[lo - 1]].rstrip() + ELLIPSIS if lo else ""


def _max_lines(metrics: Metrics, height: int, style: TextStyle) -> int:
    return max(1, (height - sum(metrics)) // style.line_step(metrics) + 1)


def fit_text(text: str, width: int, height: int, style: TextStyle) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Largest size from ``style.size`` down to ``style.min_size`` that fits (wrapping words
    first when ``style.wrap``); else ellipsize what does not fit at ``min_size``.

    Returns the layer font at that size; fallback fonts are used at the same size.
    """
    size, lines = _fit(text, width, height, style)
    return _font(style.font, size), lines


def _fit(text: str, width: int, height: int, style: TextStyle) -> tuple[int, list[str]]:
    """``fit_text``'s size in pixels and lines."""
    chain = fonts.chain_for(style.font)
    size = style.size
    while True:
        measure = partial(fonts.line_length, chain, size=size)
        limit = _max_lines(fonts.face(chain[0], size)[0].getmetrics(), height, style)
        lines = wrap_lines(measure, text, width, limit) if style.wrap else text.split("\n")
        metrics = fonts.line_metrics(chain, tuple(lines), size)
        if _block_height(metrics, len(lines), style) <= height and all(measure(line) <= width for line in lines):
            return size, lines
        if size <= style.min_size:
            break
        size = max(style.min_size, int(size * _SHRINK_STEP))
    max_lines = _max_lines(metrics, height, style)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1] + ELLIPSIS
    while sum(fonts.line_metrics(chain, tuple(lines), size)) > height and size > 1:
        size -= 1  # even one line at min_size is taller than the box
    measure = partial(fonts.line_length, chain, size=size)
    return size, [_ellipsize(measure, line, width) for line in lines]


def render_text(text: str, width: int, height: int, style: TextStyle) -> bytes:
    """A ``width`` x ``height`` RGBA PNG with ``text`` fitted inside it."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if style.background:
        ImageDraw.Draw(image).rounded_rectangle(
            (0, 0, width - 1, height - 1), radius=style.radius, fill=style.background
        )
    pad = min(style.padding, width // 4, height // 4)
    extra_w, extra_h = style.margins
    inner_w, inner_h = max(1, width - 2 * pad - extra_w), max(1, height - 2 * pad - extra_h)
    size, lines = _fit(text, inner_w, inner_h, style)
    chain = fonts.chain_for(style.font)
    metrics = fonts.line_metrics(chain, tuple(lines), size)
    block = _block_height(metrics, len(lines), style)
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
        line_w = fonts.line_length(chain, line, size)
        if style.align == "center":
            x = left + (inner_w - line_w) / 2
        elif style.align == "right":
            x = left + inner_w - line_w
        else:
            x = left
        placed.append((x, y + metrics[0], line))
        y += style.line_step(metrics)
    if style.shadow:
        dx, dy, shadow_color = style.shadow
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        for x, baseline, line in placed:
            fonts.draw_line(
                layer,
                x + dx,
                baseline + dy,
                chain,
                line,
                size,
                shadow_color,
                stroke_width=style.stroke_width,
                stroke_fill=shadow_color,
                tint=True,
            )
        image.alpha_composite(layer)
    for x, baseline, line in placed:
        fonts.draw_line(
            image,
            x,
            baseline,
            chain,
            line,
            size,
            style.color,
            stroke_width=style.stroke_width,
            stroke_fill=style.stroke_color or style.color,
        )
    return _png(image)


def render_shape(
    shape: str,
    width: int,
    height: int,
    *,
    fill: str | None,
    stroke_width: int = 0,
    stroke_color: str | None = None,
    radius: int = 0,
) -> bytes:
    """A ``width`` x ``height`` RGBA PNG: a rectangle, rounded rectangle or centered circle."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    outline = stroke_color if stroke_width else None
    if shape == "circle":
        side = min(width, height)
        x0, y0 = (width - side) // 2, (height - side) // 2
        draw.ellipse((x0, y0, x0 + side - 1, y0 + side - 1), fill=fill, outline=outline, width=stroke_width)
    else:
        r = min(radius, width // 2, height // 2) if shape == "rounded_rectangle" else 0
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=r, fill=fill, outline=outline, width=stroke_width)
    return _png(image)


def render_image(
    source: Path | bytes,
    width: int,
    height: int,
    *,
    fit: str = "contain",
    mask: str = "none",
    radius: int = 0,
    name: str | None = None,
) -> bytes:
    """The picture (a file or its bytes) fitted into a transparent box and masked.

    ``contain`` keeps all of it, centered; ``cover`` fills the box and crops
    the overflow. Pillow's decompression-bomb limit applies before decoding.
    """
    name = name or (source.name if isinstance(source, Path) else "image")
    try:
        with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as opened:
            opened.load()
            picture = ImageOps.exif_transpose(opened).convert("RGBA")
    except Image.DecompressionBombError as exc:
        raise AssetError(f"image {name} is too large to decode safely: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AssetError(f"{name} is not a readable image: {exc}") from None
    if fit == "cover":
        picture = ImageOps.fit(picture, (width, height), Image.Resampling.LANCZOS)
    else:
        picture = ImageOps.contain(picture, (width, height), Image.Resampling.LANCZOS)
    if mask != "none":
        clear = Image.new("L", picture.size, 0)
        picture.putalpha(Image.composite(picture.getchannel("A"), clear, mask_image(mask, picture.size, radius)))
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.alpha_composite(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    return _png(canvas)


_MASK_SUPERSAMPLE = 4


def mask_image(mask: str, size: tuple[int, int], radius: int = 0) -> Image.Image:
    """An anti-aliased L mask: a centered circle (diameter = the short side) or a rounded rectangle."""
    width, height = size
    k = _MASK_SUPERSAMPLE
    big = Image.new("L", (width * k, height * k), 0)
    draw = ImageDraw.Draw(big)
    if mask == "circle":
        side = min(width, height) * k
        x0, y0 = (width * k - side) // 2, (height * k - side) // 2
        draw.ellipse((x0, y0, x0 + side - 1, y0 + side - 1), fill=255)
    else:
        r = min(radius, width // 2, height // 2) * k
        draw.rounded_rectangle((0, 0, width * k - 1, height * k - 1), radius=r, fill=255)
    return big.resize(size, Image.Resampling.BOX)


def stack(*pngs: bytes) -> bytes:
    """Same-sized RGBA PNGs composited bottom to top into one."""
    layers = [Image.open(io.BytesIO(png)).convert("RGBA") for png in pngs]
    out = layers[0]
    for layer in layers[1:]:
        out.alpha_composite(layer)
    return _png(out)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
