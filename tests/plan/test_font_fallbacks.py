"""Mathematical letters, symbols and the Cyrillic/Greek extensions are drawn by the bundled
Noto fallbacks, not as .notdef boxes (issue #14, point 6)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from pvideo.plan import fonts, raster
from pvideo.settings import PROJECT_ROOT

FONTS = PROJECT_ROOT / "assets" / "fonts"
SAMPLES = {
    "math bold": "\U0001d400\U0001d401\U0001d402",  # 𝐀𝐁𝐂, Mathematical Alphanumeric Symbols
    "math fraktur": "\U0001d504\U0001d505",  # 𝔄𝔅
    "double-struck": "\U0001d54f\U0001d7d9",  # 𝕏𝟙
    "Cyrillic Extended-B": "\ua640\ua641\ua642",  # ꙀꙁꙂ
    "Cyrillic Supplement": "\u0500\u0501",
    "Greek Extended": "\u1f00\u1f08\u1fe6",
    "symbols": "\u2318\u2b50\u25c6\u28ff",  # ⌘ ⭐ ◆ ⣿
    "operators": "\u2200\u2203\u2a00",
}


@pytest.mark.parametrize("weight", ["Inter-Regular.otf", "Inter-Bold.otf"])
@pytest.mark.parametrize("name", SAMPLES)
def test_a_bundled_font_covers_it(name, weight):
    chain = fonts.chain_for(FONTS / weight)
    assert fonts.uncovered(chain, SAMPLES[name]) == set()
    assert fonts.missing_glyphs(FONTS / weight, f"Ana {SAMPLES[name]}") is None


def _glyph(text: str, font: Path | None = None) -> Image.Image:
    style = raster.TextStyle(font=font or FONTS / "Inter-Bold.otf", size=48, min_size=48, color="#ffffff")
    return Image.open(io.BytesIO(raster.render_text(text, 120, 80, style))).getchannel("A")


def _notdef() -> Image.Image:
    """What a character no font has looks like: U+0378 is unassigned, so every font draws its .notdef box."""
    return _glyph("\u0378")


@pytest.mark.parametrize("char", ["\U0001d400", "\U0001d54f", "\ua640", "\ua64c", "\u1f08", "\u2318"])
def test_the_glyph_is_not_a_box(char):
    drawn = _glyph(char)
    assert drawn.getbbox() is not None, "something is drawn"
    assert ImageChops.difference(drawn, _notdef()).getbbox() is not None, f"U+{ord(char):04X} is drawn as a box"


@pytest.mark.parametrize(
    ("text", "font"),
    [
        ("\U0001d400", "NotoSansMath-Regular.ttf"),
        ("\ua640", "NotoSans-Bold.ttf"),
        ("\u28ff", "NotoSansSymbols2-Regular.ttf"),
        ("\u4e2d", "NotoSansCJK-Bold.otf"),  # scripts covered before keep their font
    ],
)
def test_each_character_goes_to_the_font_that_has_it(text, font):
    (run,) = fonts.layout(fonts.chain_for(FONTS / "Inter-Bold.otf"), text)
    assert run.font.name == font


def test_unassigned_characters_are_still_reported():
    assert fonts.missing_glyphs(FONTS / "Inter-Bold.otf", "Ana \u0378 \U000e0001x") == "U+0378"
