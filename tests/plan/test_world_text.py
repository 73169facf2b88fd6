"""World-ready text: every script a customer's name may be written in, drawn right.

Reference images (tests/reference/*.png) catch visual regressions; they change only
with ``pytest tests/plan/test_world_text.py --regenerate-references``. The property
checks below cannot pass by accident: every character has a real glyph, Arabic
joins, right-to-left text starts at the right, emoji keep their colors.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, features

from pvideo.errors import AssetError
from pvideo.plan import fonts, raster
from pvideo.plan.assets import resolve_font
from pvideo.plan.compiler import compile_plan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.scene.customers import coerce_row
from pvideo.storage import LocalStorage
from tests.conftest import FPS
from tests.media import frames_rgb

REFERENCES = Path(__file__).parents[1] / "reference"
NAMES = {
    "arabic": "مرحبا سارة",
    "hebrew": "שלום דנה",
    "chinese": "王小明",
    "japanese": "さくら",
    "korean": "김민지",
    "devanagari": "प्रिया",
    "vietnamese": "Nguyễn Thị Hương",
    "emoji": "Ana 🎉👍🏽",
    "mixed": "Hi سارة & דנה 42!",
}
W, H = 320, 64
BG = (0x1F, 0x2A, 0x44)


def test_pillow_can_shape_complex_text():
    assert features.check_feature("raqm"), (
        "Pillow has no working libraqm: Arabic, Hebrew and Devanagari cannot be shaped. "
        "Install Pillow from its wheel and FriBiDi (Debian: apt-get install libfribidi0)."
    )


@pytest.fixture()
def bold(assets_dir):
    return resolve_font(assets_dir, "Inter-Bold")


def _style(font, **kw) -> raster.TextStyle:
    return raster.TextStyle(**{"font": font, "size": 40, "min_size": 12, "color": "#ffffff", **kw})


def _pixels(png: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def _ink(pixels: np.ndarray) -> np.ndarray:
    """Where glyphs are: alpha on a transparent canvas, else away from the background color."""
    if (pixels[..., 3] < 255).any():
        return pixels[..., 3] > 0
    return np.abs(pixels[..., :3] - np.array(BG)).sum(axis=-1) > 60


# --- reference images ------------------------------------------------------------------------


@pytest.mark.parametrize("script", NAMES)
def test_matches_reference_image(bold, script, request):
    png = raster.render_text(
        NAMES[script], W, H, _style(bold, background="#1f2a44", padding=6, radius=8, align="center")
    )
    path = REFERENCES / f"{script}.png"
    if request.config.getoption("--regenerate-references"):
        REFERENCES.mkdir(exist_ok=True)
        Image.open(io.BytesIO(png)).convert("RGB").save(path, optimize=True)
    assert path.is_file(), f"{path} is missing: run pytest tests/plan/test_world_text.py --regenerate-references"
    got = _pixels(png)[..., :3]
    reference = np.array(Image.open(path).convert("RGB")).astype(int)
    assert got.shape == reference.shape
    ink = _ink(np.dstack([got, np.full(got.shape[:2], 255)])) | _ink(
        np.dstack([reference, np.full(got.shape[:2], 255)])
    )
    assert ink.sum() > 300, "the reference shows no text"
    diff = np.abs(got - reference).sum(axis=-1)[ink].mean() / 3
    assert diff < 12, f"{script}: mean difference {diff:.1f} over the glyphs"


# --- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("script", NAMES)
def test_every_character_has_a_real_glyph(bold, script):
    """No tofu: each character is drawn by a font whose cmap (read here with fontTools) has it."""
    chain = fonts.chain_for(bold)
    cmaps = {path: TTFont(path, lazy=True).getBestCmap() for path in chain}
    runs = fonts.layout(chain, NAMES[script])
    assert "".join(sorted("".join(r.text for r in runs))) == "".join(sorted(NAMES[script]))
    for run in runs:
        for ch in run.text:
            if ch not in "\u200d\ufe0f":
                assert ord(ch) in cmaps[run.font], (script, ch, run.font.name)
    assert fonts.uncovered(chain, NAMES[script]) == set()


def test_uncovered_characters_are_reported(bold):
    chain = fonts.chain_for(bold)
    assert fonts.uncovered(chain, "Ana \u0378") == {"\u0378"}  # unassigned: no font has it


def test_arabic_letters_join(bold):
    """The shaped word is narrower than its letters kept apart by zero-width non-joiners, and looks different."""
    chain = fonts.chain_for(bold)
    word = "سارة"
    apart = "\u200c".join(word)
    assert fonts.line_length(chain, word, 40) < 0.95 * fonts.line_length(chain, apart, 40)
    style = _style(bold, size=40, min_size=40)
    joined, isolated = (_pixels(raster.render_text(t, W, H, style)) for t in (word, apart))
    assert (_ink(joined) != _ink(isolated)).sum() > 150


def _ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def test_right_to_left_starts_at_the_right(bold):
    """The first letter written (shin) is the rightmost glyph of the line, the last (he) the leftmost."""
    style = _style(bold, size=40, min_size=40, valign="top")
    line = _ink(_pixels(raster.render_text("שלום דנה", W, H, style)))
    x0, _, x1, _ = _ink_box(line)
    for letter, side in (("ש", "right"), ("ה", "left")):
        alone = _ink(_pixels(raster.render_text(letter, W, H, style)))
        a0, _, a1, _ = _ink_box(alone)
        glyph = alone[:, a0:a1]
        right, left = line[:, x1 - glyph.shape[1] : x1], line[:, x0 : x0 + glyph.shape[1]]
        mismatch = {"right": (right != glyph).sum(), "left": (left != glyph).sum()}
        other = "left" if side == "right" else "right"
        assert mismatch[side] * 3 < mismatch[other], (letter, mismatch)


def test_mixed_directions_are_ordered_by_the_bidi_algorithm(bold):
    chain = fonts.chain_for(bold)
    visual = [r.text for r in fonts.layout(chain, "Hi سارة & דנה 42!")]
    # a left-to-right line: the Arabic and Hebrew words (with "&" between them) read right to left
    assert visual[0] == "Hi " and visual[-1].endswith("!")
    assert "".join(visual).index("דנה") < "".join(visual).index("سارة")
    rtl = [(r.text, r.rtl) for r in fonts.layout(chain, "דנה Ana")]
    assert rtl[0] == ("Ana", False) and rtl[-1][0].startswith("דנה") and rtl[-1][1]


def test_emoji_keep_their_colors(bold):
    style = _style(bold, size=40, min_size=40)
    pixels = _pixels(raster.render_text("Ana 🎉👍🏽", W, H, style))
    seen = pixels[..., 3] > 200
    saturation = pixels[..., :3].max(axis=-1) - pixels[..., :3].min(axis=-1)
    assert (seen & (saturation > 80)).sum() > 300
    plain = _pixels(raster.render_text("Ana", W, H, style))
    assert ((plain[..., 3] > 200) & (plain[..., :3].max(axis=-1) - plain[..., :3].min(axis=-1) > 80)).sum() == 0
    # the emoji sit on the text's line: their ink overlaps the rows of "Ana"
    ana_rows = np.nonzero((plain[..., 3] > 0).any(axis=1))[0]
    emoji_rows = np.nonzero((seen & (saturation > 80)).any(axis=1))[0]
    assert emoji_rows.min() < ana_rows.max() and emoji_rows.max() > ana_rows.min()


def test_emoji_shadow_is_a_silhouette(bold):
    pixels = _pixels(raster.render_text("🎉", W, H, _style(bold, shadow=(6, 6, "#0000ff"))))
    blue = (pixels[..., 2] > 200) & (pixels[..., 0] < 40) & (pixels[..., 1] < 40) & (pixels[..., 3] > 200)
    assert blue.sum() > 100


# --- wrapping, shrinking, ellipsis -------------------------------------------------------------


def test_cjk_wraps_between_characters(bold):
    text = "王小明さくら김민지王小明さくら"
    measure = lambda line: fonts.line_length(fonts.chain_for(bold), line, 40)  # noqa: E731
    lines = raster.wrap_lines(measure, text, 150)
    assert len(lines) >= 3 and "".join(lines) == text
    assert all(measure(line) <= 150 for line in lines)


def test_cjk_punctuation_never_starts_a_line(bold):
    text = "こんにちは、さくらさん。「王小明」です。"
    measure = lambda line: fonts.line_length(fonts.chain_for(bold), line, 40)  # noqa: E731
    for width in range(80, 400, 20):
        lines = raster.wrap_lines(measure, text, width)
        assert "".join(lines) == text
        assert not any(line[0] in "、。」" for line in lines), (width, lines)
        assert not any(line.endswith("「") for line in lines), (width, lines)


@pytest.mark.parametrize("text", ["مرحبا سارة مرحبا سارة مرحبا سارة", "שלום דנה שלום דנה שלום דנה"])
def test_right_to_left_text_wraps_at_spaces(bold, text):
    style = _style(bold, size=40, min_size=40, wrap=True)
    font, lines = raster.fit_text(text, 220, 200, style)
    assert len(lines) >= 2 and " ".join(lines) == text
    chain = fonts.chain_for(bold)
    assert all(fonts.line_length(chain, line, font.size) <= 220 for line in lines)
    pixels = _pixels(raster.render_text(text, 220, 200, _style(bold, size=40, min_size=40, wrap=True, align="right")))
    rows = np.nonzero(_ink(pixels).any(axis=1))[0]
    assert rows.max() - rows.min() > 60  # more than one line of ink


@pytest.mark.parametrize(
    "name",
    ["王" * 10_000, "سارة " * 2_000, "प्रिया" * 1_700, "🎉👍🏽" * 2_000],
    ids=["cjk", "arabic", "devanagari", "emoji"],
)
def test_ten_kilobyte_names_are_ellipsized(bold, name):
    style = _style(bold, size=48, min_size=14, wrap=True)
    font, lines = raster.fit_text(name, 300, 80, style)
    chain = fonts.chain_for(bold)
    assert lines[-1].endswith(raster.ELLIPSIS) and font.size == 14
    assert all(fonts.line_length(chain, line, font.size) <= 300 for line in lines)
    assert raster._block_height(fonts.line_metrics(chain, tuple(lines), font.size), len(lines), style) <= 80
    pixels = _pixels(raster.render_text(name, 300, 80, style))
    assert pixels.shape == (80, 300, 4) and _ink(pixels).sum() > 100


def test_ellipsis_never_splits_a_cluster(bold):
    chain = fonts.chain_for(bold)
    _, lines = raster.fit_text("👍🏽" * 50, 200, 40, _style(bold, size=30, min_size=30))
    kept = lines[0].removesuffix(raster.ELLIPSIS)
    assert kept and kept == "👍🏽" * (len(kept) // 2)
    assert fonts.line_length(chain, lines[0], 30) <= 200


def test_tall_scripts_stay_inside_the_box(bold):
    """Fallback fonts taller than the layer font grow the line, so marks above and below are not cut."""
    for text in ("प्रिया", "مرحبا سارة", "Nguyễn Thị Hương"):
        pixels = _pixels(raster.render_text(text, W, H, _style(bold, size=80, min_size=8)))
        ink = _ink(pixels)
        assert ink.sum() > 100
        assert not ink[0].any() and not ink[-1].any(), text


# --- exactly as written ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'He said "hi"',
        "a:b:c",
        "100% off",
        r"back\slash\n",
        "[x] {y} (z) <w>",
        "%{pts}",
        "it's 'q'",
        r"\\server\share:80%",
    ],
)
def test_special_characters_are_drawn_exactly_as_written(bold, text):
    """Our drawing equals Pillow drawing the raw string: nothing escaped, dropped or reinterpreted."""
    style = _style(bold, size=30, min_size=30, valign="top")
    got = _pixels(raster.render_text(text, 400, 50, style))
    font = raster._font(bold, 30)
    expected = Image.new("RGBA", (400, 50), (0, 0, 0, 0))
    ImageDraw.Draw(expected).text((0, 0), text, font=font, fill="#ffffff", anchor="la")
    assert np.array_equal(got, np.array(expected).astype(int))


@pytest.mark.parametrize("text", ['سارة: "100%" \\ [x] {y}', "דנה: 50% \\n (ok)", '王小明: "100%" \\ [x]'])
def test_special_characters_in_other_scripts_are_all_drawn(bold, text):
    """Every character, quotes and backslashes included, lands in exactly one run: none dropped or added."""
    chain = fonts.chain_for(bold)
    runs = fonts.layout(chain, text)
    assert sorted("".join(r.text for r in runs)) == sorted(text)
    assert fonts.uncovered(chain, text) == set()
    _, lines = raster.fit_text(text, 600, 100, _style(bold, size=24, min_size=24))
    assert lines == [text]


def test_newline_starts_a_new_line(bold):
    style = _style(bold, size=24, min_size=24, valign="top")
    _font, lines = raster.fit_text('Zoë "Q": 50%\n\\ [ok]', 400, 100, style)
    assert lines == ['Zoë "Q": 50%', "\\ [ok]"]
    rows = _ink(_pixels(raster.render_text('Zoë "Q": 50%\n\\ [ok]', 400, 100, style))).any(axis=1)
    bands = np.diff(rows.astype(int))
    assert (bands == 1).sum() == 2  # two separate bands of ink


# --- errors ----------------------------------------------------------------------------------------


def test_unknown_font_suggests_the_close_name(assets_dir):
    with pytest.raises(AssetError) as info:
        resolve_font(assets_dir, "inter-bold")
    assert "'inter-bold'" in str(info.value) and "did you mean 'Inter-Bold'" in str(info.value)


def test_missing_raqm_is_a_clear_error(bold, monkeypatch):
    monkeypatch.setattr(fonts.features, "check_feature", lambda name: False)
    with pytest.raises(AssetError, match="libfribidi0"):
        fonts.layout(fonts.chain_for(bold), "שלום " + "ד" * 7)  # a string no earlier test laid out
    assert fonts.layout(fonts.chain_for(bold), "Plain Latin 7") != ()  # Latin needs no shaping


# --- through the engine ------------------------------------------------------------------------------


def test_arabic_name_reaches_the_video(card_spec, settings, tmp_path):
    name = "سارة"
    row = coerce_row(card_spec, {"customer_id": "c1", "first_name": name, "price": 9})
    plan = compile_plan(card_spec, row, assets_dir=settings.assets_dir)
    hello = next(o for o in plan.overlays if "hello" in o.layer)
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
    out = render_plan(
        plan,
        version,
        segment_files(version, storage, tmp_path / "cache"),
        tmp_path / "out",
        ffmpeg_exe=settings.ffmpeg_exe,
    )
    frame = frames_rgb(out.video)[int(1.5 * FPS)].astype(int)
    overlay = _pixels(hello.png)
    glyphs = (overlay[..., 3] == 255) & (overlay[..., :3].min(axis=-1) > 230)
    box = (overlay[..., 3] == 255) & (np.abs(overlay[..., :3] - [0x10, 0x20, 0x40]).sum(axis=-1) < 10)
    assert glyphs.sum() > 200
    area = frame[hello.y : hello.y + hello.h, hello.x : hello.x + hello.w]
    inner = np.zeros_like(glyphs)
    inner[4:-4, 4:-4] = True  # away from the rounded corners
    assert area[glyphs & inner].mean() > 200  # the white Arabic letters are in the frame
    assert area[box & inner].mean() < 80  # on the dark box, where the overlay has no letters
