"""CTA button styles (``pill``, ``rounded``, ``square``, ``outline``) and ``border``: burned into the
video and still a clickable hotspot."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pvideo.errors import SceneError
from pvideo.plan.compiler import compile_plan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.media import frames_rgb

ORANGE, WHITE, GREEN = (228, 87, 46), (255, 255, 255), (0, 255, 0)
W, H = 240, 60


def _scene(**cta) -> dict:
    return {
        "name": "buttons",
        "video": "templates/tiny.mp4",
        "fields": {"customer_id": {"type": "str"}},
        "layers": [
            {
                "type": "cta",
                "id": "buy",
                "label": "Buy",
                "href": "https://shop.example/buy",
                "start": 1.0,
                "end": 3.0,
                "box": {"x": 40, "y": 260, "w": W, "h": H},
                **cta,
            }
        ],
    }


def _button(assets_dir, **cta) -> np.ndarray:
    spec = parse_scene(_scene(**cta))
    plan = compile_plan(spec, coerce_row(spec, {"customer_id": "c"}), assets_dir=assets_dir)
    return np.array(Image.open(io.BytesIO(plan.overlays[0].png)).convert("RGBA"))


@pytest.mark.parametrize("style, corner_cut", [("pill", H // 2), ("rounded", H // 4), ("square", 0)])
def test_filled_styles_differ_in_their_corners(assets_dir, style, corner_cut):
    pixels = _button(assets_dir, style=style)
    assert tuple(pixels[H // 2, 3]) == (*ORANGE, 255) and tuple(pixels[3, W // 2]) == (*ORANGE, 255)
    if corner_cut:
        assert pixels[0, 0, 3] == 0
        assert pixels[H // 2, 0, 3] == 255 and pixels[0, corner_cut + 2, 3] == 255
        assert (pixels[6, 6, 3] == 0) == (style == "pill")  # inside a 15 px corner, outside a 30 px one
    else:
        assert tuple(pixels[0, 0]) == (*ORANGE, 255) and tuple(pixels[H - 1, W - 1]) == (*ORANGE, 255)


def test_outline_is_a_border_around_a_transparent_button(assets_dir):
    pixels = _button(assets_dir, style="outline")
    assert tuple(pixels[H // 2, 1]) == (*WHITE, 255) and tuple(pixels[0, W // 2]) == (*WHITE, 255)
    assert pixels[H // 2, 12, 3] == 0 and pixels[8, W // 2, 3] == 0  # no fill inside the border
    assert (pixels[10 : H - 10, W // 3 : 2 * W // 3, 3] == 255).any()  # the label


def test_border_draws_in_its_color_and_width(assets_dir):
    pixels = _button(assets_dir, style="square", border={"width": 4, "color": "#00ff00"})
    assert all(tuple(pixels[H // 2, i]) == (*GREEN, 255) for i in range(4))
    assert tuple(pixels[H // 2, 5]) == (*ORANGE, 255) and tuple(pixels[1, W // 2]) == (*GREEN, 255)


def test_unknown_style_names_layer_and_field():
    with pytest.raises(SceneError, match=r"buttons.yaml: layer 1 \(cta 'buy'\), field style"):
        parse_scene(_scene(style="blob"), source="buttons.yaml")
    with pytest.raises(SceneError, match="field border.color"):
        parse_scene(_scene(border={"width": 2, "color": "green"}), source="buttons.yaml")


def test_styled_cta_is_burned_in_and_a_hotspot(settings, welcome_assets, tmp_path):
    spec = parse_scene(_scene(style="square", border={"width": 6, "color": "#00ff00"}))
    plan = compile_plan(spec, coerce_row(spec, {"customer_id": "c"}), assets_dir=welcome_assets)
    assert [(h.id, h.href, h.x, h.y, h.w, h.h, h.start, h.end) for h in plan.hotspots] == [
        ("buy", "https://shop.example/buy", 40, 260, W, H, 1.0, 3.0)
    ]
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
    out = render_plan(
        plan,
        version,
        segment_files(version, storage, tmp_path / "cache"),
        tmp_path / "out",
        ffmpeg_exe=settings.ffmpeg_exe,
    )
    frames = frames_rgb(out.video)
    inside, before = frames[60].astype(np.int16), frames[20].astype(np.int16)
    border = inside[262:318, 41:45].reshape(-1, 3).mean(axis=0)
    fill = inside[275:300, 58:80].reshape(-1, 3).mean(axis=0)
    assert np.abs(border - GREEN).max() < 40 and np.abs(fill - ORANGE).max() < 25
    assert np.abs(before[275:300, 58:80].reshape(-1, 3).mean(axis=0) - ORANGE).max() > 60
