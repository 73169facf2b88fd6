"""The ``video`` layer: an overlay clip chosen by data, frame-exact in both engines.

The test clip runs at 10 fps (the template at 30) and each of its frames is a
distinct flat gray, so the box tells which clip frame a template frame shows.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from pvideo.errors import DataError
from pvideo.plan.compiler import compile_plan
from pvideo.render.clips import PlacedClip, clip_frames, fitted
from pvideo.render.engine import part_args, render_plan
from pvideo.render.ingest import segment_files
from pvideo.render.versions import cache_dir, template_version
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, SECONDS, copy_assets
from tests.media import frames_rgb, luma_psnr, psnr
from tests.synthetic import CLIP_FPS, CLIP_FRAMES, LEVELS, write_clip


@pytest.fixture()
def clip_settings(settings, tmp_path):
    assets = tmp_path / "assets"
    copy_assets(settings.assets_dir, assets)
    write_clip(assets / "clips" / "gray.mp4")
    return settings.model_copy(update={"assets_dir": assets})


def _scene(**layer):
    clip = {
        "type": "video",
        "src": "clips/{{ product }}.mp4",
        "start": 0.5,
        "end": 3.5,
        "box": {"x": 200, "y": 60, "w": 320, "h": 240},
        **layer,
    }
    return parse_scene(
        {"name": "clip", "video": "templates/tiny.mp4", "fields": {"product": {"type": "str"}}, "layers": [clip]}
    )


def _render(settings, tmp_path, spec, product="gray"):
    plan = compile_plan(spec, coerce_row(spec, {"product": product}), assets_dir=settings.assets_dir)
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    out = {
        e: render_plan(plan, version, paths, tmp_path / e, ffmpeg_exe=settings.ffmpeg_exe, engine=e)
        for e in ("segments", "full")
    }
    return plan, version, paths, out


def _level(frame, x, y):
    return frame[y - 4 : y + 4, x - 4 : x + 4].mean()


@pytest.fixture()
def looped(clip_settings, tmp_path):
    return _render(clip_settings, tmp_path, _scene(loop=True, fit="contain"))


def test_box_shows_the_clip_frame_of_each_moment_in_both_engines(looped):
    """Template frame k in [15, 105) shows clip frame ((k - 15) * 10 / 30) mod 10, looped."""
    _, version, _, out = looped
    for engine in ("segments", "full"):
        frames = frames_rgb(out[engine].video)
        assert len(frames) == version.frames == FPS * SECONDS
        for k in range(15, 105):
            expected = LEVELS[((k - 15) * CLIP_FPS // FPS) % CLIP_FRAMES]
            assert abs(_level(frames[k], 360, 180) - expected) <= 4, (engine, k)
        for k in (14, 105):  # outside the window the box is the template's test pattern, not flat gray
            assert frames[k][160:200, 300:420].std() > 20, (engine, k)


def test_engines_agree_inside_the_box(looped):
    _, _, _, out = looped
    seg, full = (frames_rgb(out[e].video) for e in ("segments", "full"))
    box = (slice(60, 300), slice(200, 520))
    assert min(psnr(seg[k][box], full[k][box]) for k in range(15, 105)) >= 40


def test_only_segments_under_the_clip_are_reencoded(looped):
    _, _version, _, out = looped
    # the clip's window (frames 15-105) is cut out of the 1 s grid: segments 1-4, no frame more
    assert [s.first_frame for s in _version.segments] == [0, 15, 30, 60, 90, 105]
    assert [(p.first, p.count) for p in out["segments"].parts] == [(1, 1), (2, 3)]


def test_contain_letterboxes_inside_the_box(looped):
    """A 16:9 clip in a 4:3 box: 320x180, centered (rows 90..270); above and below stays template."""
    _, _, paths, out = looped
    frame = frames_rgb(out["segments"].video)[30]
    assert abs(_level(frame, 360, 100) - LEVELS[5]) <= 4
    assert tuple(frame[180, 205]) > (180, 0, 0) and frame[180, 205][1] < 60  # the red stripe shows
    with av.open(str(paths[1])) as container:
        template = next(container.decode(video=0)).to_ndarray(format="rgb24")  # frame 30 of the mezzanine
    assert np.abs(frame[62:86, 210:510].astype(int) - template[62:86, 210:510]).mean() < 6


def test_cover_fills_the_box_and_a_short_clip_holds_its_last_frame(clip_settings, tmp_path):
    spec = _scene(fit="cover", loop=False, box={"x": 200, "y": 60, "w": 90, "h": 90})
    _, _, _, out = _render(clip_settings, tmp_path, spec)
    for engine in ("segments", "full"):
        frames = frames_rgb(out[engine].video)
        for k in (15, 44):
            error = np.abs(frames[k][64:146, 204:286].astype(int) - LEVELS[(k - 15) * CLIP_FPS // FPS])
            assert error.mean() <= 4 and error.max() <= 40, (engine, k)  # no red stripe: cropped away
        for k in (45, 80, 104):  # after the clip's 1 s: its last frame, held
            assert abs(_level(frames[k], 245, 105) - LEVELS[-1]) <= 4, (engine, k)


def test_missing_clip_chosen_by_data_names_row_and_field(clip_settings):
    spec = _scene()
    for product in ("nope", "../../etc/passwd"):
        with pytest.raises(DataError) as err:
            compile_plan(
                spec, coerce_row(spec, {"product": product}), assets_dir=clip_settings.assets_dir, row_number=4
            )
        assert "row 4" in str(err.value) and "src" in str(err.value) and "layer 1 (video)" in str(err.value)


def test_fit_geometry():
    assert fitted((160, 90), (200, 60, 320, 240), "contain") == ((320, 180), (200, 90, 320, 180))
    assert fitted((160, 90), (200, 60, 90, 90), "cover") == ((160, 90), (200, 60, 90, 90))
    assert fitted((90, 160), (0, 0, 400, 225), "cover") == ((400, 711), (0, 0, 400, 225))


def test_a_part_starting_mid_clip_takes_the_clip_from_its_offset(looped, tmp_path):
    """The part over segments 2-4 (template frames 30-105) starts 15 frames into the clip: trim from
    clip frame 15."""
    _, version, paths, _ = looped
    clip = PlacedClip(tmp_path / "c.mp4", 200, 90, 320, 180, (320, 180), 15, 105, True)
    args = " ".join(
        part_args(
            version,
            version.segments[2:5],
            paths[2:5],
            [],
            tmp_path / "p.ts",
            ffmpeg_exe="ffmpeg",
            clips=[clip],
            origin=Fraction(1),
        )
    )
    assert "trim=end_frame=90:start_frame=15" in args and "enable=gte(n\\,0)*lt(n\\,75)" in args
    assert "fps=fps=30/1" in args and "loop=loop=-1" in args
    stamps = " ".join(clip_frames(clip, Fraction(30), 0, 5, Fraction(1)).output("x.ts").get_args())
    assert "setpts=89250.000+N*3000.000000" in stamps  # 1 s minus a quarter frame, at 90 kHz


def test_preview_draws_the_clip_on_the_customers_timeline(clip_settings, tmp_path):
    """The moviepy preview is the reference for clips too, and ``--at`` is a second of the customer's
    video: with the 1-2 s section skipped, output second 1.5 is template second 2.5."""
    from pvideo.render.preview import preview_frame

    spec = parse_scene(
        {
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
    )
    plan, version, _, out = _render(clip_settings, tmp_path, spec)
    frames = frames_rgb(out["segments"].video)
    assert len(frames) == version.frames - FPS  # 1 s skipped; the last frame (a personal part) survives the splice
    for at in (0.6, 1.5, 2.2):
        reference = np.asarray(preview_frame(plan, at))
        engine = frames[int(at * FPS)]
        assert luma_psnr(engine, reference) >= 35, at
        template_second = at if at < 1 else at + 1
        expected = LEVELS[int((template_second - 0.5) * CLIP_FPS + 1e-9) % CLIP_FRAMES]
        assert abs(_level(reference, 360, 180) - expected) <= 4, at  # the clip frame of that moment
    with pytest.raises(DataError, match="outside the video"):
        preview_frame(plan, version.frames / FPS - 0.5)  # the template's last second is past the customer's end
