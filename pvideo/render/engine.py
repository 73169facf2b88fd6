"""Render engines over an ingested template.

``segments`` (the default) re-encodes only the template segments that a
personalized layer touches, with the mezzanine's exact encoder settings, and
splices them with the untouched segments by plain concatenation; ``full``
re-encodes the whole mezzanine in one filter graph (the fallback and the
benchmark baseline). Both select overlay frames by frame index (``n``), so they
personalize exactly the same frames.

Video clips (``pvideo.render.clips``) are stamped with the timestamps of the
template frames they land on, so a part draws the clip from the right offset.
Skipped sections leave out whole segments (ingest cuts segments at section
boundaries): the MP4 splice then rewrites timestamps to close the gap
(``setts``), the HLS playlist marks a discontinuity.

Argument lists are built by pure functions; ``render_plan`` runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg

from pvideo.errors import DataError, SceneError
from pvideo.plan.model import RenderPlan
from pvideo.render.clips import PlacedClip, draw_clips, first_time, place_clips
from pvideo.render.ffmpeg_run import run_ffmpeg
from pvideo.render.ingest import Segment, TemplateVersion, x264_args
from pvideo.render.overlays import PlacedOverlay, frame_window, overlay_chain, place
from pvideo.render.probe import VideoInfo, probe

ENGINES = ("segments", "full")
_GLOBAL = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")


MAX_PART_SEGMENTS = 3


def part_name(first: int) -> str:
    return f"part_{first:05d}.ts"


@dataclass(frozen=True)
class PersonalPart:
    """Re-encoded template segments ``first .. first + count - 1`` in one MPEG-TS file."""

    first: int
    count: int
    path: Path


@dataclass
class EngineOutputs:
    poster: Path
    video: Path | None = None
    info: VideoInfo | None = None
    parts: list[PersonalPart] = field(default_factory=list)
    skip: frozenset[int] = frozenset()  # segments of skipped sections
    origin: Fraction = Fraction(0)  # timestamp of template frame 0 (read only when clips or sections need it)


def layout(
    version: TemplateVersion, parts: Sequence[tuple[int, int]], skip: frozenset[int] = frozenset()
) -> list[tuple[int, int, bool]]:
    """The customer's video in order as ``(first segment, count, is_part)``: each personal
    part ``(first, count)`` stands in for the segments it spans, shared segments for themselves;
    ``skip`` segments (skipped sections) are left out."""
    counts = dict(parts)
    out, index = [], 0
    while index < len(version.segments):
        count = counts.get(index, 1)
        if index not in skip:
            out.append((index, count, index in counts))
        index += count
    return out


def spliced(
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    parts: Sequence[PersonalPart],
    skip: frozenset[int] = frozenset(),
) -> list[Path]:
    """The files that make the customer's video, in order: shared segments and personal parts."""
    by_first = {p.first: p for p in parts}
    return [
        by_first[first].path if is_part else segment_paths[first]
        for first, _, is_part in layout(version, [(p.first, p.count) for p in parts], skip)
    ]


def touched_segments(
    version: TemplateVersion, windows: Sequence[tuple[int, int]], skip: frozenset[int] = frozenset()
) -> list[Segment]:
    """The kept segments whose frames intersect any ``[first, stop)`` frame window, in time order."""
    return [
        s
        for s in version.segments
        if s.index not in skip
        and any(first < s.first_frame + s.frames and s.first_frame < stop for first, stop in windows)
    ]


def skipped_segments(plan: RenderPlan, version: TemplateVersion) -> frozenset[int]:
    """The segments of the plan's skipped sections; their boundaries must be segment cuts."""
    starts = {s.first_frame for s in version.segments} | {version.frames}
    skip: set[int] = set()
    for section in plan.skipped:
        first, stop = frame_window(section.start, section.end, version.fps)
        stop = min(stop, version.frames)
        if first >= stop:
            continue
        if first not in starts or stop not in starts:
            raise SceneError(
                f"section {section.name!r} ({section.start:g}-{section.end:g} s) does not start and "
                f"end on segment cuts of template version {version.hash}: ingest it with the "
                f"scene's section boundaries as cuts"
            )
        skip |= {s.index for s in version.segments if first <= s.first_frame < stop}
    if len(skip) == len(version.segments):
        raise DataError(
            f"sections {', '.join(repr(s.name) for s in plan.skipped)} skip the whole video", field="sections"
        )
    return frozenset(skip)


def kept_frames(version: TemplateVersion, skip: frozenset[int]) -> int:
    """Frames in the customer's video."""
    return sum(s.frames for s in version.segments if s.index not in skip)


