"""Issue #4 layer features through the real engine: shapes, text styling, wrapping, ``when``.

Each test compiles a scene on the tiny template, renders it with the segment
engine (static layers baked in at ingest, as in production) and decodes frames.
"""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
from PIL import Image

from pvideo.plan import raster
from pvideo.plan.compiler import compile_plan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS
from tests.media import frames_rgb
from tests.scenes import FEATURES_SCENE, RED


def _render(spec, row, settings, tmp_path, name="out"):
    plan = compile_plan(spec, coerce_row(spec, row), assets_dir=settings.assets_dir)
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
    paths = segment_files(version, storage, tmp_path / "cache")
    out = render_plan(plan, version, paths, tmp_path / name, ffmpeg_exe=settings.ffmpeg_exe)
    return plan, version, frames_rgb(out.video)


def _crop(frame, box, inset=0):
    x, y, w, h = box["x"], box["y"], box["w"], box["h"]
    return frame[y + inset : y + h - inset, x + inset : x + w - inset].astype(int)


def _near(pixels, rgb, tol=60):
    return np.abs(pixels - np.array(rgb)).sum(axis=-1) < tol


def _layer(spec_dict, ident):
    return next(layer for layer in spec_dict["layers"] if layer.get("id") == ident)


@pytest.fixture(scope="module")
def spec():
    return parse_scene(FEATURES_SCENE, source="features.yaml")


@pytest.fixture()
def basic(spec, settings, tmp_path):
    return _render(spec, {"customer_id": "c1", "first_name": "Ana", "plan": "Basic"}, settings, tmp_path)


def test_static_and_personal_overlays(basic):
    plan, _, _ = basic
    kinds = {o.layer: o.static for o in plan.overlays}
    assert kinds == {
        "layer 1 (shape 'bar')": True,
        "layer 2 (shape 'dot')": True,
        "layer 3 (text 'styled')": True,
        "layer 4 (text 'wrapped')": False,
    }


