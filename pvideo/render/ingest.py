"""Template ingest: normalize a base video once into reusable segments.

The mezzanine is H.264 High yuv420p at a constant frame rate, no B-frames and
an IDR frame every ``segment_frames`` frames and at every cut (section
boundaries, personal windows' first frames and the frames just after their
last: ``IngestOptions.cuts``, part of the version hash) (closed GOPs), with 48 kHz stereo
AAC (no audio track when the source has none), cut into MPEG-TS segments that
each start on that IDR and keep continuous timestamps. Any segment can then be
re-encoded alone with the same encoder settings and spliced back by plain
concatenation, and the same files serve HLS directly.

MPEG-TS cannot signal the AAC encoder's priming (1,024 samples before the
first real one), so the muxer starts the audio that much before frame 0: the
timestamps keep the two in sync, and the MP4 splice turns the lead into an
edit list (``pvideo.render.engine.retiming``).

A version is content-addressed by the source file's hash plus the ingest
settings, stored once under ``templates/<hash>/`` with ``manifest.json``
written last (its presence means the version is complete).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg

from pvideo.errors import AssetError, RenderError
from pvideo.files import file_hash, write_whole
from pvideo.plan.model import Overlay
from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg
from pvideo.render.overlays import PlacedOverlay, frame_window, overlay_chain, place
from pvideo.render.probe import VideoInfo, probe
from pvideo.storage import Storage

# 2: no silent track for a source without audio. Output digests include the version hash, so
# the bump also retires outputs spliced before the audio was put in sync with the video.
INGEST_VERSION = 2
AUDIO_RATE = 48_000
_COMMON_RATES = [
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
]


@dataclass(frozen=True)
class IngestOptions:
    segment_seconds: float = 1.0
    preset: str = "veryfast"
    crf: int = 23
    audio_bitrate: str = "128k"
    # extra segment cuts (template seconds): section boundaries and personal windows' bounds
    cuts: tuple[float, ...] = ()

    def cut_frames(self, rate: Fraction, frames: int) -> list[int]:
        """Frames that start a segment (after frame 0): the fixed grid plus every ``cut``."""
        gop = segment_frames(rate, self.segment_seconds)
        extra = {frame_window(t, t, rate)[0] for t in self.cuts}
        return sorted({*range(gop, frames, gop), *(f for f in extra if 0 < f < frames)})


@dataclass(frozen=True)
class Segment:
    index: int
    key: str
    first_frame: int
    frames: int
    bytes: int


@dataclass(frozen=True)
class TemplateVersion:
    hash: str
    source: str
    width: int
    height: int
    fps: Fraction
    frames: int
    segment_frames: int
    options: IngestOptions
    segments: tuple[Segment, ...]
    audio: bool = True  # False when the source has none (older manifests lack the key: all had audio)

    @property
    def prefix(self) -> str:
        return f"templates/{self.hash}"

    @property
    def duration(self) -> float:
        return float(self.frames / self.fps)

    def segment_duration(self, segment: Segment) -> float:
        return float(segment.frames / self.fps)

    def to_json(self) -> dict:
        data = asdict(self)
        data["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        return data

    @classmethod
    def from_json(cls, data: dict) -> TemplateVersion:
        options = IngestOptions(**{**data["options"], "cuts": tuple(data["options"].get("cuts", ()))})
        return cls(
            **{
                **data,
                "fps": Fraction(data["fps"]),
                "options": options,
                "segments": tuple(Segment(**s) for s in data["segments"]),
            }
        )


def normalized_rate(info: VideoInfo) -> Fraction:
    """The rate the mezzanine runs at: the declared rate if it is a broadcast rate (phone
    VFR dips below it), else the average rate snapped to a broadcast rate within 2%."""
    for candidate in (info.nominal_fps, info.fps):
        if candidate and candidate > 0:
            rate = Fraction(candidate).limit_denominator(1001)
            nearest = min(_COMMON_RATES, key=lambda r: abs(r - rate))
            if abs(nearest - rate) / nearest <= Fraction(2, 100):
                return nearest
    average = Fraction(info.fps).limit_denominator(1001) if info.fps else Fraction(0)
    return Fraction(round(average)) if average >= 1 else Fraction(30)


def version_hash(source_hash: str, options: IngestOptions, baked: Sequence[Overlay] = ()) -> str:
    """Source bytes + ingest settings + the static overlays drawn in (pixels, place, window)."""
    layers = [
        [hashlib.sha256(o.png).hexdigest(), o.x, o.y, o.start, o.end, *([o.animation.key()] if o.animation else [])]
        for o in baked
    ]
    settings = asdict(options)
    if not options.cuts:  # versions without cuts keep the hash they had before cuts existed
        del settings["cuts"]
    payload = json.dumps([INGEST_VERSION, source_hash, settings, layers], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


# x264 threads for a personalized part. x264's output is deterministic for a given thread count,
# and its default count follows the machine (1.5 per core), so a customer's parts were other bytes
# on another worker's machine; fixed, they are the same everywhere, alone or in a batch
# (``pvideo.render.batch``). Two: on the 2-core reference machine x264's default is 3, which
# renders no faster (the reference workload's joint process: median 1.82 s with 2 threads, 1.84 s
# with 3, five runs each), and with 2 a batch of 4 peaks at 407 MB instead of 444. Larger
# machines get their throughput from renders side by side.
PART_THREADS = 2


def x264_args(preset: str, crf: int, gop: int, keyframes: Sequence[int] = (), *, grid: bool = True) -> list[str]:
    """The encoder settings every mezzanine and personalized segment shares: an IDR frame every
    ``gop`` frames and at every ``keyframes`` frame (section and personal window cuts); with
    ``grid`` False, at the first frame and the ``keyframes`` only (a part's segment starts), and
    ``PART_THREADS`` encoder threads."""
    if grid:
        forced = f"eq(mod(n,{gop}),0)" + "".join(f"+eq(n,{k})" for k in keyframes if k % gop)
    else:
        forced = "+".join(f"eq(n,{k})" for k in sorted({0, *keyframes}))
    return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-bf",
        "0",
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:{forced}",
        *([] if grid else ["-threads", str(PART_THREADS)]),
    ]


def ingest_args(
    source: Path,
    info: VideoInfo,
    out_dir: Path,
    *,
    ffmpeg_exe: str,
    options: IngestOptions,
    baked: Sequence[PlacedOverlay] = (),
) -> list[str]:
    """Normalize ``source``, draw the ``baked`` (static) overlays, cut into ``out_dir/seg_%05d.ts``."""
    rate = normalized_rate(info)
    gop = segment_frames(rate, options.segment_seconds)
    frames = ingest_frames(info, rate)
    duration = f"{float(frames / rate):.6f}"
    src = ffmpeg.input(str(source))
    video = (
        src["v:0"]
        .filter("setpts", "PTS-STARTPTS")
        .filter("fps", fps=f"{rate.numerator}/{rate.denominator}")
        .filter("scale", "trunc(iw/2)*2", "trunc(ih/2)*2")
        .filter("setsar", "1")
        .filter("format", "yuv420p")
        .filter("trim", end_frame=frames)
    )
    streams = [overlay_chain(video, baked)]
    if info.has_audio:  # a source without audio gets none: outputs then have none unless a layer adds some
        audio = src["a:0"].filter("aresample", AUDIO_RATE).filter("asetpts", "PTS-STARTPTS").filter("apad")
        streams.append(audio.filter("atrim", 0, duration).filter("asetpts", "PTS-STARTPTS"))
    cuts = options.cut_frames(rate, frames) if options.cuts else []
    encoder = x264_args(options.preset, options.crf, gop, cuts)
    stream = ffmpeg.output(
        *streams,
        str(out_dir / "seg_%05d.ts"),
        **{k.lstrip("-"): v for k, v in zip(encoder[::2], encoder[1::2])},
        **{"c:a": "aac", "b:a": options.audio_bitrate, "ar": AUDIO_RATE, "ac": 2, **segmenting(cuts, gop, rate)},
    )
    return ffmpeg_args(stream, ffmpeg_exe)


def concat_source(paths: Sequence[Path]) -> str:
    """MPEG-TS segments with continuous timestamps concatenate byte for byte."""
    for path in paths:
        if "|" in str(path):
            raise ValueError(f"segment path {path} contains '|'")
    return "concat:" + "|".join(str(p) for p in paths)


def segmenting(cuts: Sequence[int], gop: int, rate: Fraction) -> dict[str, object]:
    """Segment-muxer options: cut every ``gop`` frames, or exactly at the ``cuts`` frames."""
    placement: dict[str, object] = (
        {"segment_frames": ",".join(map(str, cuts))}
        if cuts
        else {"segment_time": f"{float(gop / rate):.6f}", "segment_time_delta": f"{float(1 / (2 * rate)):.6f}"}
    )
    return {"f": "segment", "segment_format": "mpegts", **placement, "muxdelay": 0, "muxpreload": 0}


def ingest_frames(info: VideoInfo, rate: Fraction) -> int:
    return max(1, round(Fraction(info.duration).limit_denominator(100_000) * rate))


def segment_frames(rate: Fraction, seconds: float) -> int:
    return max(1, round(rate * Fraction(seconds).limit_denominator(1000)))


def ingest(
    source: Path,
    storage: Storage,
    *,
    ffmpeg_exe: str,
    options: IngestOptions = IngestOptions(),
    baked: Sequence[Overlay] = (),
    timeout: float = 1800.0,
) -> TemplateVersion:
    """Ingest ``source`` (with ``baked`` static overlays) unless that exact version is stored."""
    source = Path(source)
    vhash = version_hash(file_hash(source), options, baked)
    stored = stored_version(storage, vhash)
    if stored is not None:
        return stored
    info = probe(source, count_frames=False)
    with tempfile.TemporaryDirectory(prefix="pvideo-ingest-") as tmp:
        out = Path(tmp)
        rate = normalized_rate(info)
        placed = place(baked, rate, ingest_frames(info, rate), out, prefix="baked")
        run_ffmpeg(
            ingest_args(source, info, out, ffmpeg_exe=ffmpeg_exe, options=options, baked=placed), timeout=timeout
        )
        return store_version(describe(source.name, vhash, out, options), out, storage)


def store_version(version: TemplateVersion, out: Path, storage: Storage) -> TemplateVersion:
    """Store the segments written to ``out``, then the manifest (last: it marks the version complete)."""
    for segment in version.segments:
        storage.put_file(segment.key, out / Path(segment.key).name, "video/mp2t")
    storage.put_bytes(
        f"{version.prefix}/manifest.json", json.dumps(version.to_json(), indent=1).encode(), "application/json"
    )
    return version


def stored_version(storage: Storage, vhash: str) -> TemplateVersion | None:
    key = f"templates/{vhash}/manifest.json"
    return TemplateVersion.from_json(json.loads(storage.get_bytes(key))) if storage.exists(key) else None


def describe(source_name: str, vhash: str, out: Path, options: IngestOptions) -> TemplateVersion:
    """Check the segments ffmpeg wrote (each starts on a keyframe, all but the last full)."""
    files = sorted(out.glob("seg_*.ts"))
    if not files:
        raise AssetError(f"{source_name}: ingest produced no video")
    infos = [probe(path) for path in files]
    segments, first = [], 0
    for index, (path, info) in enumerate(zip(files, infos, strict=True)):
        segments.append(Segment(index, f"templates/{vhash}/{path.name}", first, info.frames, path.stat().st_size))
        first += info.frames
    rate = normalized_rate(infos[0])
    gop = segment_frames(rate, options.segment_seconds)
    starts = [0, *options.cut_frames(rate, first)]
    uneven = [s.index for s in segments if s.index >= len(starts) or s.first_frame != starts[s.index]]
    if uneven or len(segments) != len(starts):
        raise RenderError(
            f"{source_name}: ingest cut segments {uneven} off the {gop}-frame grid"
            f"{' and the section and window cuts' if options.cuts else ''}"
        )
    return TemplateVersion(
        hash=vhash,
        source=source_name,
        width=infos[0].width,
        height=infos[0].height,
        fps=rate,
        frames=first,
        segment_frames=gop,
        options=options,
        segments=tuple(segments),
        audio=infos[0].has_audio,
    )


def segment_files(version: TemplateVersion, storage: Storage, cache_dir: Path) -> list[Path]:
    """Local paths of every segment: the storage's own files, or copies cached from S3."""
    paths = []
    for segment in version.segments:
        local = storage.local_path(segment.key)
        if local is None or not local.is_file():
            local = cache_dir / segment.key
            if not local.is_file():
                write_whole(local, storage.get_bytes(segment.key))
        paths.append(local)
    return paths
