"""Rasterizing text and images: box-sized PNGs, shrink-to-fit, ellipsis, safe decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pvideo.errors import AssetError
from pvideo.plan import raster
from pvideo.plan.assets import resolve_font

W, H = 300, 80
BG = (0x10, 0x20, 0x40)


@pytest.fixture()
def bold(assets_dir):
    return resolve_font(assets_dir, "Inter-Bold")


def _style(font, **kw) -> raster.TextStyle:
    base = {"font": font, "size": 48, "min_size": 14, "color": "#ffffff"}
    base.update(kw)
    return raster.TextStyle(**base)


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    return np.array(image)


def _ink_box(pixels: np.ndarray, background: tuple[int, int, int] | None = None):
    """Bounding box (x0, y0, x1, y1) of drawn text pixels, or None."""
    if background is None:
        mask = pixels[..., 3] > 0
    else:  # opaque pixels whose colour differs from the background
        diff = np.abs(pixels[..., :3].astype(int) - np.array(background)).sum(axis=2)
        mask = (pixels[..., 3] == 255) & (diff > 30)
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


# --- render_text ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(300, 80), (17, 9), (640, 360), (1, 1)])
def test_png_is_exactly_box_sized(bold, size):
    pixels = _decode(raster.render_text("Hi Ana!", *size, _style(bold)))
    assert pixels.shape == (size[1], size[0], 4)


@pytest.mark.parametrize("align", ["left", "center", "right"])
@pytest.mark.parametrize(
    "text",
    ["Ana", "x" * 10_000, "Wyjąg ÅÉ gjpqy", "W" * 50, "a\nb\nc\nd\ne\nf"],
    ids=["short", "10k", "accents", "wide", "six-lines"],
)
def test_ink_stays_inside_padded_box(bold, align, text):
    pad = 10
    style = _style(bold, background="#102040", align=align, radius=10, padding=pad)
    pixels = _decode(raster.render_text(text, W, H, style))
    box = _ink_box(pixels, BG)
    assert box is not None, "no text drawn"
    x0, y0, x1, y1 = box
    tol = 1  # antialiasing / side bearings
    assert x0 >= pad - tol and y0 >= pad - tol
    assert x1 <= W - pad - 1 + tol and y1 <= H - pad - 1 + tol


def test_transparent_text_is_not_clipped(bold):
    pixels = _decode(raster.render_text("Ana", W, H, _style(bold, align="center")))
    x0, y0, x1, y1 = _ink_box(pixels)
    assert x0 > 0 and x1 < W - 1 and y0 > 0 and y1 < H - 1
    # centered: left and right margins within a few pixels of each other
    assert abs(x0 - (W - 1 - x1)) <= 4
    # nothing outside the ink is drawn
    assert pixels[..., 3][:, :x0].max() == 0


def test_huge_name_is_ellipsized(bold):
    style = _style(bold)
    font, lines = raster.fit_text("x" * 10_000, W, H, style)
    assert len(lines) == 1
    assert lines[0].endswith(raster.ELLIPSIS)
    assert 1 < len(lines[0]) < 10_000
    assert font.getlength(lines[0]) <= W
    assert font.size == style.min_size
    # and the rendered PNG still has text in it
    assert _ink_box(_decode(raster.render_text("x" * 10_000, W, H, style))) is not None


def test_too_many_lines_are_cut_with_ellipsis(bold):
    font, lines = raster.fit_text("\n".join("abcdefghij"), W, H, _style(bold))
    ascent, descent = font.getmetrics()
    assert len(lines) * (ascent + descent) <= H
    assert len(lines) < 10
    assert lines[-1].endswith(raster.ELLIPSIS)


def test_short_name_keeps_full_size(bold):
    font, lines = raster.fit_text("Ana", W, H, _style(bold))
    assert font.size == 48 and lines == ["Ana"]


def test_longer_name_shrinks_but_not_below_min(bold):
    style = _style(bold)
    short_font, _ = raster.fit_text("Ana", W, H, style)
    long_font, lines = raster.fit_text("Alexandria-Josephine", W, H, style)
    assert style.min_size <= long_font.size < short_font.size
    assert lines == ["Alexandria-Josephine"]  # shrunk, not cut
    assert long_font.getlength(lines[0]) <= W
    # very long text also stays at min_size (and is ellipsized instead)
    tiny, _ = raster.fit_text("Alexandria-Josephine " * 20, W, H, style)
    assert tiny.size == style.min_size


def test_font_goes_below_min_only_when_box_too_short(bold):
    style = _style(bold, min_size=14)
    font, lines = raster.fit_text("Hello", W, 10, style)
    assert font.size < 14
    ascent, descent = font.getmetrics()
    assert ascent + descent <= 10
    assert lines == ["Hello"]


def test_shrunk_text_ink_fits_in_box(bold):
    pixels = _decode(raster.render_text("Alexandria-Josephine Montgomery", W, H, _style(bold)))
    x0, _, x1, _ = _ink_box(pixels)
    assert x1 - x0 > W // 2  # shrinking used most of the width
    assert x1 <= W - 1


@pytest.mark.parametrize(
    "text",
    [
        'He said "hi"',
        "D'Andre",
        "a:b:c",
        "100% off",
        r"back\slash\n",
        "[brackets] {curly}",
        "semi;colon,comma",
        "%{pts}",
        "$(rm -rf /)",
        "Zoë Müller-Ñ",
    ],
)
def test_special_characters_render(bold, text):
    pixels = _decode(raster.render_text(text, W, H, _style(bold)))
    assert _ink_box(pixels) is not None
    assert (pixels[..., 3] > 0).sum() > 50


def test_different_names_give_different_pixels(bold):
    a = _decode(raster.render_text("Hi Ana!", W, H, _style(bold)))
    b = _decode(raster.render_text("Hi Bob!", W, H, _style(bold)))
    assert not np.array_equal(a, b)


def test_rendering_is_deterministic(bold):
    style = _style(bold, background="#102040cc", radius=8, padding=8)
    assert raster.render_text("Same", W, H, style) == raster.render_text("Same", W, H, style)


def test_text_color_is_used(bold):
    pixels = _decode(raster.render_text("HHHH", W, H, _style(bold, color="#ff0000", size=60)))
    solid = pixels[pixels[..., 3] == 255]
    assert len(solid)
    assert (solid[:, 0] == 255).all() and (solid[:, 1] == 0).all() and (solid[:, 2] == 0).all()


# --- render_image --------------------------------------------------------------------------


def test_render_image_fits_and_centers(assets_dir):
    pixels = _decode(raster.render_image(assets_dir / "logo.png", 80, 40))
    assert pixels.shape == (40, 80, 4)
    x0, y0, x1, y1 = _ink_box(pixels)
    # a 120x120 circle fitted into 80x40 becomes 40x40, centered horizontally
    assert (y0, y1) == (0, 39)
    assert abs(x0 - 20) <= 1 and abs(x1 - 59) <= 1


def test_render_image_non_image(assets_dir):
    with pytest.raises(AssetError) as info:
        raster.render_image(assets_dir / "not-an-image.png", 80, 80)
    assert "not-an-image.png" in str(info.value)


def test_render_image_missing_file(tmp_path):
    with pytest.raises(AssetError):
        raster.render_image(tmp_path / "missing.png", 80, 80)


def test_decompression_bomb(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (200, 200), "red").save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(AssetError) as info:
        raster.render_image(path, 80, 80)
    assert "big.png" in str(info.value) and "too large" in str(info.value)


# --- fonts ---------------------------------------------------------------------------------


def test_resolve_font_known(assets_dir):
    path = resolve_font(assets_dir, "Inter-Regular")
    assert path.name == "Inter-Regular.otf" and path.is_file()


def test_unknown_font_lists_available(assets_dir):
    with pytest.raises(AssetError) as info:
        resolve_font(assets_dir, "Comic-Sans")
    msg = str(info.value)
    assert "'Comic-Sans'" in msg
    assert "Inter-Bold" in msg and "Inter-Regular" in msg


@pytest.mark.parametrize("name", ["../Inter-Bold", "/etc/passwd", ".hidden", "a\\b", "fonts/Inter-Bold"])
def test_font_name_must_be_plain(assets_dir, name):
    with pytest.raises(AssetError):
        resolve_font(assets_dir, name)


def test_unloadable_font_is_asset_error(tmp_path):
    bad = tmp_path / "Broken.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(AssetError) as info:
        raster.render_text("x", 50, 20, _style(bad))
    assert "Broken.ttf" in str(info.value)
