"""Windows "until the end": ``end: end`` (or no ``end``), a window a few ms short of the end snaps to it,
and no chapter is shorter than a second."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from pvideo.errors import SceneError
from pvideo.plan.compiler import compile_plan
from pvideo.render import captions
from pvideo.render.chapters import Chapter, chapters_from_ctas, merge_short
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import CARD_SCENE, FPS, SECONDS
from tests.media import frames_rgb

ROW = {"customer_id": "c1", "first_name": "Ana", "price": "3"}


def test_issue_case_has_no_31_ms_chapter():
    chapters = chapters_from_ctas([{"id": "buy", "label": "Buy", "start": 10.0, "end": 31.3}], 31.331)
    assert chapters == [Chapter(0.0, 10.0, "Start"), Chapter(10.0, 31.331, "Buy")]


def test_window_past_the_end_ends_at_the_end():
    chapters = chapters_from_ctas([{"id": "buy", "label": "Buy", "start": 10.0, "end": 1_000_000.0}], 31.331)
    assert chapters[-1] == Chapter(10.0, 31.331, "Buy")


def test_a_window_a_frame_or_more_before_the_end_keeps_its_chapter_when_long_enough():
    chapters = chapters_from_ctas([{"id": "buy", "label": "Buy", "start": 10.0, "end": 20.0}], 31.331)
    assert chapters == [Chapter(0.0, 10.0, "Start"), Chapter(10.0, 20.0, "Buy"), Chapter(20.0, 31.331, "Continue")]


def test_short_chapters_fold_into_their_neighbour():
    hotspots = [
        {"id": "a", "label": "A", "start": 0.4, "end": 5.0},  # a 0.4 s "Start" before it
        {"id": "b", "label": "B", "start": 5.5, "end": 8.0},  # a 0.5 s gap after A
    ]
    assert chapters_from_ctas(hotspots, 20.0) == [
        Chapter(0.0, 5.5, "A"),
        Chapter(5.5, 8.0, "B"),
        Chapter(8.0, 20.0, "Continue"),
    ]
    assert all(c.end - c.start >= 1.0 for c in chapters_from_ctas(hotspots, 20.0))
    assert merge_short([Chapter(0.0, 0.6, "Start")]) == []  # a video shorter than a second: no chapters


@pytest.mark.parametrize("end", ["end", "END", None])
def test_end_may_be_end_or_left_out(end):
    data = copy.deepcopy(CARD_SCENE)
    layer = data["layers"][2]
    if end is None:
        del layer["end"]
    else:
        layer["end"] = end
    spec = parse_scene(data)
    assert spec.layers[2].end is None
    assert spec.to_json()["layers"][2]["end"] is None
    assert parse_scene(spec.to_json()).layers[2].end is None  # travels as JSON unchanged


def test_end_still_must_be_a_time_or_end():
    data = copy.deepcopy(CARD_SCENE)
    data["layers"][2]["end"] = "later"
    with pytest.raises(SceneError) as info:
        parse_scene(data, source="offer.yaml")
    assert "layer 3 (cta 'buy'), field end" in str(info.value)


def _render(data, settings, tmp_path):
    spec = parse_scene(data)
    row = coerce_row(spec, ROW)
    plan = compile_plan(spec, row, assets_dir=settings.assets_dir)
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
    paths = segment_files(version, storage, tmp_path / "cache")
    out = render_plan(plan, version, paths, tmp_path / "out", ffmpeg_exe=settings.ffmpeg_exe)
    hotspots = [h.to_json() for h in plan.hotspots]
    track = captions.outputs_track(spec, row, hotspots, version.duration, plan.output_time)
    return frames_rgb(out.video), [c for c in track if c.identifier.startswith("chapter-")]


@pytest.mark.parametrize("end", ["end", SECONDS - 0.02])  # the end, and 20 ms (under a frame) short of it
def test_rendered_cta_lasts_to_the_last_frame_and_chapters_end_with_the_video(end, settings, tmp_path):
    data = copy.deepcopy(CARD_SCENE)
    data["layers"] = [dict(data["layers"][2], end=end, background="#ff0000", label="Buy")]
    frames, chapters = _render(data, settings, tmp_path)
    assert len(frames) == SECONDS * FPS
    box = data["layers"][0]["box"]
    corner = frames[-1][box["y"] + box["h"] // 2, box["x"] + box["h"] // 2 + 10].astype(int)
    assert np.abs(corner - (255, 0, 0)).sum() < 90, corner  # the button is on the last frame
    assert [(c.start, c.end) for c in chapters] == [(0.0, 2.5), (2.5, float(SECONDS))]
    assert '"title":"Buy"' in chapters[-1].text
