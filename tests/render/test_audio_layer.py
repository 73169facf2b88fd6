"""The ``audio`` layer: a background track chosen by data, baked into a shared template variant.

The template carries a 440 Hz tone; the tracks are pure sines of known
amplitude (1 kHz, 2 kHz), so an FFT of the decoded output tells what was
mixed in, and how loud.
"""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from pvideo.errors import DataError
from pvideo.plan.compiler import compile_plan
from pvideo.render import hls
from pvideo.render.engine import render_plan
from pvideo.render.ingest import AUDIO_RATE, segment_files
from pvideo.render.versions import base_version, cache_dir, store_hls, template_version
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, SECONDS, copy_assets
from tests.media import stream_spans
from tests.synthetic import AMPLITUDE, write_track

TRACKS = {"calm": 1000, "bright": 2000}
WINDOW = (1.0, 3.0)


@pytest.fixture()
def music_settings(settings, tmp_path):
    assets = tmp_path / "assets"
    copy_assets(settings.assets_dir, assets)
    for name, frequency in TRACKS.items():
        write_track(settings.ffmpeg_exe, assets / "music" / f"{name}.m4a", frequency)
    write_track(settings.ffmpeg_exe, assets / "music" / "short.m4a", 1000, seconds=1)
    return settings.model_copy(update={"assets_dir": assets})


SPEC = parse_scene(
    {
        "name": "music",
        "video": "templates/tiny.mp4",
        "fields": {"mood": {"type": "str"}, "first_name": {"type": "str"}},
        "layers": [
            {
                "type": "audio",
                "src": "music/{{ mood }}.m4a",
                "volume": 0.5,
                "template_volume": 0.25,
                "start": WINDOW[0],
                "end": WINDOW[1],
            },
            {
                "type": "text",
                "text": "Hi {{ first_name }}",
                "start": 1.0,
                "end": 2.0,
                "box": {"x": 40, "y": 40, "w": 300, "h": 80},
                "background": "#102040",
            },
        ],
    }
)


def _plan(settings, mood="calm", name="Ann"):
    return compile_plan(SPEC, coerce_row(SPEC, {"mood": mood, "first_name": name}), assets_dir=settings.assets_dir)


def _samples(path) -> np.ndarray:
    """The left channel, float, at 48 kHz."""
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])


