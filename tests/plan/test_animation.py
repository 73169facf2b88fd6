"""Animations (``animate: {in, out}``): decode the rendered video and measure them frame by frame.

Fade is an alpha ramp, slide moves the ink's bounding box by the eased
distance, pop grows the ink area, typewriter grows the ink extent glyph by
glyph. Both engines must draw the same frames, and the moviepy preview (its
own Python math) must agree with them mid-animation.
"""

from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
import pytest

from pvideo.errors import SceneError
from pvideo.plan.animation import Animation, Motion, Timing, ease, even, state
from pvideo.plan.compiler import compile_plan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.render.preview import preview_frame
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, WIDTH, copy_assets
from tests.media import frames_rgb, luma_psnr, psnr

PERSONAL = "first_name != ''"  # makes a constant layer personal, so the engines draw it per customer
SCENE = {
    "name": "animated",
    "video": "templates/tiny.mp4",
    "fields": {"customer_id": {"type": "str"}, "first_name": {"type": "str"}},
    "layers": [
        {
            "type": "shape",
            "id": "fade",
            "fill": "#ff00ff",
            "start": 0.5,
            "end": 2.0,
            "box": {"x": 20, "y": 20, "w": 100, "h": 60},
            "animate": {
                "in": {"effect": "fade", "duration": 0.5, "easing": "linear"},
                "out": {"effect": "fade", "duration": 0.5, "easing": "ease_in"},
            },
        },
        {
            "type": "shape",
            "id": "slide",
            "fill": "#00ff00",
            "start": 1.0,
            "end": 3.0,
            "when": PERSONAL,
            "box": {"x": 300, "y": 40, "w": 100, "h": 60},
            "animate": {
                "in": {"effect": "slide", "edge": "left", "duration": 0.5, "easing": "ease_out"},
                "out": {"effect": "slide", "edge": "right", "duration": 0.5, "easing": "linear"},
            },
        },
        {
            "type": "shape",
            "id": "pop",
            "shape": "circle",
            "fill": "#ffff00",
            "start": 0.8,
            "end": 3.0,
            "when": PERSONAL,
            "box": {"x": 40, "y": 200, "w": 120, "h": 120},
            "animate": {"in": {"effect": "pop", "duration": 0.6, "easing": "ease_in_out"}},
        },
        {
            "type": "text",
            "id": "typed",
            "text": "Hi {{ first_name }}",
            "size": 40,
            "color": "#ffffff",
            "background": "#000000",
            "padding": 8,
            "radius": 0,
            "start": 2.0,
            "end": 3.8,
            "box": {"x": 220, "y": 240, "w": 400, "h": 80},
            "animate": {"in": {"effect": "typewriter", "duration": 1.0, "easing": "linear"}},
        },
    ],
}
ROW = {"customer_id": "c1", "first_name": "Ada Lovelace"}


def _box(layer_id):
    box = next(layer["box"] for layer in SCENE["layers"] if layer["id"] == layer_id)
    return box["x"], box["y"], box["w"], box["h"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, request):
    """The scene rendered by both engines over a 4 s cut of the welcome video, plus the plain template."""
    settings = request.getfixturevalue("settings")
    tmp = tmp_path_factory.mktemp("animated")
    assets = request.getfixturevalue("welcome_assets")
    spec = parse_scene(SCENE)
    plan = compile_plan(spec, coerce_row(spec, ROW), assets_dir=assets)
    storage = LocalStorage(tmp / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
    paths = segment_files(version, storage, tmp / "cache")
    frames = {
        engine: frames_rgb(
            render_plan(plan, version, paths, tmp / engine, ffmpeg_exe=settings.ffmpeg_exe, engine=engine).video
        )
        for engine in ("segments", "full")
    }
    return plan, frames, frames_rgb(plan.template)


@pytest.fixture(scope="module")
def settings(tmp_path_factory, assets_dir, scenes_dir):
    from pvideo.settings import Settings

    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        assets_dir=assets_dir,
        scenes_dir=scenes_dir,
        x264_preset="ultrafast",
        ffmpeg_timeout=120,
    )


