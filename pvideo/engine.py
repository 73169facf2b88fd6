"""Render engines over an ingested template.

``segments`` (the default) re-encodes only the template segments that a
personalized layer touches, with the mezzanine's exact encoder settings, and
splices them with the untouched segments by plain concatenation; ``full``
re-encodes the whole mezzanine in one filter graph (the fallback and the
benchmark baseline). Both select overlay frames by frame index (``n``), so they
personalize exactly the same frames.

Argument lists are built by pure functions; ``render_plan`` runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg

from pvideo.ffmpeg_run import run_ffmpeg
from pvideo.ingest import Segment, TemplateVersion, x264_args
from pvideo.overlays import PlacedOverlay, frame_window, overlay_chain, place
from pvideo.plan import RenderPlan
from pvideo.probe import VideoInfo, probe

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


def layout(version: TemplateVersion, parts: Sequence[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    """The customer's video in order as ``(first segment, count, is_part)``: each personal
    part ``(first, count)`` stands in for the segments it spans, shared segments for themselves."""
    counts = dict(parts)
    out, index = [], 0
    while index < len(version.segments):
        count = counts.get(index, 1)
        out.append((index, count, index in counts))
        index += count
    return out


def spliced(version: TemplateVersion, segment_paths: Sequence[Path], parts: Sequence[PersonalPart]) -> list[Path]:
    """The files that make the customer's video, in order: shared segments and personal parts."""
    by_first = {p.first: p for p in parts}
    return [by_first[first].path if is_part else segment_paths[first]
            for first, _, is_part in layout(version, [(p.first, p.count) for p in parts])]


def touched_segments(version: TemplateVersion, windows: Sequence[tuple[int, int]]) -> list[Segment]:
    """The segments whose frames intersect any ``[first, stop)`` frame window, in time order."""
    return [s for s in version.segments
            if any(first < s.first_frame + s.frames and s.first_frame < stop for first, stop in windows)]


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
    windows = [frame_window(o.start, o.end, version.fps) for o in plan.personal_overlays]
    touched = touched_segments(version, [(first, min(stop, version.frames)) for first, stop in windows])
    return [(span[0].index, len(span)) for span in part_spans(touched)]


def part_args(version: TemplateVersion, span: Sequence[Segment], paths: Sequence[Path],
              overlays: Sequence[PlacedOverlay], out: Path, *, ffmpeg_exe: str) -> list[str]:
    """Re-encode consecutive mezzanine segments with their overlays into one TS file.

    Same encoder settings as the mezzanine, input timestamps kept (``-copyts``
    and a 90 kHz encoder time base) and the audio copied, so the part splices
    in place of the segments it replaces.
    """
    first = span[0].first_frame
    frames = sum(s.frames for s in span)
    base = ffmpeg.input(concat_source(paths), copyts=None)
    video = overlay_chain(base.video, [o for o in overlays if o.touches(first, frames)], first)
    stream = ffmpeg.output(video, base.audio, str(out), **_encoder(version), **{
        "enc_time_base:v": "1/90000", "c:a": "copy", "copyts": None,
        "f": "mpegts", "muxdelay": 0, "muxpreload": 0})
    return _compile(stream, ffmpeg_exe)


def concat_source(paths: Sequence[Path]) -> str:
    """MPEG-TS segments with continuous timestamps concatenate byte for byte."""
    for path in paths:
        if "|" in str(path):
            raise ValueError(f"segment path {path} contains '|'")
    return "concat:" + "|".join(str(p) for p in paths)


def mp4_args(paths: Sequence[Path], out: Path, *, ffmpeg_exe: str) -> list[str]:
    """Splice segments into one MP4, stream copy, moov first."""
    stream = ffmpeg.input(concat_source(paths)).output(str(out), c="copy", map=0, movflags="+faststart")
    return _compile(stream, ffmpeg_exe)


def full_args(version: TemplateVersion, paths: Sequence[Path], overlays: Sequence[PlacedOverlay], out: Path,
              *, ffmpeg_exe: str) -> list[str]:
    """One filter graph over the whole mezzanine (the ``full`` engine)."""
    base = ffmpeg.input(concat_source(paths))
    video = overlay_chain(base.video, overlays)
    stream = ffmpeg.output(video, base.audio, str(out), **_encoder(version),
                           **{"c:a": "copy", "movflags": "+faststart"})
    return _compile(stream, ffmpeg_exe)