def gaps(version: TemplateVersion, skip: frozenset[int]) -> list[tuple[int, int]]:
    """Each run of skipped segments followed by kept video, as ``(frame after the run, frames skipped)``."""
    out, run = [], 0
    for segment in version.segments:
        if segment.index in skip:
            run += segment.frames
        elif run:
            out.append((segment.first_frame, run))
            run = 0
    return out


def closing_gaps(version: TemplateVersion, skip: frozenset[int], origin: Fraction) -> dict[str, str]:
    """``setts`` bitstream filters moving every packet after a skipped run earlier by the run's length.

    ``origin`` is frame 0's timestamp. A packet is "after" a gap when it is later
    than half a frame before the gap's first kept frame; no packet lies inside
    a gap, so the test is exact. The expressions avoid commas (the filter-list
    separator) by testing with ``sgn``.
    """
    cuts = [
        (float(origin + (after - Fraction(1, 2)) / version.fps), float(frames / version.fps))
        for after, frames in gaps(version, skip)
    ]

    def shift(ts: str) -> str:
        terms = [f"(1+sgn({ts}*TB-{at:.6f}))/2*{seconds:.6f}" for at, seconds in cuts]
        return f"{ts}-({'+'.join(terms) or '0'})/TB"

    bsf = f"setts=pts={shift('PTS')}:dts={shift('DTS')}"
    # MPEG-TS carries no packet durations; across a gap the demuxer leaves the last video packet's
    # at 0, and an MP4 ending on a zero-length sample loses that frame to its edit list. The
    # mezzanine is constant-rate: every video packet lasts one frame.
    return {"bsf:v": f"{bsf}:duration={float(1 / version.fps):.9f}/TB", "bsf:a": bsf}


def part_spans(touched: Sequence[Segment], max_len: int = MAX_PART_SEGMENTS) -> list[list[Segment]]:
    """Runs of consecutive touched segments, cut to at most ``max_len`` each.

    The first part is a single segment, so a viewer waiting on demand gets the
    first personalized segment after one segment's encode.
    """
    spans: list[list[Segment]] = []
    for segment in touched:
        last = spans[-1] if spans else None
        limit = 1 if len(spans) == 1 else max_len
        if last and last[-1].index + 1 == segment.index and len(last) < limit:
            last.append(segment)
        else:
            spans.append([segment])
    return spans


def _compile(stream, ffmpeg_exe: str) -> list[str]:
    args = stream.compile(cmd=ffmpeg_exe)
    return [args[0], *_GLOBAL, *args[1:]]


def _encoder(version: TemplateVersion) -> dict[str, str]:
    args = x264_args(version.options.preset, version.options.crf, version.segment_frames)
    return {k.lstrip("-"): v for k, v in zip(args[::2], args[1::2])}


def planned_parts(plan: RenderPlan, version: TemplateVersion) -> list[tuple[int, int]]:
    """``(first segment, count)`` of each part ``render_plan`` will encode; nothing is written."""
    windows = [frame_window(o.start, o.end, version.fps) for o in (*plan.personal_overlays, *plan.clips)]
    touched = touched_segments(
        version, [(first, min(stop, version.frames)) for first, stop in windows], skipped_segments(plan, version)
    )
    return [(span[0].index, len(span)) for span in part_spans(touched)]


def part_args(
    version: TemplateVersion,
    span: Sequence[Segment],
    paths: Sequence[Path],
    overlays: Sequence[PlacedOverlay],
    out: Path,
    *,
    ffmpeg_exe: str,
    clips: Sequence[PlacedClip] = (),
    origin: Fraction = Fraction(0),
) -> list[str]:
    """Re-encode consecutive mezzanine segments with their overlays into one TS file.

    Same encoder settings as the mezzanine, input timestamps kept (``-copyts``
    and a 90 kHz encoder time base) and the audio copied, so the part splices
    in place of the segments it replaces. ``origin`` is the timestamp of the
    span's first frame (clips are stamped from it).
    """
    first = span[0].first_frame
    frames = sum(s.frames for s in span)
    base = ffmpeg.input(concat_source(paths), copyts=None)
    video = draw_clips(base.video, clips, fps=version.fps, offset=first, frames=frames, origin=origin)
    video = overlay_chain(video, [o for o in overlays if o.touches(first, frames)], first)
    stream = ffmpeg.output(
        video,
        base.audio,
        str(out),
        **_encoder(version),
        **{"enc_time_base:v": "1/90000", "c:a": "copy", "copyts": None, "f": "mpegts", "muxdelay": 0, "muxpreload": 0},
    )
    return _compile(stream, ffmpeg_exe)