def _amplitude(samples: np.ndarray, at: float, frequency: int) -> float:
    """The amplitude of ``frequency`` in the half second from ``at`` (Hann-windowed FFT)."""
    chunk = samples[int(at * AUDIO_RATE) : int(at * AUDIO_RATE) + AUDIO_RATE // 2]
    window = np.hanning(len(chunk))
    spectrum = np.abs(np.fft.rfft(chunk * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(len(chunk), 1 / AUDIO_RATE)
    return float(spectrum[np.abs(freqs - frequency) < 20].max())


@pytest.fixture()
def rendered(music_settings, tmp_path):
    plan = _plan(music_settings)
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, music_settings)
    paths = segment_files(version, storage, cache_dir(music_settings))
    out = render_plan(plan, version, paths, tmp_path / "out", ffmpeg_exe=music_settings.ffmpeg_exe)
    return plan, version, storage, out


def test_track_is_mixed_in_at_its_volume_and_the_template_ducked(rendered, music_settings, tmp_path):
    plan, _version, storage, out = rendered
    mixed, tone = _samples(out.video), _base_tone(plan, music_settings, storage)
    assert tone > 0.05
    assert _amplitude(mixed, 0.2, 1000) < 0.002 and abs(_amplitude(mixed, 0.2, 440) - tone) < 0.1 * tone
    for at in (1.2, 2.2):  # inside the window: the track at volume 0.5, the template at 0.25
        assert abs(_amplitude(mixed, at, 1000) - 0.5 * AMPLITUDE) < 0.01
        assert abs(_amplitude(mixed, at, 440) - 0.25 * tone) < 0.1 * tone
    assert _amplitude(mixed, 3.3, 1000) < 0.002 and abs(_amplitude(mixed, 3.3, 440) - tone) < 0.1 * tone


def _base_tone(plan, settings, storage) -> float:
    """The template's tone in the base version (no track mixed in)."""
    base = base_version(plan, storage, settings)
    return _amplitude(_samples(segment_files(base, storage, cache_dir(settings))[0]), 0.2, 440)


def test_template_comes_back_when_a_short_track_ends(music_settings, tmp_path):
    """A 1 s track from 1 s with no end: the template is ducked only while it plays."""
    spec = SPEC.model_copy(update={"layers": [SPEC.layers[0].model_copy(update={"end": None})]})
    plan = compile_plan(spec, {"mood": "short", "first_name": "A"}, assets_dir=music_settings.assets_dir)
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, music_settings)
    out = render_plan(
        plan,
        version,
        segment_files(version, storage, cache_dir(music_settings)),
        tmp_path / "o",
        ffmpeg_exe=music_settings.ffmpeg_exe,
    )
    mixed, tone = _samples(out.video), _base_tone(plan, music_settings, storage)
    assert abs(_amplitude(mixed, 1.3, 1000) - 0.5 * AMPLITUDE) < 0.01
    assert abs(_amplitude(mixed, 1.3, 440) - 0.25 * tone) < 0.1 * tone
    assert _amplitude(mixed, 2.5, 1000) < 0.002 and abs(_amplitude(mixed, 2.5, 440) - tone) < 0.1 * tone


def test_a_file_without_audio_fails_permanently_naming_the_layer(music_settings, tmp_path):
    from pvideo.errors import AssetError

    plan = compile_plan(
        SPEC.model_copy(update={"layers": [SPEC.layers[0].model_copy(update={"src": "logo.png"})]}),
        {"mood": "x", "first_name": "A"},
        assets_dir=music_settings.assets_dir,
    )
    with pytest.raises(AssetError, match="layer 1 \\(audio\\)"):
        template_version(plan, LocalStorage(tmp_path / "store"), music_settings)


def test_video_stays_frame_exact_and_synced(rendered, music_settings):
    _, version, _, out = rendered
    check = subprocess.run(
        [music_settings.ffmpeg_exe, "-v", "error", "-i", str(out.video), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and check.stderr == ""
    with av.open(str(out.video)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == version.frames == FPS * SECONDS
    spans = stream_spans(out.video)
    assert all(abs(a - v) <= 1 / FPS for a, v in zip(spans["audio"], spans["video"]))
    assert abs(spans["video"][1] - spans["video"][0] - SECONDS) < 1e-3


def test_customers_with_the_same_track_share_one_variant(music_settings, tmp_path):
    storage = LocalStorage(tmp_path / "store")
    ann, bob, eve = (
        _plan(music_settings, mood, name) for mood, name in (("calm", "Ann"), ("calm", "Bob"), ("bright", "Eve"))
    )
    first = template_version(ann, storage, music_settings)
    manifest = storage.local_path(f"{first.prefix}/manifest.json")
    stamp = manifest.stat().st_mtime_ns
    assert template_version(bob, storage, music_settings).hash == first.hash
    other = template_version(eve, storage, music_settings)
    assert other.hash != first.hash and manifest.stat().st_mtime_ns == stamp
    manifests = sorted(p.parent.name for p in (tmp_path / "store" / "templates").glob("*/manifest.json"))
    assert len(manifests) == 3  # one base version, one variant per track


def test_variant_copies_the_base_video_and_encodes_only_audio(rendered, music_settings):
    plan, version, storage, _ = rendered
    base = base_version(plan, storage, music_settings)
    assert base.hash != version.hash
    assert [s.frames for s in version.segments] == [s.frames for s in base.segments]
    for ours, theirs in zip(
        segment_files(version, storage, cache_dir(music_settings)),
        segment_files(base, storage, cache_dir(music_settings)),
    ):
        assert _video_packets(ours) == _video_packets(theirs)


def _video_packets(path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as container:
        return [(p.pts, bytes(p)) for p in container.demux(container.streams.video[0]) if p.size]


def test_hls_parts_carry_the_variants_audio(rendered, music_settings, tmp_path):
    _, version, storage, out = rendered
    key = store_hls(version, out, storage, "outputs/m")
    text = storage.get_bytes(key).decode()
    (part,) = [p for p in out.parts if p.first == 1]
    variant_segment = segment_files(version, storage, cache_dir(music_settings))[1]
    assert _audio_packets(part.path) == _audio_packets(variant_segment)
    local = tmp_path / "play.m3u8"
    local.write_text(hls.rewrite(text, lambda k: str(storage.local_path(k))))
    joined = tmp_path / "joined.mp4"
    check = subprocess.run(
        [music_settings.ffmpeg_exe, "-v", "error", "-i", str(local), "-c", "copy", str(joined)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and check.stderr == ""
    assert abs(_amplitude(_samples(joined), 1.2, 1000) - 0.5 * AMPLITUDE) < 0.01


def _audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def test_missing_track_chosen_by_data_names_row_and_field(music_settings):
    with pytest.raises(DataError) as err:
        compile_plan(
            SPEC,
            coerce_row(SPEC, {"mood": "angry", "first_name": "A"}),
            assets_dir=music_settings.assets_dir,
            row_number=3,
        )
    assert "row 3" in str(err.value) and "layer 1 (audio)" in str(err.value) and "src" in str(err.value)


def test_audio_layer_options_are_checked():
    from pvideo.errors import SceneError

    base = {"name": "m", "video": "v.mp4"}
    with pytest.raises(SceneError, match="layer 1 \\(audio\\), field volume"):
        parse_scene({**base, "layers": [{"type": "audio", "src": "a.m4a", "volume": -1}]})
    with pytest.raises(SceneError, match="end"):
        parse_scene({**base, "layers": [{"type": "audio", "src": "a.m4a", "start": 3, "end": 2}]})
