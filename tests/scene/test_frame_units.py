"""Boxes and text sizes in percent of the frame, and anchors: what the spec accepts and refuses.

Where they land in pixels is checked on rendered frames in tests/plan/test_frame_units.py.
"""

from __future__ import annotations

import pytest

from pvideo.errors import SceneError
from pvideo.render.probe import probe
from pvideo.scene.spec import load_scene, parse_scene
from pvideo.settings import PROJECT_ROOT

WELCOMES = {"welcome": (16, 9), "welcome-vertical": (9, 16), "welcome-square": (1, 1)}


def _text(box: dict, **options: object) -> dict:
    layer = {"type": "text", "text": "Hi", "start": 0, "end": 1, "box": box, **options}
    return {"name": "units", "video": "templates/tiny.mp4", "layers": [layer]}


def test_percent_pixels_and_anchor_are_read_as_written():
    spec = parse_scene(_text({"anchor": "bottom-center", "x": "5 %", "y": "40px", "width": "90%", "h": 120}, size="6%"))
    box = spec.layers[0].box
    assert (box.x, box.y, box.w, box.h, box.anchor) == ("5%", 40, "90%", 120, "bottom-center")
    assert spec.layers[0].size == "6%"
    again = parse_scene(spec.to_json())
    assert again == spec


def test_a_box_in_pixels_reads_and_serializes_as_before():
    spec = parse_scene(_text({"x": 80, "y": 260, "w": 760, "h": 110}, size=72))
    box = spec.to_json()["layers"][0]["box"]
    assert {k: box[k] for k in "xywh"} == {"x": 80, "y": 260, "w": 760, "h": 110}
    assert box["anchor"] is None and spec.layers[0].size == 72
    assert spec.layers[0].box.pixels == (80, 260, 760, 110)


@pytest.mark.parametrize(
    "box,options,message",
    [
        ({"x": "5 percent", "y": 0, "w": 10, "h": 10}, {}, "box.x: '5 percent' is not a length"),
        ({"x": 0, "y": 0, "w": "120%", "h": 10}, {}, "box.w: 120% is out of range"),
        ({"x": 0, "y": 0, "w": "0%", "h": 10}, {}, "box.w: 0% is out of range"),
        ({"x": 0, "y": 0, "w": 10, "width": 20, "h": 10}, {}, "give w or width, not both"),
        ({"w": 10, "h": 10, "anchor": "middle"}, {}, "box.anchor"),
        ({"w": 10, "h": 10}, {"size": "1200"}, "size: Input should be less than or equal to 1000"),
        ({"x": -1, "w": 10, "h": 10}, {}, "box.x: Input should be greater than or equal to 0"),
    ],
)
def test_bad_lengths_name_the_layer_and_field(box, options, message):
    with pytest.raises(SceneError) as caught:
        parse_scene(_text(box, **options))
    assert "layer 1 (text)" in str(caught.value) and message in str(caught.value)


def test_the_welcome_scene_comes_in_three_frame_sizes():
    """The vertical and square welcome scenes are welcome.yaml's layers on their own templates."""
    scenes = {name: load_scene(PROJECT_ROOT / "scenes" / f"{name}.yaml") for name in WELCOMES}
    same = {name: {**spec.to_json(), "name": None, "video": None} for name, spec in scenes.items()}
    assert same["welcome-vertical"] == same["welcome"] == same["welcome-square"]
    assert all(layer.box.relative for layer in scenes["welcome"].layers if layer.type != "audio")
    for name, (across, down) in WELCOMES.items():
        info = probe(PROJECT_ROOT / "assets" / scenes[name].video)
        assert info.width * down == info.height * across, name
        assert info.duration == pytest.approx(30.0, abs=0.05)
