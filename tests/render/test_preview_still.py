"""``pvideo.render.still``: the live preview's frame is the engine's own, for what the bundled scenes
do not show (animations drawn per frame, video clips, skipped sections), and from its frame cache."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from pvideo.errors import DataError
from pvideo.jobs.samplevideo import render_sample
from pvideo.plan.compiler import compile_plan
from pvideo.render.ingest import IngestOptions, Segment, TemplateVersion
from pvideo.render.parts import planned_parts, skipped_segments
from pvideo.render.still import pick_frame, still_frame
from pvideo.render.versions import base_version, cache_dir
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, copy_assets
from tests.media import frames_rgb, luma_psnr
from tests.plan.test_animation import ROW as ANIMATED_ROW
from tests.plan.test_animation import SCENE as ANIMATED
from tests.synthetic import write_clip

SECONDS_KEPT = 3.0  # the clip scene's 4 s template less its skipped second
CLIP_SCENE = {
    "name": "clip",
    "video": "templates/tiny.mp4",
    "fields": {"product": {"type": "str"}},
    "sections": [{"name": "middle", "start": 1, "end": 2, "when": "false"}],
    "layers": [
        {
            "type": "video",
            "src": "clips/{{ product }}.mp4",
            "start": 0.5,
            "end": 3.5,
            "loop": True,
            "box": {"x": 200, "y": 60, "w": 320, "h": 240},
        }
    ],
}


def _version(frames: list[int]) -> TemplateVersion:
    segments, first = [], 0
    for index, count in enumerate(frames):
        segments.append(Segment(index, f"templates/v/seg_{index:05d}.ts", first, count, 1))
        first += count
    return TemplateVersion("v", "t.mp4", 64, 64, Fraction(30), first, 30, IngestOptions(), tuple(segments))


def test_customer_seconds_map_to_template_frames_past_skipped_segments():
    version = _version([30, 30, 12, 18])
    assert pick_frame(version, frozenset(), 0.5).frame == 15
    assert pick_frame(version, frozenset({1}), 0.999).frame == 29
    assert pick_frame(version, frozenset({1}), 1.0).frame == 60  # the kept segment after the gap
    pick = pick_frame(version, frozenset({1}), 1.5)
    assert (pick.frame, pick.segment.index) == (75, 3)
    with pytest.raises(DataError, match=r"outside the video \(0 to 2 s\)"):
        pick_frame(version, frozenset({1}), 2.0)


def _compare(spec, row, settings, storage, tmp_path, indices):
    """The still at each template-output frame index against the decoded render: the same pixels
    where the frame is a shared segment, the encoder's loss only where a part re-encoded it."""
    render_sample(spec, row, number=1, out=tmp_path / "sample.mp4", settings=settings, storage=storage)
    frames = frames_rgb(tmp_path / "sample.mp4")
    plan = compile_plan(spec, coerce_row(spec, row, row=1), assets_dir=settings.assets_dir, storage=storage)
    version = base_version(plan, storage, settings)
    parts = {first + k for first, count in planned_parts(plan, version) for k in range(count)}
    skip = skipped_segments(plan, version)
    for index in indices:
        at = (index + 0.5) / FPS
        still = np.asarray(still_frame(plan, at, storage, settings))
        if pick_frame(version, skip, at).segment.index in parts:
            assert luma_psnr(still, frames[index]) >= 38, index
        else:
            assert np.array_equal(still, frames[index]), index
    return plan


def test_animated_layers_are_drawn_by_the_engine_on_their_frame(settings, tmp_path):
    """Fade (baked at ingest), slide and pop (personal, per-frame expressions), typewriter (a clock
    carried by ``blend``): each frame's offset is the still's frame number."""
    storage = LocalStorage(tmp_path / "store")
    spec = parse_scene(ANIMATED)
    _compare(spec, ANIMATED_ROW, settings, storage, tmp_path, [5, 20, 27, 33, 34, 37, 52, 70, 80, 84, 110])


def test_clips_and_skipped_sections_and_the_frame_cache(settings, tmp_path):
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    write_clip(assets / "clips" / "gray.mp4")
    settings = settings.model_copy(update={"assets_dir": assets})
    storage = LocalStorage(tmp_path / "store")
    spec = parse_scene(CLIP_SCENE)
    plan = _compare(spec, {"product": "gray"}, settings, storage, tmp_path, [5, 18, 29, 30, 45, 66, 89])
    cached = np.asarray(still_frame(plan, 1.5, storage, settings))  # its base frame now from the cache
    frames = cache_dir(settings) / "frames"
    assert list(frames.glob("*/*.yuv"))
    for path in frames.glob("*/*"):
        path.unlink()
    assert np.array_equal(np.asarray(still_frame(plan, 1.5, storage, settings)), cached)
    with pytest.raises(DataError, match="outside the video"):
        still_frame(plan, SECONDS_KEPT, storage, settings)


def test_before_its_version_exists_a_still_is_drawn_on_the_draft_and_matches_the_render(settings, tmp_path):
    """In the editor a changed static layer or window makes a new version: the still does not wait
    for its ingest but draws the static layers itself on the template cut at its sections only."""
    storage = LocalStorage(tmp_path / "store")
    spec = parse_scene(ANIMATED)
    plan = compile_plan(spec, coerce_row(spec, ANIMATED_ROW, row=1), assets_dir=settings.assets_dir, storage=storage)
    assert plan.static_overlays and plan.keyframes  # a draft differs: nothing baked in, no window cuts
    indices = [5, 33, 52, 84]
    drafts = {i: np.asarray(still_frame(plan, (i + 0.5) / FPS, storage, settings)) for i in indices}
    assert len(list((tmp_path / "store" / "templates").glob("*/manifest.json"))) == 1  # the draft only
    render_sample(spec, ANIMATED_ROW, number=1, out=tmp_path / "sample.mp4", settings=settings, storage=storage)
    frames = frames_rgb(tmp_path / "sample.mp4")
    for index, draft in drafts.items():
        assert luma_psnr(draft, frames[index]) >= 38, index
