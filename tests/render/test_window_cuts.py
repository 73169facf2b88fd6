"""Keyframes where the personalization is: windows off the 1 s grid re-encode only their frames.

Ingest places an IDR frame at every personal window's first frame and just
after its last, and cuts a segment there, so the frames a render re-encodes are
exactly the personalized frames: the bound is 0 extra frames per window, since
the cuts and the overlays round a window's seconds to frames the same way
(``frame_window``). The engine's correctness checks (frame count, A/V sync,
bit-identical untouched frames, PSNR against the full engine) run here on
those cuts.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from pvideo.plan.compiler import compile_plan
from pvideo.plan.windows import keyframe_times
from pvideo.render import hls
from pvideo.render.engine import mp4_args, render_plan
from pvideo.render.ingest import segment_files
from pvideo.render.overlays import frame_window
from pvideo.render.versions import cache_dir, store_hls, template_version
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, SECONDS, copy_assets
from tests.media import frames_rgb, psnr
from tests.render.test_av_sync import check_in_sync, chirp_template

HELLO, OFFER, PRO = (1.3, 2.7), (3.1, 4.0), (0.2, 0.6)


def _scene(hello: tuple[float, float] = HELLO, text: str = "Hi {{ first_name }}") -> dict:
    return {
        "name": "cuts",
        "video": "templates/tiny.mp4",
        "poster_at": 2.0,
        "fields": {"first_name": {"type": "str"}, "plan": {"type": "str", "default": "Basic"}},
        "layers": [
            {
                "type": "text",
                "text": text,
                "start": hello[0],
                "end": hello[1],
                "box": {"x": 40, "y": 40, "w": 300, "h": 80},
                "background": "#102040",
            },
            {  # static: baked into the version, no cut
                "type": "image",
                "src": "logo.png",
                "start": 0.45,
                "end": 1.15,
                "box": {"x": 540, "y": 20, "w": 80, "h": 80},
            },
            {  # personal for the rows it shows on: cut for every row
                "type": "text",
                "text": "Pro",
                "when": "plan == 'Pro'",
                "start": PRO[0],
                "end": PRO[1],
                "box": {"x": 40, "y": 140, "w": 200, "h": 60},
                "background": "#401020",
            },
            {
                "type": "cta",
                "id": "go",
                "label": "Go, {{ first_name }}",
                "href": "https://shop.example/go",
                "start": OFFER[0],
                "box": {"x": 40, "y": 260, "w": 240, "h": 60},
            },
        ],
    }


def _plan(settings, scene: dict, plan: str = "Basic", assets: Path | None = None):
    spec = parse_scene(scene)
    row = coerce_row(spec, {"first_name": "Ann", "plan": plan})
    return compile_plan(spec, row, assets_dir=assets or settings.assets_dir)


def _windows(*seconds: tuple[float, float]) -> set[int]:
    return {k for start, end in seconds for k in range(*frame_window(start, end, FPS)) if k < FPS * SECONDS}


@pytest.fixture()
def rendered(settings, tmp_path):
    plans = {p: _plan(settings, _scene(), p) for p in ("Basic", "Pro")}
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plans["Basic"], storage, settings)
    assert template_version(plans["Pro"], storage, settings) == version  # windows are the scene's, not the row's
    paths = segment_files(version, storage, cache_dir(settings))
    outputs = {
        (p, e): render_plan(plans[p], version, paths, tmp_path / p / e, ffmpeg_exe=settings.ffmpeg_exe, engine=e)
        for p in plans
        for e in ("segments", "full")
    }
    return plans, version, storage, paths, outputs


def _key_frames(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [i for i, frame in enumerate(container.decode(video=0)) if frame.key_frame]


def test_cuts_are_the_personal_windows_bounds(rendered, tmp_path, settings):
    _, version, _, paths, _ = rendered
    # grid 0, 30, 60, 90; hello 39 and 81; the conditional layer 6 and 18; the CTA 93 (it runs to the end)
    starts = [0, 6, 18, 30, 39, 60, 81, 90, 93]
    assert [s.first_frame for s in version.segments] == starts
    mezzanine = tmp_path / "mezzanine.mp4"
    subprocess.run(mp4_args(paths, mezzanine, ffmpeg_exe=settings.ffmpeg_exe), check=True)
    assert _key_frames(mezzanine) == starts
    assert max(s.frames for s in version.segments) <= version.segment_frames == FPS  # never longer than the grid


@pytest.mark.parametrize("row", ["Basic", "Pro"])
def test_reencoded_frames_are_the_personalized_frames(rendered, row):
    plans, version, _, _, outputs = rendered
    parts = outputs[(row, "segments")].parts
    reencoded = {
        k
        for p in parts
        for s in version.segments[p.first : p.first + p.count]
        for k in range(s.first_frame, s.first_frame + s.frames)
    }
    personal = _windows(*((o.start, o.end) for o in plans[row].personal_overlays))
    assert personal == _windows(HELLO, OFFER, *([PRO] if row == "Pro" else []))
    assert reencoded == personal  # 0 extra frames per window
    # the MP4 keeps an IDR frame at each segment start, re-encoded ones included
    assert _key_frames(outputs[(row, "segments")].video) == [s.first_frame for s in version.segments]


def test_version_hash_follows_the_windows(settings, tmp_path):
    storage = LocalStorage(tmp_path / "store")
    version = template_version(_plan(settings, _scene()), storage, settings)
    same_windows = template_version(_plan(settings, _scene(text="Hello {{ first_name }}")), storage, settings)
    moved = template_version(_plan(settings, _scene(hello=(1.4, 2.7))), storage, settings)
    assert same_windows.hash == version.hash
    assert moved.hash != version.hash and 42 in [s.first_frame for s in moved.segments]
    assert keyframe_times(parse_scene(_scene())) == (0.2, 0.6, 1.3, 2.7, 3.1)


def test_hls_target_duration_holds_every_segment(rendered):
    _, version, storage, _, outputs = rendered
    key = store_hls(version, outputs[("Pro", "segments")], storage, "outputs/cuts")
    text = storage.get_bytes(key).decode()
    target = int(next(line for line in text.splitlines() if line.startswith("#EXT-X-TARGETDURATION:")).split(":")[1])
    durations = [float(line[8:].rstrip(",")) for line in text.splitlines() if line.startswith("#EXTINF:")]
    assert sum(durations) == pytest.approx(SECONDS, abs=1e-3)
    assert all(round(d) <= target and d <= target + 1e-3 for d in durations)
    assert target == max(1, math.ceil(max(durations) - 1e-3))
    assert len(hls.playlist_keys(text)) == len(durations)


@pytest.mark.parametrize("row", ["Basic", "Pro"])
def test_frame_count_and_untouched_frames_on_the_new_cuts(rendered, tmp_path, settings, row):
    plans, version, _, paths, outputs = rendered
    video = outputs[(row, "segments")].video
    with av.open(str(video)) as container:
        packets = sum(1 for p in container.demux(video=0) if p.size)
    base, personal = frames_rgb(_mezzanine(paths, tmp_path, settings)), frames_rgb(video)
    assert packets == len(personal) == len(base) == version.frames == FPS * SECONDS
    touched = _windows(*((o.start, o.end) for o in plans[row].personal_overlays))
    for index in range(len(base)):
        if index not in touched:
            assert np.array_equal(base[index], personal[index]), f"frame {index} changed"
        else:
            assert not np.array_equal(base[index], personal[index]), f"frame {index} not personalized"


def _mezzanine(paths, tmp_path: Path, settings) -> Path:
    out = tmp_path / "mezzanine.mp4"
    if not out.exists():
        subprocess.run(mp4_args(paths, out, ffmpeg_exe=settings.ffmpeg_exe), check=True)
    return out


def test_personalized_frames_match_the_full_engine_on_the_new_cuts(settings, welcome_assets, tmp_path):
    plan = _plan(settings, _scene(), "Pro", assets=welcome_assets)
    storage = LocalStorage(tmp_path / "store")
    settings = settings.model_copy(update={"assets_dir": welcome_assets})
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    seg, full = (
        frames_rgb(render_plan(plan, version, paths, tmp_path / e, ffmpeg_exe=settings.ffmpeg_exe, engine=e).video)
        for e in ("segments", "full")
    )
    worst = min(psnr(seg[i], full[i]) for i in sorted(_windows(HELLO, OFFER, PRO)))
    assert worst >= 40, f"worst personalized frame {worst:.1f} dB"


@pytest.mark.parametrize("rate", ["30", "30000/1001"])
def test_audio_stays_in_sync_on_the_new_cuts(settings, tmp_path, rate):
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    template = chirp_template(settings.ffmpeg_exe, assets / "templates" / "chirp.mp4", rate=rate, sample_rate=48_000)
    scene = _scene(hello=(0.37, 1.43))
    scene["video"] = "templates/chirp.mp4"
    scene["layers"][-1]["start"] = 1.61
    plan = _plan(settings, scene, "Pro", assets=assets)
    storage = LocalStorage(tmp_path / "store")
    settings = settings.model_copy(update={"assets_dir": assets})
    version = template_version(plan, storage, settings)
    assert len(version.segments) > 2 + 4  # the grid's two, and the windows' cuts
    paths = segment_files(version, storage, cache_dir(settings))
    for engine in ("segments", "full"):
        outputs = render_plan(plan, version, paths, tmp_path / engine, ffmpeg_exe=settings.ffmpeg_exe, engine=engine)
        assert outputs.video is not None
        check_in_sync(outputs.video, template, version.fps)
