"""Template ingest accepts every input a user may bring and always yields the same mezzanine shape."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest

from pvideo.render.ingest import IngestOptions, ingest, segment_files
from pvideo.settings import Settings
from pvideo.storage import LocalStorage

FFMPEG = Settings().ffmpeg_exe


def make(
    path: Path,
    *,
    size: str = "320x180",
    rate: str = "30",
    seconds: float = 3,
    audio: bool = True,
    video_args: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> Path:
    args = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}:duration={seconds}",
    ]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}"]
    args += [*video_args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra, str(path)]
    subprocess.run(args, check=True)
    return path


def check_mezzanine(
    version, paths, *, fps: Fraction, width: int, height: int, seconds: float, audio: bool = True
) -> None:
    assert version.fps == fps and (version.width, version.height) == (width, height)
    assert width % 2 == 0 and height % 2 == 0
    gop = round(fps * Fraction(version.options.segment_seconds))
    assert version.segment_frames == gop
    assert abs(version.duration - seconds) <= 1.5 / float(fps)
    for segment, path in zip(version.segments, paths):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.profile == "High" and stream.codec_context.pix_fmt == "yuv420p"
            if audio:
                assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
            else:
                assert not container.streams.audio
            packets = [p for p in container.demux(stream) if p.size]
        assert packets[0].is_keyframe, f"segment {segment.index} does not start on a keyframe"
        assert all(p.pts == p.dts for p in packets), "B-frames in the mezzanine"
        if segment.index < len(version.segments) - 1:
            assert segment.frames == gop
    first_pts = None
    with av.open(str(paths[0])) as container:
        packet = next(p for p in container.demux(container.streams.video[0]) if p.size)
        first_pts = float(packet.pts * packet.time_base)
    # video starts at 0 up to the AAC encoder's priming (1024 samples), which MPEG-TS cannot
    # signal: the muxer shifts both streams by it, keeping them in sync
    assert first_pts <= 1024 / 48_000 + 1e-6
    assert version.audio == audio


@pytest.fixture()
def store(tmp_path):
    return LocalStorage(tmp_path / "store")


def _ingest(source, store, tmp_path):
    version = ingest(source, store, ffmpeg_exe=FFMPEG, options=IngestOptions())
    return version, segment_files(version, store, tmp_path / "cache")


@pytest.mark.parametrize(
    "rate,expected", [("25", Fraction(25)), ("30000/1001", Fraction(30000, 1001)), ("60", Fraction(60))]
)
def test_frame_rates(tmp_path, store, rate, expected):
    version, paths = _ingest(make(tmp_path / "in.mp4", rate=rate), store, tmp_path)
    check_mezzanine(version, paths, fps=expected, width=320, height=180, seconds=3)


def test_odd_size_is_made_even(tmp_path, store):
    version, paths = _ingest(make(tmp_path / "odd.mp4", size="321x181", extra=("-pix_fmt", "yuv444p")), store, tmp_path)
    check_mezzanine(version, paths, fps=Fraction(30), width=320, height=180, seconds=3)


def test_b_frames_and_open_gop(tmp_path, store):
    source = make(
        tmp_path / "bf.mp4",
        extra=("-preset", "medium", "-bf", "3", "-x264-params", "open-gop=1:keyint=50:min-keyint=50"),
    )
    with av.open(str(source)) as container:
        assert container.streams.video[0].codec_context.has_b_frames
    version, paths = _ingest(source, store, tmp_path)
    check_mezzanine(version, paths, fps=Fraction(30), width=320, height=180, seconds=3)


def test_no_audio_track_stays_without_audio(tmp_path, store):
    version, paths = _ingest(make(tmp_path / "mute.mp4", audio=False), store, tmp_path)
    check_mezzanine(version, paths, fps=Fraction(30), width=320, height=180, seconds=3, audio=False)


def test_variable_frame_rate(tmp_path, store):
    # 30 fps for a second, then every other frame: timestamps no longer evenly spaced
    source = make(
        tmp_path / "vfr.mp4", seconds=4, video_args=("-vf", "select='lt(n,30)+not(mod(n,2))'", "-fps_mode", "vfr")
    )
    with av.open(str(source)) as container:
        packets = sorted(p.pts for p in container.demux(container.streams.video[0]) if p.size)
    assert len({b - a for a, b in zip(packets, packets[1:])}) > 1  # really VFR
    version, paths = _ingest(source, store, tmp_path)
    check_mezzanine(version, paths, fps=Fraction(30), width=320, height=180, seconds=4)


def test_phone_video_with_rotation_flag(tmp_path, store):
    plain = make(tmp_path / "plain.mp4", size="320x180")
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-display_rotation",
            "90",
            "-i",
            str(plain),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    version, paths = _ingest(rotated, store, tmp_path)
    check_mezzanine(version, paths, fps=Fraction(30), width=180, height=320, seconds=3)
    with av.open(str(paths[0])) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height, frame.rotation) == (180, 320, 0)  # upright pixels, no flag left


def test_timestamp_offset_in_source_starts_at_zero(tmp_path, store):
    source = make(tmp_path / "offset.mp4", extra=("-output_ts_offset", "10"))
    version, paths = _ingest(source, store, tmp_path)
    check_mezzanine(version, paths, fps=Fraction(30), width=320, height=180, seconds=3)


def test_not_a_video_is_a_clear_error(tmp_path, store):
    from pvideo.errors import AssetError

    bogus = tmp_path / "x.mp4"
    bogus.write_bytes(b"no video here")
    with pytest.raises(AssetError, match="x.mp4"):
        ingest(bogus, store, ffmpeg_exe=FFMPEG)
