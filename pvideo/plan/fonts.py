"""Which bundled font draws each character, and lines shaped and drawn run by run.

A layer names one font (Inter covers Latin, Greek, Cyrillic and Vietnamese).
Characters it lacks fall back, in order, to the Noto fonts bundled next to it:
Arabic, Hebrew, Devanagari, CJK, color emoji, then Noto Sans (the Latin, Greek and
Cyrillic extensions), Noto Sans Math (mathematical letters, operators) and Noto Sans
Symbols 2 (technical symbols, shapes, dingbats, Braille). A line is cut into runs of one
font and one bidi level (the Unicode bidi algorithm, from FriBiDi); each run
is shaped by HarfBuzz through Pillow's raqm layout, and the runs are placed in
visual order. So Arabic joins, Hebrew and Arabic read right to left even inside
Latin text, and widths are measured with exactly the runs that are drawn.
Bidi controls (embeddings, overrides, isolates) are applied as the algorithm says;
a run under a directional override is shaped wrapped in that override, so HarfBuzz
lays its characters in the forced order, as browsers do.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError  # type: ignore[import-untyped]  # fontTools ships no type information
from PIL import Image, ImageChops, ImageDraw, ImageFont, features

from pvideo.errors import AssetError
from pvideo.plan.levels import embedding_levels

FALLBACKS = (
    "NotoSansArabic",
    "NotoSansHebrew",
    "NotoSansDevanagari",
    "NotoSansCJK",
    "NotoColorEmoji",
    "NotoSans",  # after the others: it only adds what they lack, so no character changes font
    "NotoSansMath",
    "NotoSansSymbols2",
)
EMOJI_STRIKE = 109  # the one bitmap size Noto Color Emoji has; drawn there, then scaled
_SUFFIXES = (".ttf", ".otf")
_RTL_CLASSES = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI", "FSI"})
_NEUTRAL = frozenset("ZPSN")  # separators, punctuation, symbols, digits: keep the current run's font
_VS16 = "\ufe0f"
_LRO, _RLO, _PDF, _PDI = "\u202d", "\u202e", "\u202c", "\u2069"
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")  # LRE, RLE, LRO, RLO: closed by PDF
_ISOLATES = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI: closed by PDI
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INK_SAMPLE = 256


@dataclass(frozen=True)
class Run:
    """Characters drawn with one font in one direction, in logical order."""

    text: str
    font: Path
    rtl: bool
    override: str = ""  # LRO or RLO when the run is under a directional override

    @property
    def direction(self) -> str | None:
        if self.rtl:
            return "rtl"
        return "ltr" if self.override == _LRO else None  # None: raqm finds it, and basic layout accepts it

    @property
    def shaped(self) -> str:
        """The text handed to raqm: wrapped in its override, which FriBiDi then applies."""
        return f"{self.override}{self.text}{_PDF}" if self.override else self.text


class Chain(tuple):
    """Font paths, the layer's first. Hashed by identity: ``chain_for`` hands out one per font,
    so the caches below key on it without hashing every path on every lookup."""

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other


@lru_cache(maxsize=64)
def chain_for(font: Path) -> Chain:
    """The layer's font, then the bundled fallbacks found next to it, in its weight."""
    font = Path(font)
    weights = ("-Bold", "-Regular", "") if font.stem.endswith("-Bold") else ("-Regular", "")
    chain = [font]
    for family in FALLBACKS:
        found = [font.parent / f"{family}{w}{s}" for w in weights for s in _SUFFIXES]
        chain += [p for p in found if p.is_file() and p != font][:1]
    return Chain(chain)


@lru_cache(maxsize=64)
def _cmap(path: Path) -> tuple[frozenset[int], bool]:
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            return frozenset(font.getBestCmap() or ()), "CBDT" in font
    except (OSError, TTLibError, AssertionError) as exc:
        raise AssetError(f"font {path.name} cannot be loaded: {exc}") from None


def coverage(path: Path) -> frozenset[int]:
    """The code points ``path`` has glyphs for."""
    return _cmap(path)[0]


def is_bitmap(path: Path) -> bool:
    """Color bitmap fonts (CBDT) draw at one size only and are scaled afterwards."""
    return _cmap(path)[1]


