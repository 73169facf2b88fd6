"""Boxes in percent of the frame, anchored, and text sizes in percent of its height.

One scene is rendered on 16:9, 9:16 and 1:1 templates; the decoded frames show each
box where its percent and anchor say (within 2 px: the chroma of yuv420p is half
size), and the text inside its box. Scenes in pixels compile to exactly the
overlays they did before units existed (fingerprints taken with the code before).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from pvideo.plan.compiler import compile_plan
from pvideo.plan.model import RenderPlan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import segment_files
from pvideo.render.versions import cache_dir, template_version
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import load_scene, parse_scene
from pvideo.settings import PROJECT_ROOT
from pvideo.storage import LocalStorage
from tests.conftest import copy_assets

FRAMES = {"16:9": (192, 108), "9:16": (108, 192), "1:1": (144, 144)}
TOLERANCE = 2

RED = {"type": "shape", "fill": "#ff0000", "box": {"anchor": "bottom-center", "y": "10%", "w": "50%", "h": "20%"}}
GREEN = {"type": "shape", "fill": "#00ff00", "box": {"anchor": "top-right", "x": "5%", "y": "5%", "width": "25%"}}
BLUE = {"type": "shape", "fill": "#0000ff", "box": {"anchor": "center-left", "w": "10%", "h": "30%"}}
WORD = {
    "type": "text",
    "text": "Hi {{ first_name }}",
    "size": "30%",
    "color": "#ffffff",
    "box": {"x": "12%", "y": "5%", "w": "55%", "h": "25%"},
}


def _scene(video: str) -> dict:
    green = {**GREEN, "box": {**GREEN["box"], "height": "25%"}}
    layers = [{**layer, "start": 0, "end": 1} for layer in (RED, green, BLUE, WORD)]
    return {"name": "units", "video": video, "fields": {"first_name": {"type": "str"}}, "layers": layers}


def _solid_template(ffmpeg_exe: str, path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"color=c=black:size={width}x{height}:rate=30:duration=1"
    args = [ffmpeg_exe, "-v", "error", "-y", "-f", "lavfi", "-i", source, "-f", "lavfi", "-i"]
    args += ["anullsrc=r=48000:cl=stereo", "-t", "1", "-c:a", "aac", "-c:v", "libx264", "-preset", "ultrafast"]
    subprocess.run([*args, "-pix_fmt", "yuv420p", "-g", "30", str(path)], check=True)
    return path


def _expected(width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    """Each box as (x0, y0, x1, y1) in pixels, worked out by hand from the layers above."""

    def pct(p: float, whole: int) -> int:
        return int(p * whole / 100 + 0.5)

    red_w, red_h = pct(50, width), pct(20, height)
    red_y = height - red_h - pct(10, height)
    green_w, green_h = pct(25, width), pct(25, height)
    green_x = width - green_w - pct(5, width)
    blue_w, blue_h = pct(10, width), pct(30, height)
    blue_y = (height - blue_h) // 2
    return {
        "red": ((width - red_w) // 2, red_y, (width - red_w) // 2 + red_w, red_y + red_h),
        "green": (green_x, pct(5, height), green_x + green_w, pct(5, height) + green_h),
        "blue": (0, blue_y, blue_w, blue_y + blue_h),
        "text": (pct(12, width), pct(5, height), pct(12, width) + pct(55, width), pct(5, height) + pct(25, height)),
    }


def _first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    assert len(xs), "the color is not in the frame"
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("aspect", FRAMES)
def test_percent_boxes_land_where_they_say_on_every_aspect(settings, tmp_path, aspect):
    width, height = FRAMES[aspect]
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    _solid_template(settings.ffmpeg_exe, assets / "templates" / "frame.mp4", width, height)
    spec = parse_scene(_scene("templates/frame.mp4"))
    plan = compile_plan(spec, coerce_row(spec, {"first_name": "Ann"}), assets_dir=assets)
    storage = LocalStorage(tmp_path / "store")
    settings = settings.model_copy(update={"assets_dir": assets})
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    video = render_plan(plan, version, paths, tmp_path / "out", ffmpeg_exe=settings.ffmpeg_exe).video
    assert video is not None
    frame = _first_frame(video)
    assert frame.shape[:2] == (height, width)
    r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
    expected = _expected(width, height)
    seen = {
        "red": _bounds((r > 160) & (g < 90) & (b < 90)),
        "green": _bounds((g > 160) & (r < 90) & (b < 90)),
        "blue": _bounds((b > 160) & (r < 90) & (g < 90)),
    }
    for name, box in seen.items():
        assert max(abs(a - e) for a, e in zip(box, expected[name], strict=True)) <= TOLERANCE, (name, box)
    x0, y0, x1, y1 = _bounds((r > 160) & (g > 160) & (b > 160))  # the white text
    tx0, ty0, tx1, ty1 = expected["text"]
    assert min(x0, y0) >= 0 and x1 <= width and y1 <= height
    assert tx0 - 1 <= x0 and ty0 - 1 <= y0 and x1 <= tx1 + 1 and y1 <= ty1 + 1


def test_text_size_and_cta_hotspot_follow_the_frame(settings, tmp_path):
    """``size: N%`` is of the frame's height; a CTA's clickable box is the placed box."""
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    plans: dict[str, RenderPlan] = {}
    cta = {
        "type": "cta",
        "id": "go",
        "label": "Go",
        "href": "https://example.com/",
        "start": 0,
        "end": 1,
        "size": "5%",
        "box": {"anchor": "bottom-right", "x": "4%", "y": "4%", "w": "40%", "h": "10%"},
    }
    letter = {"type": "text", "text": "H", "start": 0, "end": 1, "size": "20%", "box": {"w": "90%", "h": "40%"}}
    for aspect, (width, height) in FRAMES.items():
        _solid_template(settings.ffmpeg_exe, assets / "templates" / f"{width}x{height}.mp4", width, height)
        data = {"name": "cta", "video": f"templates/{width}x{height}.mp4", "layers": [cta, letter]}
        plans[aspect] = compile_plan(parse_scene(data), {}, assets_dir=assets)
    for aspect, (width, height) in FRAMES.items():
        button, text = plans[aspect].overlays
        with Image.open(io.BytesIO(text.png)) as picture:
            _, top, _, bottom = picture.getchannel("A").getbbox()
        assert 0.6 * 0.2 * height <= bottom - top <= 0.85 * 0.2 * height  # the cap height of a 20% font
        (spot,) = plans[aspect].hotspots
        w, h = int(0.4 * width + 0.5), int(0.1 * height + 0.5)
        assert (spot.w, spot.h) == (w, h)
        assert (spot.x, spot.y) == (width - w - int(0.04 * width + 0.5), height - h - int(0.04 * height + 0.5))
        assert (button.x, button.y, button.w, button.h) == (spot.x, spot.y, spot.w, spot.h)


def test_a_box_too_big_for_a_narrow_frame_is_kept_inside_it(settings, tmp_path):
    """A box whose margin and size add up past the frame is moved (and shrunk) into it."""
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    _solid_template(settings.ffmpeg_exe, assets / "templates" / "tall.mp4", 108, 192)
    box = {"anchor": "bottom-right", "x": "30%", "y": 250, "w": "90%", "h": 300}
    data = {
        "name": "big",
        "video": "templates/tall.mp4",
        "layers": [{"type": "shape", "start": 0, "end": 1, "box": box}],
    }
    (overlay,) = compile_plan(parse_scene(data), {}, assets_dir=assets).overlays
    assert (overlay.x, overlay.y, overlay.w, overlay.h) == (0, 0, 97, 192)


# Fingerprints of the bundled pixel scenes' plans, taken with the code before percent units
# (every overlay's box, window and PNG bytes, every hotspot).
BEFORE = {
    "bill": "d84e4935fcf38841",
    "renewal": "f8d045961aae6a8d",
    "offer": "ece075b9f0c7a884",
    "welcome": "f86e070e14ebcb23",
}
ROWS = {
    "bill": {
        "customer_id": "B-2002",
        "first_name": "D'Andre",
        "amount": "1234.50",
        "previous": "980.00",
        "due": "2026-12-20",
        "kwh": "5120",
        "late_fees": "1",
    },
    "renewal": {
        "customer_id": "R-3001",
        "first_name": "Maya",
        "plan": "Plus",
        "price": "19.99",
        "days_left": "12",
        "renews": "2026-12-04",
        "discount": "20",
    },
    "offer": {"customer_id": "C-1", "first_name": "Zoë", "plan": "Premium", "price": "29.5"},
    "welcome": {"customer_id": "C-1", "first_name": "Zoë", "plan": "Premium", "price": "29.5"},
}
# welcome.yaml as it was, in 1280x720 pixels
WELCOME_PIXELS = {
    "logo": ({"x": 1080, "y": 40, "w": 160, "h": 160}, None),
    "greeting": ({"x": 80, "y": 260, "w": 760, "h": 110}, 72),
    "plan_line": ({"x": 80, "y": 390, "w": 760, "h": 70}, 44),
    "get_started": ({"x": 80, "y": 560, "w": 360, "h": 80}, 30),
}


def _fingerprint(plan: RenderPlan) -> str:
    h = hashlib.sha256()
    for o in plan.overlays:
        h.update(json.dumps([o.x, o.y, o.w, o.h, o.start, o.end, o.static]).encode())
        h.update(hashlib.sha256(o.png).digest())
    for s in plan.hotspots:
        h.update(json.dumps([s.id, s.label, s.href, s.x, s.y, s.w, s.h, s.start, s.end]).encode())
    return h.hexdigest()[:16]


def _pixel_scene(name: str) -> dict:
    data = load_scene(PROJECT_ROOT / "scenes" / f"{name}.yaml").to_json()
    if name == "welcome":
        for layer in data["layers"]:
            box, size = WELCOME_PIXELS[layer["id"]]
            layer["box"] = box
            if size is not None:
                layer["size"] = size
    return data


@pytest.mark.parametrize("name", BEFORE)
def test_scenes_in_pixels_compile_as_before(tmp_path, name):
    """Same overlays, byte for byte; and the template is not even read (a broken file will do)."""
    assets = copy_assets(PROJECT_ROOT / "assets", tmp_path / "assets")
    spec = parse_scene(_pixel_scene(name))
    plan = compile_plan(spec, coerce_row(spec, ROWS[name]), assets_dir=assets)
    assert _fingerprint(plan) == BEFORE[name]
    broken = assets / spec.video
    broken.unlink()  # a hard link to the bundled template: never write through it
    broken.write_bytes(b"not a video")
    assert _fingerprint(compile_plan(spec, coerce_row(spec, ROWS[name]), assets_dir=assets)) == BEFORE[name]