def concat_source(paths: Sequence[Path]) -> str:
    """MPEG-TS segments with continuous timestamps concatenate byte for byte."""
    for path in paths:
        if "|" in str(path):
            raise ValueError(f"segment path {path} contains '|'")
    return "concat:" + "|".join(str(p) for p in paths)


def mp4_args(paths: Sequence[Path], out: Path, *, ffmpeg_exe: str, retime: dict[str, str] | None = None) -> list[str]:
    """Splice segments into one MP4, stream copy, moov first; ``retime`` (``closing_gaps``)
    closes the timestamp gaps skipped sections leave."""
    if retime is None:
        stream = ffmpeg.input(concat_source(paths)).output(str(out), c="copy", map=0, movflags="+faststart")
    else:
        stream = ffmpeg.input(concat_source(paths), copyts=None).output(
            str(out), c="copy", map=0, movflags="+faststart", copyts=None, **retime
        )
    return _compile(stream, ffmpeg_exe)


def splice_args(
    version: TemplateVersion, segment_paths: Sequence[Path], outputs: EngineOutputs, out: Path, *, ffmpeg_exe: str
) -> list[str]:
    """The customer's MP4 from the shared segments and ``outputs.parts``, skipped sections left out."""
    retime = closing_gaps(version, outputs.skip, outputs.origin) if gaps(version, outputs.skip) else None
    return mp4_args(
        spliced(version, segment_paths, outputs.parts, outputs.skip), out, ffmpeg_exe=ffmpeg_exe, retime=retime
    )


def output_duration(plan: RenderPlan, version: TemplateVersion) -> float:
    """Seconds in the customer's video: the template's, less its skipped sections."""
    return float(kept_frames(version, skipped_segments(plan, version)) / version.fps)


def full_args(
    version: TemplateVersion,
    paths: Sequence[Path],
    overlays: Sequence[PlacedOverlay],
    out: Path,
    *,
    ffmpeg_exe: str,
    clips: Sequence[PlacedClip] = (),
    origin: Fraction = Fraction(0),
    skip: frozenset[int] = frozenset(),
) -> list[str]:
    """One filter graph over the whole mezzanine (the ``full`` engine).

    With clips or skipped sections the input keeps its timestamps (``-copyts``,
    ``origin`` = frame 0's); skipped frames are dropped after drawing, and the
    audio comes from the kept segments only.
    """
    if not clips and not skip:
        base = ffmpeg.input(concat_source(paths))
        video = overlay_chain(base.video, overlays)
        stream = ffmpeg.output(
            video, base.audio, str(out), **_encoder(version), **{"c:a": "copy", "movflags": "+faststart"}
        )
        return _compile(stream, ffmpeg_exe)
    base = ffmpeg.input(concat_source(paths), copyts=None)
    video = draw_clips(base.video, clips, fps=version.fps, offset=0, frames=version.frames, origin=origin)
    video = overlay_chain(video, overlays)
    audio = base.audio
    options = {
        "c:a": "copy",
        "movflags": "+faststart",
        "copyts": None,
        "enc_time_base:v": "1/90000",
        "fps_mode": "passthrough",
    }
    if skip:
        dropped = "+".join(
            f"between(n,{s.first_frame},{s.first_frame + s.frames - 1})" for s in version.segments if s.index in skip
        )
        video = video.filter("select", f"not({dropped})")
        audio = ffmpeg.input(concat_source([p for i, p in enumerate(paths) if i not in skip]), copyts=None).audio
        options.update(closing_gaps(version, skip, origin))
    return _compile(ffmpeg.output(video, audio, str(out), **_encoder(version), **options), ffmpeg_exe)


def poster_args(source: Path, frame: int, out: Path, *, ffmpeg_exe: str) -> list[str]:
    """Frame number ``frame`` of ``source`` (counted from its first frame) as a JPEG."""
    stream = (
        ffmpeg.input(str(source))
        .video.filter("select", f"eq(n,{frame})")
        .output(str(out), vframes=1, **{"q:v": 3, "update": 1, "fps_mode": "passthrough"})
    )
    return _compile(stream, ffmpeg_exe)