def face(path: Path, size: int) -> tuple[ImageFont.FreeTypeFont, float]:
    """Pillow's font for ``path`` at ``size`` px, and the scale its drawing needs (1 but for emoji)."""
    if is_bitmap(path):
        return _truetype(path, EMOJI_STRIKE), size / EMOJI_STRIKE
    return _truetype(path, size), 1.0


@lru_cache(maxsize=256)
def _truetype(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise AssetError(f"font {path.name} cannot be loaded: {exc}") from None


def continues(ch: str) -> bool:
    """Marks, joiners, variation selectors, skin tones and tags belong to the character before."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or cp in (0x200C, 0x200D)
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
    )


def _fonts(chain: Chain, line: str) -> list[Path]:
    """The font of each character: the first in the chain that has it (emoji first before U+FE0F)."""
    color = tuple(p for p in chain if is_bitmap(p))
    picks: list[Path] = []
    for i, ch in enumerate(line):
        cp = ord(ch)
        if ch in _BIDI_CONTROLS:  # they draw nothing: they must not start a run in the font that lists them
            picks.append(picks[-1] if picks else chain[0])
            continue
        if picks and (
            continues(ch)
            or (unicodedata.category(ch)[0] in _NEUTRAL and picks[-1] not in color and cp in coverage(picks[-1]))
        ):
            picks.append(picks[-1])
            continue
        order = color + chain if line[i + 1 : i + 2] == _VS16 else chain
        picks.append(next((p for p in order if cp in coverage(p)), chain[0]))
    return picks


def _levels(line: str) -> list[int] | None:
    """Resolved bidi embedding levels (FriBiDi), or None when the whole line is left to right."""
    if not any(unicodedata.bidirectional(c) in _RTL_CLASSES for c in set(line)):
        return None
    return embedding_levels(line)


def _overrides(line: str) -> list[str]:
    """The directional override (LRO, RLO or "") in force at each character: the stack of rules X1-X8."""
    stack: list[str] = []
    found: list[str] = []
    for ch in line:
        if ch == _PDF and stack and stack[-1] in _EMBEDDINGS:
            stack.pop()
        elif ch == _PDI and any(c in _ISOLATES for c in stack):
            while stack.pop() not in _ISOLATES:
                pass
        found.append(stack[-1] if stack and stack[-1] in (_LRO, _RLO) else "")
        if ch in _EMBEDDINGS or ch in _ISOLATES:
            stack.append(ch)
    return found


def _visual(runs: list[tuple[str, Path, int, str]]) -> list[tuple[str, Path, int, str]]:
    """Rule L2: reverse every sequence of runs at or above each level, highest level first."""
    if not runs:
        return runs
    top = max(run[2] for run in runs)
    lowest_odd = min((run[2] for run in runs if run[2] % 2), default=top + 1)
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        while i < len(runs):
            if runs[i][2] >= level:
                j = i
                while j < len(runs) and runs[j][2] >= level:
                    j += 1
                runs[i:j] = runs[i:j][::-1]
                i = j
            else:
                i += 1
    return runs


@lru_cache(maxsize=4096)
def layout(chain: Chain, line: str) -> tuple[Run, ...]:
    """``line`` as runs in visual (left to right) order."""
    if not line:
        return ()
    primary = coverage(chain[0])
    levels = _levels(line)
    if levels is None and all(ord(c) in primary for c in set(line)):
        return (Run(line, chain[0], False),)  # the common case: one font, left to right
    fonts = _fonts(chain, line)
    levels = levels or [0] * len(line)
    forced = _overrides(line)
    runs, start = [], 0
    for i in range(1, len(line) + 1):
        if i == len(line) or (fonts[i], levels[i], forced[i]) != (fonts[start], levels[start], forced[start]):
            runs.append((line[start:i], fonts[start], levels[start], forced[start]))
            start = i
    _require_shaping()
    return tuple(Run(text, font, level % 2 == 1, override) for text, font, level, override in _visual(runs))


def uncovered(chain: Chain, text: str) -> set[str]:
    """Characters no font of the chain has (drawn as boxes); joiners and selectors need none."""
    return {
        c
        for c in set(text) - {"\n"}
        if not continues(c) and unicodedata.category(c) != "Cf" and not any(ord(c) in coverage(p) for p in chain)
    }


def missing_glyphs(font: Path, text: str) -> str | None:
    """What a layer in ``font`` cannot draw in ``text`` (boxes), as ``U+1D54F 𝕏, ...``; None when all is drawn."""
    chars = sorted(uncovered(chain_for(Path(font)), text), key=text.index)
    if not chars:
        return None
    shown = ", ".join(f"U+{ord(c):04X} {c}" if c.isprintable() else f"U+{ord(c):04X}" for c in chars[:8])
    return f"{shown}{f' and {len(chars) - 8} more' if len(chars) > 8 else ''}"


def _require_shaping() -> None:
    """Joining, reordering and fallback fonts need raqm; Pillow's wheels load FriBiDi from the system."""
    if not features.check_feature("raqm"):
        raise AssetError(
            "this text needs complex shaping, but Pillow's raqm layout is unavailable: it needs "
            "Pillow's wheel and the FriBiDi library (Debian: apt-get install libfribidi0)"
        )


def line_length(chain: Chain, line: str, size: int) -> float:
    """Advance width of ``line`` in pixels, summed over its runs."""
    total = 0.0
    for run in layout(chain, line):
        font, scale = face(run.font, size)
        total += font.getlength(run.shaped, direction=run.direction) * scale
    return total


def line_metrics(chain: Chain, lines: tuple[str, ...], size: int) -> tuple[int, int]:
    """(ascent, descent) of the layer font, grown to the ink of any fallback run in ``lines``."""
    ascent, descent = face(chain[0], size)[0].getmetrics()
    for line in lines:
        for run in layout(chain, line):
            if run.font != chain[0] and run.text.strip():
                font, scale = face(run.font, size)
                sample = run.shaped[:_INK_SAMPLE]  # inking 10,000 glyphs takes a second; no box shows that many
                _, top, _, bottom = font.getbbox(sample, anchor="ls", direction=run.direction)
                ascent, descent = max(ascent, round(-top * scale)), max(descent, round(bottom * scale))
    return ascent, descent


def draw_line(
    image: Image.Image,
    x: float,
    baseline: float,
    chain: Chain,
    line: str,
    size: int,
    fill: str,
    *,
    stroke_width: int = 0,
    stroke_fill: str | None = None,
    tint: bool = False,
) -> None:
    """Draw ``line`` with its left end at ``x`` and its baseline at ``baseline``.

    Color emoji keep their colors unless ``tint`` (a shadow): then they are ``fill`` silhouettes.
    """
    draw = ImageDraw.Draw(image)
    for run in layout(chain, line):
        font, scale = face(run.font, size)
        if scale == 1.0:
            draw.text(
                (x, baseline),
                run.shaped,
                font=font,
                fill=fill,
                anchor="ls",
                direction=run.direction,
                stroke_width=stroke_width,
                stroke_fill=stroke_fill,
            )
        else:
            _draw_scaled(image, x, baseline, run, font, scale, fill if tint else None)
        x += font.getlength(run.shaped, direction=run.direction) * scale


def _draw_scaled(
    image: Image.Image,
    x: float,
    baseline: float,
    run: Run,
    font: ImageFont.FreeTypeFont,
    scale: float,
    tint: str | None,
) -> None:
    # FreeType boxes are whole pixels (Pillow's stubs say float, for other font kinds)
    left, top, right, bottom = (int(v) for v in font.getbbox(run.shaped, anchor="ls", direction=run.direction))
    if right <= left or bottom <= top:
        return
    glyphs = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(glyphs).text(
        (-left, -top), run.shaped, font=font, anchor="ls", direction=run.direction, embedded_color=True
    )
    glyphs = glyphs.resize(
        (max(1, round(glyphs.width * scale)), max(1, round(glyphs.height * scale))), Image.Resampling.LANCZOS
    )
    if tint is not None:
        silhouette = Image.new("RGBA", glyphs.size, tint)
        silhouette.putalpha(ImageChops.multiply(silhouette.getchannel("A"), glyphs.getchannel("A")))
        glyphs = silhouette
    dx, dy = round(x + left * scale), round(baseline + top * scale)
    sx, sy = max(0, -dx), max(0, -dy)
    if sx < glyphs.width and sy < glyphs.height and dx < image.width and dy < image.height:
        image.alpha_composite(glyphs, (max(0, dx), max(0, dy)), (sx, sy))
