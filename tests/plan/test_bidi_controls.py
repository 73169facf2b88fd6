"""Bidi controls (overrides, embeddings, isolates) are laid out as Chromium lays them out
(issue #14, point 6): Chromium gives each character's position, and our rendering of the
string must be pixel for pixel our rendering of those characters in that visual order."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image, ImageChops

from pvideo.plan import fonts, raster
from pvideo.settings import PROJECT_ROOT

LRE, RLE, PDF, LRO, RLO, RLI, PDI = "\u202a\u202b\u202c\u202d\u202e\u2067\u2069"
CONTROLS = {LRE, RLE, PDF, LRO, RLO, RLI, PDI}
STRINGS = [
    f"abc{RLO}def{PDF}ghi",
    f"{RLO}Hello, World",
    f"x {RLO}12 ab{PDF} y",
    f"a{RLO}b{LRO}cd{PDF}e{PDF}f",
    f"{RLE}ab {RLO}cd{PDF} ef{PDF} g",
    f"ab {RLI}cd {RLO}ef{PDF}{PDI} gh",
    f"{RLO}ab {RLI}cd{PDI} ef",
    f"{LRO}\u05e9\u05dc\u05d5\u05dd{PDF} abc",  # Hebrew forced left to right
    f"abc {RLI}\u05e9\u05dc\u05d5\u05dd 12{PDI}!",  # an isolate keeps "!" out of the Hebrew
    f"\u05d3\u05e0\u05d4 {LRE}ab cd{PDF} 7",  # a right-to-left paragraph with an embedding
]
STYLE = raster.TextStyle(
    font=PROJECT_ROOT / "assets" / "fonts" / "Inter-Regular.otf", size=40, min_size=40, color="#ffffff"
)
_POSITIONS = """text => {
  const box = document.getElementById('t');
  box.textContent = text;
  const node = box.firstChild, range = document.createRange(), out = [];
  for (let i = 0; i < text.length; i++) {
    range.setStart(node, i); range.setEnd(node, i + 1);
    out.push(range.getBoundingClientRect().left);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def page(browser) -> Iterator:
    page = browser.new_page()
    page.set_content('<div id="t" dir="auto" style="font: 40px sans-serif; white-space: pre"></div>')
    yield page
    page.close()


def chromium_visual(page, text: str) -> str:
    """``text``'s visible characters in the order Chromium places them, left to right."""
    lefts = page.evaluate(_POSITIONS, text)
    shown = [i for i, ch in enumerate(text) if ch not in CONTROLS]
    return "".join(text[i] for i in sorted(shown, key=lambda i: (lefts[i], i)))


def _alpha(text: str) -> Image.Image:
    return Image.open(io.BytesIO(raster.render_text(text, 900, 80, STYLE))).getchannel("A")


def _difference(a: Image.Image, b: Image.Image) -> int:
    """Largest difference of 4x4 blocks: runs start at fractional x, so a glyph may sit half a pixel
    apart (up to ~70); a character out of place differs by 200 or more."""
    blocks = [im.resize((im.width // 4, im.height // 4), Image.Resampling.BOX) for im in (a, b)]
    return max(ImageChops.difference(*blocks).getdata())


@pytest.mark.parametrize("text", STRINGS)
def test_controls_order_characters_as_chromium_does(page, text):
    visual = chromium_visual(page, text)
    expected = _alpha(f"{LRO}{visual}{PDF}")  # the characters drawn one after the other, left to right
    assert _difference(_alpha(text), expected) < 100, f"{text!r} is not drawn as {visual!r}"
    if RLO in text:  # the check sees the difference an override makes
        assert _difference(_alpha(text.translate(dict.fromkeys(map(ord, CONTROLS)))), expected) > 150


def test_an_override_wraps_the_shaped_run():
    """The run under RLO is handed to raqm inside RLO...PDF, so FriBiDi reverses it as rule X6 says."""
    runs = fonts.layout(fonts.chain_for(STYLE.font), f"ab{RLO}cd{PDF}")
    assert [(r.text, r.shaped) for r in runs if r.text == "cd"] == [("cd", f"{RLO}cd{PDF}")]