def render_plan(
    plan: RenderPlan,
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    workdir: Path,
    *,
    ffmpeg_exe: str,
    engine: str = "segments",
    mp4: bool = True,
    timeout: float = 600.0,
    workers: int | None = None,
    on_part: Callable[[PersonalPart], None] | None = None,
) -> EngineOutputs:
    """Render ``plan`` over ``version``; ``segment_paths`` are its local segment files.

    ``on_part`` is called with each personal part as soon as it is encoded
    (earliest first), which is what on-demand streaming waits for.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    overlays = place(plan.personal_overlays, version.fps, version.frames, workdir)
    clips = place_clips(plan.clips, version.fps, version.frames)
    skip = skipped_segments(plan, version)
    origin = first_time(segment_paths[0]) if clips or skip else Fraction(0)
    outputs = EngineOutputs(poster=workdir / "poster.jpg", skip=skip, origin=origin)
    if engine == "full":
        outputs.video = workdir / "video.mp4"
        run_ffmpeg(
            full_args(
                version,
                segment_paths,
                overlays,
                outputs.video,
                ffmpeg_exe=ffmpeg_exe,
                clips=clips,
                origin=origin,
                skip=skip,
            ),
            timeout=timeout,
        )
    else:
        outputs.parts = _encode_parts(
            version,
            segment_paths,
            overlays,
            workdir,
            ffmpeg_exe=ffmpeg_exe,
            timeout=timeout,
            workers=workers,
            on_part=on_part,
            clips=clips,
            origin=origin,
            skip=skip,
        )
        if mp4:
            outputs.video = workdir / "video.mp4"
            run_ffmpeg(
                splice_args(version, segment_paths, outputs, outputs.video, ffmpeg_exe=ffmpeg_exe), timeout=timeout
            )
    _poster(plan, version, segment_paths, outputs, ffmpeg_exe=ffmpeg_exe, timeout=timeout)
    if outputs.video is not None:
        outputs.info = probe(outputs.video)
    return outputs


def _encode_parts(
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    overlays: Sequence[PlacedOverlay],
    workdir: Path,
    *,
    ffmpeg_exe: str,
    timeout: float,
    workers: int | None,
    on_part: Callable[[PersonalPart], None] | None,
    clips: Sequence[PlacedClip] = (),
    origin: Fraction = Fraction(0),
    skip: frozenset[int] = frozenset(),
) -> list[PersonalPart]:
    windows = [(o.first, o.stop) for o in (*overlays, *clips)]
    spans = part_spans(touched_segments(version, windows, skip))

    def encode(span: list[Segment]) -> PersonalPart:
        out = workdir / part_name(span[0].index)
        paths = [segment_paths[s.index] for s in span]
        at = origin + Fraction(span[0].first_frame) / version.fps
        run_ffmpeg(
            part_args(version, span, paths, overlays, out, ffmpeg_exe=ffmpeg_exe, clips=clips, origin=at),
            timeout=timeout,
        )
        return PersonalPart(span[0].index, len(span), out)

    parts: list[PersonalPart] = []
    if not spans:
        return parts
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        for part in pool.map(encode, spans):  # yields in time order
            parts.append(part)
            if on_part is not None:
                on_part(part)
    return parts


def _locate(
    frame: int, version: TemplateVersion, segment_paths: Sequence[Path], parts: Sequence[PersonalPart]
) -> tuple[Path, int]:
    """The file holding template frame ``frame``, and the frame's number inside it."""
    segment = next(s for s in version.segments if s.first_frame <= frame < s.first_frame + s.frames)
    for part in parts:
        if part.first <= segment.index < part.first + part.count:
            return part.path, frame - version.segments[part.first].first_frame
    return segment_paths[segment.index], frame - segment.first_frame


def poster_frame(plan: RenderPlan, version: TemplateVersion, skip: frozenset[int]) -> int:
    """The template frame of the poster: the scripted one, or the first kept frame after a skipped section."""
    frame = min(version.frames - 1, max(0, round(plan.poster_at * version.fps)))
    kept = [s for s in version.segments if s.index not in skip]
    later = [s for s in kept if s.first_frame + s.frames > frame]
    if later:
        return max(frame, later[0].first_frame)
    return kept[-1].first_frame + kept[-1].frames - 1


def _poster(
    plan: RenderPlan,
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    outputs: EngineOutputs,
    *,
    ffmpeg_exe: str,
    timeout: float,
) -> None:
    frame = poster_frame(plan, version, outputs.skip)
    if outputs.parts or outputs.video is None:  # decode one segment or part, not the whole video
        source, local = _locate(frame, version, segment_paths, outputs.parts)
    else:
        source, local = (
            outputs.video,
            frame - sum(s.frames for s in version.segments if s.index in outputs.skip and s.first_frame < frame),
        )
    run_ffmpeg(poster_args(source, local, outputs.poster, ffmpeg_exe=ffmpeg_exe), timeout=timeout)
