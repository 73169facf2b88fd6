"""Audio starts with the video, and the video lasts as long as its template.

The mezzanine's MPEG-TS segments start the audio 1,024 samples early (the AAC
encoder's priming, which MPEG-TS cannot signal); the MP4 must skip them, not
play them first. Each template here carries a chirp (a tone sweeping up for
the whole video), so cross-correlating the decoded output audio with the
template's has one sharp peak, and its lag is the output's audio delay.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from pvideo.plan.compiler import compile_plan
from pvideo.render import hls
from pvideo.render.engine import render_plan
from pvideo.render.ingest import segment_files
from pvideo.render.versions import cache_dir, store_hls, template_version
from pvideo.scene.spec import parse_scene
from pvideo.settings import PROJECT_ROOT
from pvideo.storage import LocalStorage
from tests.conftest import copy_assets
from tests.media import audio_lag, audio_offset, decoded_audio, first_frame_time

MS = 0.001
SECONDS = 2


def chirp_template(ffmpeg_exe: str, path: Path, *, rate: str, sample_rate: int, audio: bool = True) -> Path:
    """A ``SECONDS`` s 320x180 test pattern at ``rate`` fps with B-frames (as phones write them)
    and, with ``audio``, a 200 Hz - 6 kHz stereo chirp at ``sample_rate`` Hz in AAC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg_exe, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate={rate}:d={SECONDS}"]
    if audio:
        tone = f"0.4*sin(2*PI*(200*t+{5800 / (2 * SECONDS):g}*t*t))"
        args += ["-f", "lavfi", "-i", f"aevalsrc={tone}|{tone}:s={sample_rate}:d={SECONDS}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True)
    return path


def scene(template: str, *layers: dict) -> dict:
    hello = {
        "type": "text",
        "text": "Hi {{ first_name }}",
        "start": 0.8,
        "end": 1.2,  # across the first segment cut: a personal part of two segments
        "box": {"x": 20, "y": 20, "w": 200, "h": 60},
        "background": "#102040",
    }
    return {"name": "sync", "video": template, "fields": {"first_name": {"type": "str"}}, "layers": [hello, *layers]}


def render(settings, assets: Path, spec: dict, workdir: Path, *, engine: str = "segments"):
    settings = settings.model_copy(update={"assets_dir": assets})
    plan = compile_plan(parse_scene(spec), {"first_name": "Ann"}, assets_dir=assets)
    storage = LocalStorage(workdir / "store")
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    outputs = render_plan(plan, version, paths, workdir / engine, ffmpeg_exe=settings.ffmpeg_exe, engine=engine)
    return version, storage, outputs


def mp4_duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def check_in_sync(output: Path, template: Path, fps: Fraction, **lag: Any) -> None:
    """The first decoded sample plays with the first frame and is the template's first (within
    1 ms), and the MP4 lasts as long as its video and the template (within a frame)."""
    start, _ = decoded_audio(output)
    assert abs(start - first_frame_time(output)) <= MS, f"audio starts {start - first_frame_time(output):+.4f} s"
    assert abs(audio_offset(output, template, **lag)) <= MS
    with av.open(str(output)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(mp4_duration(output) - float(frames / fps)) <= MS
    assert abs(mp4_duration(output) - mp4_duration(template)) <= float(1 / fps)


@pytest.mark.parametrize(
    "rate,sample_rate",
    [("25", 48_000), ("30000/1001", 44_100), ("25", 44_100), ("30000/1001", 48_000)],
    ids=["25fps-48k", "29.97fps-44.1k", "25fps-44.1k", "29.97fps-48k"],
)
def test_audio_starts_with_the_first_frame(settings, tmp_path, rate, sample_rate):
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    template = chirp_template(
        settings.ffmpeg_exe, assets / "templates" / "chirp.mp4", rate=rate, sample_rate=sample_rate
    )
    version, _, outputs = render(settings, assets, scene("templates/chirp.mp4"), tmp_path)
    assert outputs.parts and outputs.video is not None
    check_in_sync(outputs.video, template, version.fps)


def test_full_engine_starts_audio_with_the_first_frame(settings, tmp_path):
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    template = chirp_template(settings.ffmpeg_exe, assets / "templates" / "chirp.mp4", rate="25", sample_rate=48_000)
    version, _, outputs = render(settings, assets, scene("templates/chirp.mp4"), tmp_path, engine="full")
    assert outputs.video is not None
    check_in_sync(outputs.video, template, version.fps)


def test_hls_playlist_plays_audio_in_sync(settings, tmp_path):
    """MPEG-TS keeps the priming before the first frame by timestamps: players play it
    (near silence) first and the template's first sample with the first frame."""
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    template = chirp_template(
        settings.ffmpeg_exe, assets / "templates" / "chirp.mp4", rate="30000/1001", sample_rate=44_100
    )
    version, storage, outputs = render(settings, assets, scene("templates/chirp.mp4"), tmp_path)
    key = store_hls(version, outputs, storage, "outputs/sync")
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(hls.rewrite(storage.get_bytes(key).decode(), lambda k: str(storage.local_path(k))))
    assert abs(audio_offset(playlist, template)) <= MS


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bill", "renewal", "welcome"])
def test_bundled_templates_render_in_sync(settings, tmp_path, name):
    assets = PROJECT_ROOT / "assets"
    template = assets / "templates" / f"{name}.mp4"
    version, _, outputs = render(settings, assets, scene(f"templates/{name}.mp4"), tmp_path)
    assert outputs.video is not None
    # the music bed fades in over 1.5 s and holds chords: correlate seconds 2-6, where notes start
    check_in_sync(outputs.video, template, version.fps, within=0.05, window=(2.0, 6.0))


def test_template_without_audio_yields_no_audio_track(settings, tmp_path):
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    chirp_template(settings.ffmpeg_exe, assets / "templates" / "mute.mp4", rate="25", sample_rate=48_000, audio=False)
    for engine in ("segments", "full"):
        version, storage, outputs = render(settings, assets, scene("templates/mute.mp4"), tmp_path, engine=engine)
        assert outputs.video is not None and outputs.info is not None
        assert not outputs.info.has_audio, f"{engine}: the MP4 gained an audio track"
        assert mp4_duration(outputs.video) == pytest.approx(SECONDS, abs=MS)
    key = store_hls(version, outputs, storage, "outputs/mute")
    files = [storage.local_path(k) for k in hls.playlist_keys(storage.get_bytes(key).decode())]
    for path in files:
        with av.open(str(path)) as container:
            assert not container.streams.audio, f"{path.name} carries an audio track"


def test_audio_layer_adds_audio_to_a_template_without_audio(settings, tmp_path):
    """Only a layer adds audio: the track, placed where its layer says, in sync with the frames."""
    assets = copy_assets(settings.assets_dir, tmp_path / "assets")
    chirp_template(settings.ffmpeg_exe, assets / "templates" / "mute.mp4", rate="25", sample_rate=48_000, audio=False)
    track = chirp_template(settings.ffmpeg_exe, tmp_path / "track.mp4", rate="25", sample_rate=48_000)
    subprocess.run(
        [settings.ffmpeg_exe, "-v", "error", "-y", "-i", str(track), "-vn", "-c:a", "copy", assets / "music.m4a"],
        check=True,
    )
    music = {"type": "audio", "src": "music.m4a", "start": 0.5}
    _, _, outputs = render(settings, assets, scene("templates/mute.mp4", music), tmp_path)
    assert outputs.video is not None and outputs.info is not None and outputs.info.has_audio
    start, samples = decoded_audio(outputs.video)
    _, chirp = decoded_audio(assets / "music.m4a")
    assert abs(start - first_frame_time(outputs.video)) <= MS
    assert abs(start + audio_lag(samples, chirp, within=0.6) - 0.5) <= MS
    assert abs(mp4_duration(outputs.video) - SECONDS) <= MS