@pytest.fixture(scope="module")
def welcome_assets(settings, tmp_path_factory):
    from tests.conftest import make_welcome_assets

    return make_welcome_assets(settings.assets_dir, tmp_path_factory.mktemp("welcome") / "assets", settings.ffmpeg_exe)


def _coverage(frame, template, color, box) -> float:
    """How much of ``color`` is mixed over the template inside ``box`` (0 = none, 1 = all)."""
    x, y, w, h = box
    f = frame[y + 4 : y + h - 4, x + 4 : x + w - 4].astype(np.float64)
    t = template[y + 4 : y + h - 4, x + 4 : x + w - 4].astype(np.float64)
    towards = np.array(color, dtype=np.float64) - t
    return float(((f - t) * towards).sum() / (towards * towards).sum())


def _mask(frame, color, rows=None, tolerance=70):
    pixels = frame if rows is None else frame[rows]
    return np.abs(pixels.astype(np.int16) - np.array(color)).max(axis=2) < tolerance


def test_fade_ramps_alpha_linearly_in_and_eased_out(rendered):
    """The fade layer is the same for everyone, so this also checks the baked (ingest) path."""
    _plan, frames, template = rendered
    seg = frames["segments"]
    box = _box("fade")
    first, stop = 15, 60
    cover = {k: _coverage(seg[k], template[k], (255, 0, 255), box) for k in range(first - 2, stop + 2)}
    assert abs(cover[first - 1]) < 0.03 and abs(cover[stop]) < 0.03  # outside the window: the template
    fade_in = [cover[k] for k in range(first, first + 16)]
    assert all(b > a + 0.03 for a, b in zip(fade_in, fade_in[1:])), fade_in
    for k in range(first, first + 16):  # linear: 1/15 more alpha per frame
        assert cover[k] == pytest.approx(min(1, (k - first) / 15), abs=0.04)
    fade_out = [cover[k] for k in range(stop - 15, stop)]
    assert all(b < a for a, b in zip(fade_out, fade_out[1:])), fade_out
    for k in range(stop - 15, stop):  # ease_in towards the end: u^3 of the frames left
        assert cover[k] == pytest.approx(ease("ease_in", (stop - 1 - k) / 15), abs=0.04)


def test_slide_moves_the_ink_by_the_eased_distance(rendered):
    _, frames, _ = rendered
    seg = frames["segments"]
    x0, y0, w, h = _box("slide")
    rows = slice(y0 + 5, y0 + h - 5)
    first, stop = 30, 90

    def extent(k):
        columns = np.flatnonzero(_mask(seg[k], (0, 255, 0), rows).mean(axis=0) > 0.5)
        return (int(columns.min()), int(columns.max())) if len(columns) else None

    assert extent(first - 1) is None
    for k in range(first + 2, first + 16):  # in from the left edge, ease_out
        x = even(x0 - (x0 + w) * (1 - ease("ease_out", (k - first) / 15)))
        assert extent(k)[1] == pytest.approx(x + w - 1, abs=2), k
    assert extent(first + 20) == pytest.approx((x0, x0 + w - 1), abs=2)
    for k in range(stop - 15, stop - 1):  # out to the right edge, linear
        x = even(x0 + (WIDTH - x0) * (1 - (stop - 1 - k) / 15))
        assert extent(k)[0] == pytest.approx(x, abs=2), k
    moved = [extent(k)[1] for k in range(first + 2, first + 16)]
    assert moved == sorted(moved) and moved[-1] - moved[0] > 100


