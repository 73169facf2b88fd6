"""Pillow-level checks of the text styling and shapes (exact pixels, no codec in between)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pvideo.plan import raster
from pvideo.plan.assets import resolve_font


@pytest.fixture()
def bold(assets_dir):
    return resolve_font(assets_dir, "Inter-Bold")


def _pixels(png: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(png)))


def _rows_with(mask: np.ndarray) -> np.ndarray:
    return np.nonzero(mask.any(axis=1))[0]


def _style(font, **kw):
    return raster.TextStyle(font=font, **{"size": 40, "min_size": 10, "color": "#ffffff", **kw})


def test_stroke_surrounds_the_glyphs_and_shadow_sits_offset(bold):
    plain = _pixels(raster.render_text("HI", 200, 100, _style(bold)))
    styled = _pixels(
        raster.render_text(
            "HI", 200, 100, _style(bold, stroke_width=3, stroke_color="#ff0000", shadow=(6, 6, "#0000ff"))
        )
    )
    red = (styled[..., 0] == 255) & (styled[..., 1] == 0) & (styled[..., 2] == 0) & (styled[..., 3] == 255)
    blue = (styled[..., 2] > 200) & (styled[..., 0] < 50) & (styled[..., 3] > 0)
    white = (styled[..., :3] == 255).all(axis=-1) & (styled[..., 3] == 255)
    assert red.sum() > 200 and blue.sum() > 100 and white.sum() > 200
    assert (plain[..., 3] > 0).sum() < ((styled[..., 3] > 0).sum())
    ys, xs = np.nonzero(blue)
    wy, wx = np.nonzero(white)
    assert ys.mean() > wy.mean() and xs.mean() > wx.mean()


@pytest.mark.parametrize("valign", ["top", "middle", "bottom"])
def test_vertical_alignment(bold, valign):
    pixels = _pixels(raster.render_text("Ana", 200, 200, _style(bold, valign=valign)))
    rows = _rows_with(pixels[..., 3] > 0)
    center = (rows.min() + rows.max()) / 2
    expected = {"top": (0, 70), "middle": (80, 120), "bottom": (130, 200)}[valign]
    assert expected[0] <= center <= expected[1], (valign, rows.min(), rows.max())


def test_line_height_spreads_wrapped_lines(bold):
    def gap(line_height):
        png = raster.render_text(
            "one two three",
            150,
            300,
            _style(bold, size=30, min_size=30, wrap=True, line_height=line_height, valign="top"),
        )
        rows = _rows_with(_pixels(png)[..., 3] > 0)
        return rows.max() - rows.min()

    assert gap(2.0) - gap(1.0) > 30


def test_wrap_off_keeps_one_line_and_shrinks(bold):
    font, lines = raster.fit_text("one two three four", 150, 200, _style(bold, wrap=False))
    assert lines == ["one two three four"] and font.size < 40
    font, lines = raster.fit_text("one two three four", 150, 200, _style(bold, wrap=True))
    assert len(lines) > 1 and font.size == 40


@pytest.mark.parametrize("shape", ["rectangle", "rounded_rectangle", "circle"])
def test_shapes_fill_and_stroke(shape):
    pixels = _pixels(
        raster.render_shape(shape, 120, 80, fill="#00ff00", stroke_width=4, stroke_color="#0000ff", radius=20)
    )
    assert pixels.shape == (80, 120, 4)
    assert tuple(pixels[40, 60]) == (0, 255, 0, 255)  # centre: fill
    corner = tuple(pixels[0, 0])
    if shape == "rectangle":
        assert corner == (0, 0, 255, 255)  # the stroke runs along the edge
    else:
        assert corner[3] == 0  # rounded corners and the circle leave the corner clear
    if shape == "circle":
        assert pixels[40, :19, 3].max() == 0 and pixels[40, 101:, 3].max() == 0  # diameter 80, centered
        assert tuple(pixels[40, 21]) == (0, 0, 255, 255)


def test_shape_without_fill_is_an_outline(bold):
    pixels = _pixels(raster.render_shape("rectangle", 50, 50, fill=None, stroke_width=2, stroke_color="#ffffff"))
    assert pixels[25, 25, 3] == 0 and pixels[0, 25, 3] == 255