def poster_args(source: Path, frame: int, out: Path, *, ffmpeg_exe: str) -> list[str]:
    """Frame number ``frame`` of ``source`` (counted from its first frame) as a JPEG."""
    stream = (ffmpeg.input(str(source)).video.filter("select", f"eq(n,{frame})")
              .output(str(out), vframes=1, **{"q:v": 3, "update": 1, "fps_mode": "passthrough"}))
    return _compile(stream, ffmpeg_exe)


def render_plan(plan: RenderPlan, version: TemplateVersion, segment_paths: Sequence[Path], workdir: Path, *,
                ffmpeg_exe: str, engine: str = "segments", mp4: bool = True, timeout: float = 600.0,
                workers: int | None = None,
                on_part: Callable[[PersonalPart], None] | None = None) -> EngineOutputs:
    """Render ``plan`` over ``version``; ``segment_paths`` are its local segment files.

    ``on_part`` is called with each personal part as soon as it is encoded
    (earliest first), which is what on-demand streaming waits for.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    overlays = place(plan.personal_overlays, version.fps, version.frames, workdir)
    outputs = EngineOutputs(poster=workdir / "poster.jpg")
    if engine == "full":
        outputs.video = workdir / "video.mp4"
        run_ffmpeg(full_args(version, segment_paths, overlays, outputs.video, ffmpeg_exe=ffmpeg_exe),
                   timeout=timeout)
    else:
        outputs.parts = _encode_parts(version, segment_paths, overlays, workdir, ffmpeg_exe=ffmpeg_exe,
                                      timeout=timeout, workers=workers, on_part=on_part)
        if mp4:
            outputs.video = workdir / "video.mp4"
            run_ffmpeg(mp4_args(spliced(version, segment_paths, outputs.parts), outputs.video,
                                ffmpeg_exe=ffmpeg_exe), timeout=timeout)
    _poster(plan, version, segment_paths, outputs, ffmpeg_exe=ffmpeg_exe, timeout=timeout)
    if outputs.video is not None:
        outputs.info = probe(outputs.video)
    return outputs


def _encode_parts(version: TemplateVersion, segment_paths: Sequence[Path], overlays: Sequence[PlacedOverlay],
                  workdir: Path, *, ffmpeg_exe: str, timeout: float, workers: int | None,
                  on_part: Callable[[PersonalPart], None] | None) -> list[PersonalPart]:
    spans = part_spans(touched_segments(version, [(o.first, o.stop) for o in overlays]))

    def encode(span: list[Segment]) -> PersonalPart:
        out = workdir / part_name(span[0].index)
        paths = [segment_paths[s.index] for s in span]
        run_ffmpeg(part_args(version, span, paths, overlays, out, ffmpeg_exe=ffmpeg_exe), timeout=timeout)
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


def _locate(frame: int, version: TemplateVersion, segment_paths: Sequence[Path],
            parts: Sequence[PersonalPart]) -> tuple[Path, int]:
    """The file holding template frame ``frame``, and the frame's number inside it."""
    segment = next(s for s in version.segments if s.first_frame <= frame < s.first_frame + s.frames)
    for part in parts:
        if part.first <= segment.index < part.first + part.count:
            return part.path, frame - version.segments[part.first].first_frame
    return segment_paths[segment.index], frame - segment.first_frame


def _poster(plan: RenderPlan, version: TemplateVersion, segment_paths: Sequence[Path], outputs: EngineOutputs,
            *, ffmpeg_exe: str, timeout: float) -> None:
    frame = min(version.frames - 1, max(0, round(plan.poster_at * version.fps)))
    if outputs.parts or outputs.video is None:  # decode one segment or part, not the whole video
        source, local = _locate(frame, version, segment_paths, outputs.parts)
    else:
        source, local = outputs.video, frame
    run_ffmpeg(poster_args(source, local, outputs.poster, ffmpeg_exe=ffmpeg_exe), timeout=timeout)