def test_pop_grows_the_ink_area_to_the_full_circle(rendered):
    _, frames, _ = rendered
    seg = frames["segments"]
    x, y, w, h = _box("pop")
    first, count = 24, 18
    area = [int(_mask(seg[k][y : y + h, x : x + w], (255, 255, 0)).sum()) for k in range(first, first + count + 3)]
    full = np.pi * 60**2
    assert area[0] < 30 and area[-1] == pytest.approx(full, rel=0.05)
    assert all(b >= a for a, b in zip(area, area[1:])), area
    half = area[count // 2]  # u = 0.5 -> scale 0.5 -> a quarter of the area
    assert half == pytest.approx(full / 4, rel=0.15)


def test_typewriter_reveals_glyph_by_glyph(rendered):
    plan, frames, _ = rendered
    seg = frames["segments"]
    x, y, w, h = _box("typed")
    animation = next(o.animation for o in plan.overlays if "typed" in o.layer)
    assert len("HiAdaLovelace") - 2 <= animation.steps <= len("HiAdaLovelace")  # glyphs (kerned pairs may touch)
    first = 60

    def right_edge(k):
        columns = np.flatnonzero(_mask(seg[k][y + 8 : y + h - 8, x : x + w], (255, 255, 255)).any(axis=0))
        return int(columns.max()) if len(columns) else -1

    edges = [right_edge(k) for k in range(first, first + 31)]
    box_dark = _mask(seg[first][y + 4 : y + h - 4, x + 4 : x + w - 4], (0, 0, 0), tolerance=40).mean()
    assert edges[0] == -1 and box_dark > 0.97  # the empty box shows from the first frame
    assert edges == sorted(edges)
    assert len(set(edges)) >= animation.steps - 1  # one step per glyph (frames may skip none here)
    assert edges[-1] == right_edge(first + 40) > 200


def test_segments_engine_matches_full_engine_on_animated_layers(rendered):
    _, frames, _ = rendered
    seg, full = frames["segments"], frames["full"]
    assert len(seg) == len(full) == 4 * FPS
    worst = min(psnr(a, b) for a, b in zip(seg, full))
    assert worst >= 40


@pytest.mark.parametrize("index", [20, 27, 37, 52, 33, 34, 70, 80, 84])
def test_preview_draws_the_same_animation_frames(rendered, index):
    plan, frames, _ = rendered
    reference = np.array(preview_frame(plan, (index + 0.5) / FPS))
    assert luma_psnr(reference, frames["segments"][index]) >= 35


def test_state_matches_the_measured_motion_math():
    timing = Timing(first=30, stop=90, fps=Fraction(30))
    slide = Animation(enter=Motion("slide", 0.5, "linear", "right"), exit=Motion("fade", 0.5, "linear"))
    assert state(slide, timing, 30, (100, 0, 50, 50), (640, 360)).dx == 540
    assert state(slide, timing, 45, (100, 0, 50, 50), (640, 360)).dx == 0
    assert state(slide, timing, 89, (100, 0, 50, 50), (640, 360)).opacity == 0
    assert state(slide, timing, 82, (100, 0, 50, 50), (640, 360)).opacity == pytest.approx(7 / 15)


def test_animation_is_in_the_plan_digest(welcome_assets):
    spec = parse_scene(SCENE)
    changed = copy.deepcopy(SCENE)
    changed["layers"][1]["animate"]["in"]["easing"] = "linear"
    a = compile_plan(spec, coerce_row(spec, ROW), assets_dir=welcome_assets)
    b = compile_plan(parse_scene(changed), coerce_row(spec, ROW), assets_dir=welcome_assets)
    assert a.digest() == compile_plan(spec, coerce_row(spec, ROW), assets_dir=welcome_assets).digest()
    assert a.digest() != b.digest()


@pytest.mark.parametrize(
    "animate, message",
    [
        ({"in": {"effect": "fade", "duration": 1.5}, "out": {"effect": "fade", "duration": 1.0}}, "longer than"),
        ({"in": {"effect": "typewriter"}}, "text layers only"),
        ({"in": {"effect": "fade", "edge": "left"}}, "edge only applies to effect slide"),
        ({"in": {"effect": "spin"}}, "animate.in.effect"),
        ({"in": {"effect": "fade", "easing": "bounce"}}, "animate.in.easing"),
    ],
)
def test_bad_animations_name_layer_and_field(animate, message):
    data = copy.deepcopy(SCENE)
    data["layers"][1]["animate"] = animate  # shape 'slide', a 2 s window
    with pytest.raises(SceneError) as err:
        parse_scene(data, source="animated.yaml")
    assert "animated.yaml: layer 2 (shape 'slide')" in str(err.value) and message in str(err.value)


def test_animate_round_trips_as_plain_data():
    spec = parse_scene(SCENE)
    data = spec.to_json()
    assert data["layers"][1]["animate"]["in"]["edge"] == "left" and "out" in data["layers"][1]["animate"]
    assert parse_scene(data) == spec


def test_video_layer_fades_in_and_slides_out_the_same_in_both_engines(settings, tmp_path):
    from pvideo.render.versions import cache_dir, template_version
    from tests.synthetic import LEVELS, write_clip

    assets = tmp_path / "assets"
    copy_assets(settings.assets_dir, assets)
    write_clip(assets / "clips" / "gray.mp4")
    box = {"x": 200, "y": 60, "w": 320, "h": 240}
    spec = parse_scene(
        {
            "name": "clip",
            "video": "templates/tiny.mp4",
            "fields": {"product": {"type": "str"}},
            "layers": [
                {
                    "type": "video",
                    "src": "clips/{{ product }}.mp4",
                    "start": 0.5,
                    "end": 2.5,
                    "box": box,
                    "animate": {
                        "in": {"effect": "fade", "duration": 0.5, "easing": "linear"},
                        "out": {"effect": "slide", "edge": "bottom", "duration": 0.5},
                    },
                }
            ],
        }
    )
    plan = compile_plan(spec, coerce_row(spec, {"product": "gray"}), assets_dir=assets)
    local = settings.model_copy(update={"assets_dir": assets})
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, local)
    paths = segment_files(version, storage, cache_dir(local))
    frames = {
        e: frames_rgb(render_plan(plan, version, paths, tmp_path / e, ffmpeg_exe=settings.ffmpeg_exe, engine=e).video)
        for e in ("segments", "full")
    }
    template = frames_rgb(assets / "templates" / "tiny.mp4")
    assert min(psnr(a, b) for a, b in zip(frames["segments"], frames["full"])) >= 40
    x, y = box["x"] + 160, box["y"] + 120
    for k in range(15, 31):  # the clip (10 fps, one gray per frame) fades in linearly over 15 frames
        level = LEVELS[(k - 15) // 3]
        f = frames["segments"][k][y - 8 : y + 8, x - 8 : x + 8].astype(float)
        t = template[k][y - 8 : y + 8, x - 8 : x + 8].astype(float)
        alpha = ((f - t) * (level - t)).sum() / ((level - t) ** 2).sum()
        assert alpha == pytest.approx(min(1, (k - 15) / 15), abs=0.06), k
    top = []
    for k in range(60, 75):  # slides down out of the bottom edge (the clip froze on its last gray)
        placed_y = box["y"] + 30  # contain: the 16:9 clip is 320x180, centered in the 320x240 box
        expected = even(placed_y + (360 - placed_y) * (1 - ease("ease_out", (74 - k) / 15)))
        if expected > 340:
            break
        column = frames["segments"][k][:, x + 40].astype(int)
        clip_rows = np.convolve(np.abs(column - LEVELS[-1]).max(axis=1) < 12, np.ones(12), "valid") == 12
        top.append(int(np.flatnonzero(clip_rows)[0]))
        assert top[-1] == pytest.approx(expected, abs=3), k
    assert top == sorted(top) and top[-1] - top[0] > 100


def test_chain_args_clock_only_what_needs_a_clock(tmp_path):
    """Slide is overlay x/y alone; fade carries the picture onto the video's clock (split + blend),
    with frame numbers relative to the part's first frame."""
    import ffmpeg

    from pvideo.render.overlays import PlacedOverlay, overlay_chain

    def args(animation, offset=0):
        placed = PlacedOverlay(tmp_path / "o.png", 100, 50, 40, 100, 120, 60, animation, Fraction(30))
        graph = overlay_chain(ffmpeg.input("in.ts").video, [placed], offset).output("out.ts")
        return " ".join(graph.compile())

    slide = args(Animation(enter=Motion("slide", 0.5, "linear", "top")), offset=30)
    assert "blend" not in slide and "split" not in slide
    assert "gte(n\\,10)*lt(n\\,70)" in slide and "clip(((n-1)-10)/15\\,0\\,1)" in slide
    fade = args(Animation(enter=Motion("fade", 0.5, "linear")), offset=30)
    assert "split" in fade and "blend" in fade and "c3_expr=B*clip(((N-1)-10)/15\\,0\\,1)" in fade