def test_rectangle_fills_its_box_only_in_its_window(basic):
    _, _, frames = basic
    box = _layer(FEATURES_SCENE, "bar")["box"]
    for index in (FPS, FPS + FPS // 2, 2 * FPS - 1):  # 1.0 s .. last frame before 2.0 s
        assert _near(_crop(frames[index], box, inset=4), (255, 0, 0)).mean() > 0.98, index
    template = frames_rgb(basic[0].template)
    for index in (FPS - 1, 2 * FPS, 3 * FPS):  # outside its window: the plain video, within codec noise
        assert np.abs(_crop(frames[index], box) - _crop(template[index], box)).mean() < 8, index


def test_circle_has_fill_stroke_and_transparent_corners(basic):
    _, _, frames = basic
    box = _layer(FEATURES_SCENE, "dot")["box"]
    area = _crop(frames[FPS // 2], box)
    center = area[30:50, 30:50]
    assert _near(center, (0, 255, 0)).mean() > 0.95
    ring = area[40, 0:5]  # left edge of the circle: the blue outline
    assert _near(ring, (0, 0, 255), tol=120).any()
    template = frames_rgb(basic[0].template)[FPS // 2]
    corner = np.abs(area[0:8, 0:8] - _crop(template, box)[0:8, 0:8]).mean()
    assert corner < 8, corner  # outside the circle the video shows through


def test_stroke_and_shadow_are_drawn_outside_the_glyphs(basic):
    _, _, frames = basic
    area = _crop(frames[2 * FPS], _layer(FEATURES_SCENE, "styled")["box"], inset=2)
    white = _near(area, (255, 255, 255), tol=90).sum()
    red = _near(area, (255, 0, 0), tol=150).sum()
    blue = _near(area, (0, 0, 255), tol=150).sum()
    assert white > 300 and red > 300 and blue > 300, (white, red, blue)
    # the shadow sits down-right of the glyphs: more blue in the lower right than the upper left
    ys, xs = np.nonzero(_near(area, (0, 0, 255), tol=150))
    ys_w, xs_w = np.nonzero(_near(area, (255, 255, 255), tol=90))
    assert ys.mean() > ys_w.mean() and xs.mean() > xs_w.mean()


def test_long_text_wraps_onto_a_second_line(basic, spec, settings):
    _plan, _, frames = basic
    box = _layer(FEATURES_SCENE, "wrapped")["box"]
    area = _crop(frames[2 * FPS], box)
    ink = area.sum(axis=-1) > 3 * 150  # white glyphs on the black box
    rows = ink.any(axis=1)
    half = box["h"] // 2
    assert rows[:half].any() and rows[half:].any(), "ink only on one line"
    _font, lines = raster.fit_text(
        "Dear Ana, one two three four five six",
        box["w"],
        box["h"],
        raster.TextStyle(
            font=settings.assets_dir / "fonts" / "Inter-Bold.otf", size=32, min_size=32, color="#fff", wrap=True
        ),
    )
    assert len(lines) >= 2 and " ".join(lines) == "Dear Ana, one two three four five six"


def test_false_when_leaves_the_box_untouched(basic, spec, settings, tmp_path):
    _, _, frames = basic
    box = _layer(FEATURES_SCENE, "pro_badge")["box"]
    _plan, _, pro_frames = _render(
        spec, {"customer_id": "c2", "first_name": "Bo", "plan": "Pro"}, settings, tmp_path, name="pro"
    )
    assert "layer 5 (shape 'pro_badge')" not in {o.layer for o in basic[0].overlays}
    template = frames_rgb(settings.assets_dir / "templates" / "tiny.mp4")
    for index in (0, FPS * 2, FPS * 4 - 1):
        assert _near(_crop(pro_frames[index], box, inset=14), (255, 0, 255)).mean() > 0.98
        # the Basic customer's frame there is the plain template (as decoded) within codec noise
        diff = np.abs(_crop(frames[index], box) - _crop(template[index], box)).mean()
        assert diff < 8, (index, diff)


def test_when_on_row_data_is_personal_never_baked(spec, settings):
    pro = compile_plan(
        spec, coerce_row(spec, {"customer_id": "c", "first_name": "A", "plan": "Pro"}), assets_dir=settings.assets_dir
    )
    badge = next(o for o in pro.overlays if "pro_badge" in o.layer)
    assert badge.static is False and badge in pro.personal_overlays
    basic = compile_plan(
        spec, coerce_row(spec, {"customer_id": "d", "first_name": "A", "plan": "Basic"}), assets_dir=settings.assets_dir
    )
    # both customers share one template version: the same static overlays
    assert [o.png for o in pro.static_overlays] == [o.png for o in basic.static_overlays]


def test_when_without_row_data_stays_static(settings):
    data = copy.deepcopy(FEATURES_SCENE)
    _layer(data, "bar")["when"] = "1 < 2"
    _layer(data, "dot")["when"] = "false"
    spec = parse_scene(data)
    plan = compile_plan(spec, coerce_row(spec, {"customer_id": "c", "first_name": "A"}), assets_dir=settings.assets_dir)
    layers = {o.layer: o.static for o in plan.overlays}
    assert layers["layer 1 (shape 'bar')"] is True
    assert "layer 2 (shape 'dot')" not in layers


def test_when_can_use_filters_and_defaults(settings):
    data = copy.deepcopy(FEATURES_SCENE)
    _layer(data, "pro_badge")["when"] = "plan | lower == 'basic' and first_name | length > 2"
    spec = parse_scene(data)
    show = compile_plan(
        spec, coerce_row(spec, {"customer_id": "c", "first_name": "Ana"}), assets_dir=settings.assets_dir
    )
    hide = compile_plan(
        spec, coerce_row(spec, {"customer_id": "c", "first_name": "Al"}), assets_dir=settings.assets_dir
    )
    assert any("pro_badge" in o.layer for o in show.overlays)
    assert not any("pro_badge" in o.layer for o in hide.overlays)


@pytest.mark.parametrize(
    "text",
    [
        'He said "hi": 100% off \\ [now] {x}',
        "D'Andre: 50%\\n [ok]",
        "Zoë\nsecond line: 'q' \\ %",
    ],
)
def test_special_text_is_laid_out_exactly_as_written(settings, text):
    style = raster.TextStyle(
        font=settings.assets_dir / "fonts" / "Inter-Regular.otf", size=20, min_size=10, color="#ffffff", wrap=True
    )
    _, lines = raster.fit_text(text, 600, 200, style)
    assert "\n".join(lines) == text


def test_special_text_through_the_template_renders(settings):
    data = {
        "name": "t",
        "video": "templates/tiny.mp4",
        "fields": {"first_name": {"type": "str"}},
        "layers": [
            {
                "type": "text",
                "text": "{{ first_name }}",
                "start": 0,
                "end": 1,
                "box": {"x": 0, "y": 0, "w": 300, "h": 100},
            }
        ],
    }
    spec = parse_scene(data)
    for name in ['"Q": 100% \\ [x] {{ y }}', "{% raw %}", "x" * 10_000, "ab " * 3400]:
        plan = compile_plan(spec, coerce_row(spec, {"first_name": name}), assets_dir=settings.assets_dir)
        pixels = np.array(Image.open(io.BytesIO(plan.overlays[0].png)))
        assert pixels.shape == (100, 300, 4) and (pixels[..., 3] > 0).sum() > 50


def test_ten_kilobyte_names_are_ellipsized_after_wrapping(settings):
    style = raster.TextStyle(
        font=settings.assets_dir / "fonts" / "Inter-Bold.otf", size=48, min_size=14, color="#ffffff", wrap=True
    )
    for name in ["x" * 10_000, "Ana " * 2_500]:
        font, lines = raster.fit_text(name, 300, 80, style)
        assert lines[-1].endswith(raster.ELLIPSIS)
        assert all(font.getlength(line) <= 300 for line in lines)
        assert font.size == 14
    _, lines = raster.fit_text("Ana " * 2_500, 300, 80, style)
    assert len(lines) >= 2  # wrapped first, then cut


def test_weight_picks_the_bundled_font(settings):
    data = copy.deepcopy(FEATURES_SCENE)
    regular = copy.deepcopy(_layer(data, "styled"))
    regular.update(id="regular", weight="regular")
    bold = copy.deepcopy(_layer(data, "styled"))
    bold.update(id="bold", weight="bold", font="Inter")
    data["layers"] = [regular, bold]
    spec = parse_scene(data)
    assert [layer.font_name for layer in spec.layers] == ["Inter-Regular", "Inter-Bold"]
    plan = compile_plan(spec, coerce_row(spec, {"customer_id": "c", "first_name": "A"}), assets_dir=settings.assets_dir)
    assert plan.overlays[0].png != plan.overlays[1].png


def test_false_when_on_a_cta_drops_its_hotspot_too(settings):
    data = copy.deepcopy(FEATURES_SCENE)
    data["layers"].append(
        {
            "type": "cta",
            "id": "upgrade",
            "label": "Upgrade",
            "when": "plan != 'Pro'",
            "href": "https://shop.example/up?c={{ customer_id | urlencode }}",
            "start": 1,
            "end": 3,
            "box": {"x": 20, "y": 280, "w": 200, "h": 60},
        }
    )
    spec = parse_scene(data)
    row = {"customer_id": "c", "first_name": "A"}
    basic = compile_plan(spec, coerce_row(spec, {**row, "plan": "Basic"}), assets_dir=settings.assets_dir)
    pro = compile_plan(spec, coerce_row(spec, {**row, "plan": "Pro"}), assets_dir=settings.assets_dir)
    assert [h.id for h in basic.hotspots] == ["upgrade"] and pro.hotspots == ()
    assert not next(o for o in basic.overlays if "upgrade" in o.layer).static


def test_spec_with_new_options_is_plain_data(spec):
    import json

    data = json.loads(json.dumps(spec.to_json()))
    assert parse_scene(data) == spec
    assert data["layers"][2]["stroke"] == {"width": 4, "color": RED}
    assert data["layers"][4]["when"] == "plan == 'Pro'"
