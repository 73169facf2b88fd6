"""The studio's preview is the production engine's own output: on every bundled scene, the
frame ``still_frame`` draws at a time equals the frame decoded from the final render of the
same row at that time (PSNR ≥ 38 dB on luma: only the encoder's loss between them).

The times are the middles of the scene's personal layers' windows (where a preview that
approximated the engine would differ), then evenly spaced times up to five. Each scene is
rendered once, with x264's fastest preset at a lower CRF (the still reads the mezzanine the
render reads, whatever the preset; the lower CRF keeps the encoder's loss from deciding).
"""

from __future__ import annotations

import math
from fractions import Fraction

import av
import numpy as np
import pytest

from pvideo.jobs.samplevideo import render_sample
from pvideo.plan.compiler import compile_plan
from pvideo.render.parts import planned_parts, skipped_segments
from pvideo.render.still import pick_frame, still_frame
from pvideo.render.versions import base_version
from pvideo.scene.customers import coerce_row
from pvideo.scene.samples import sample_row
from pvideo.scene.spec import load_scene
from pvideo.settings import PROJECT_ROOT, Settings
from pvideo.storage import LocalStorage
from tests.media import luma_psnr

BUNDLED = sorted((PROJECT_ROOT / "scenes").glob("*.yaml"))
TIMES = 5


def _times(plan, duration: float) -> list[float]:
    kept = plan.kept(duration)
    whole = len(kept) == 1 and kept[0][0] == 0
    middles = [(o.start + min(o.end, duration)) / 2 for o in plan.personal_overlays] if whole else []
    times = sorted({round(t, 3) for t in middles if 0 < t < duration})[:3]
    step = duration / TIMES
    for k in range(TIMES):
        if len(times) == TIMES:
            break
        candidate = round((k + 0.5) * step, 3)
        if all(abs(candidate - t) > 0.2 for t in times):
            times.append(candidate)
    return sorted(times)


def _frames_at(path, indices: set[int]) -> dict[int, np.ndarray]:
    found = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                found[index] = frame.to_ndarray(format="rgb24")
            if len(found) == len(indices):
                break
    return found


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """Settings and storage shared by the scenes (renders and stills on the same template versions)."""
    root = tmp_path_factory.mktemp("preview-equals-render")
    settings = Settings(data_dir=root / "data", secret_key="s" * 40, x264_preset="ultrafast", x264_crf=18)
    return settings, LocalStorage(root / "store")


@pytest.mark.parametrize("scene_file", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_the_preview_frame_is_the_rendered_frame(scene_file, engine, tmp_path):
    settings, storage = engine
    spec = load_scene(scene_file)
    row = sample_row(spec)
    info = render_sample(spec, row, number=1, out=tmp_path / "sample.mp4", settings=settings, storage=storage)
    plan = compile_plan(spec, coerce_row(spec, row, row=1), assets_dir=settings.assets_dir, storage=storage)
    fps = Fraction(info.fps).limit_denominator(1001)
    times = _times(plan, info.duration)
    assert len(times) == TIMES, times
    wanted = {math.floor(Fraction(t).limit_denominator(10_000) * fps): t for t in times}
    decoded = _frames_at(tmp_path / "sample.mp4", set(wanted))
    version = base_version(plan, storage, settings)
    parts = {first + k for first, count in planned_parts(plan, version) for k in range(count)}
    skip = skipped_segments(plan, version)
    for index, t in sorted(wanted.items()):
        at = float((index + Fraction(1, 2)) / fps)
        preview = np.array(still_frame(plan, at, storage, settings))
        assert preview.shape == decoded[index].shape
        value = luma_psnr(preview, decoded[index])
        assert value >= 38, f"{scene_file.name} at {t} s (frame {index}): {value:.1f} dB"
        if pick_frame(version, skip, at).segment.index not in parts:  # a shared segment: the same bytes
            assert np.array_equal(preview, decoded[index]), f"{scene_file.name} at {t} s"
