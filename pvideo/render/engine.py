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
(``setts``), the HLS playlist marks a discontinuity. The same rewrite starts
the MP4 at its first frame and signals the AAC priming the mezzanine's
MPEG-TS cannot (``retiming``), so the audio starts with the video.

Which segments become parts is planned in ``pvideo.render.parts``; argument
lists are built here by pure functions, and ``render_plan`` runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg

from pvideo.plan.model import RenderPlan
from pvideo.render.clips import PlacedClip, draw_clips, first_time, place_clips
from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg
from pvideo.render.ingest import Segment, TemplateVersion, concat_source, x264_args
from pvideo.render.joint import JointChain, joinable, run_joint
from pvideo.render.overlays import PlacedOverlay, overlay_chain, place
from pvideo.render.parts import (
    POSTER_OPTIONS,
    PersonalPart,
    gaps,
    locate,
    part_name,
    part_spans,
    poster_frame,
    skipped_segments,
    spliced,
    touched_segments,
)
from pvideo.render.probe import VideoInfo, probe

ENGINES = ("segments", "full")
# A part's output options besides the encoder's: timestamps kept, audio copied, MPEG-TS.
ENCODE_OPTIONS = {
    "enc_time_base:v": "1/90000",
    "c:a": "copy",
    "copyts": None,
    "f": "mpegts",
    "muxdelay": 0,
    "muxpreload": 0,
}


@dataclass
class EngineOutputs:
    poster: Path
    video: Path | None = None
    info: VideoInfo | None = None
    parts: list[PersonalPart] = field(default_factory=list)
    skip: frozenset[int] = frozenset()  # segments of skipped sections
    origin: Fraction = Fraction(0)  # timestamp of template frame 0 in the segments


def retiming(version: TemplateVersion, skip: frozenset[int], origin: Fraction) -> dict[str, str]:
    """``setts`` bitstream filters that start the MP4 at its first frame, in sync, and close the
    timestamp gaps skipped sections leave.

    ``origin`` is frame 0's timestamp; the mezzanine's audio starts earlier by the
    AAC encoder's priming (see ``pvideo.render.ingest``). Every packet moves
    ``origin`` earlier: the priming lands before 0, where the MP4 muxer signals it
    with an edit list, so players skip it and play the template's first sample
    with the first frame. A packet after a skipped run also moves earlier by the
    run's length: it is "after" when later than half a frame before the gap's
    first kept frame; no packet lies inside a gap, so the test is exact. The last
    audio packet's duration is cut to end with the last frame (AAC frames overrun
    the video by up to 1,023 samples), so the MP4 lasts as long as its video. The
    expressions avoid commas (the filter-list separator) by using ``sgn`` and ``abs``.
    """
    cuts = [
        (float(origin + (after - Fraction(1, 2)) / version.fps), float(frames / version.fps))
        for after, frames in gaps(version, skip)
    ]

    def shift(ts: str) -> str:
        terms = [f"(1+sgn({ts}*TB-{at:.6f}))/2*{seconds:.6f}" for at, seconds in cuts]
        return f"{ts}-({'+'.join([f'{float(origin):.9f}', *terms])})/TB"

    bsf = f"setts=pts={shift('PTS')}:dts={shift('DTS')}"
    # MPEG-TS carries no packet durations; across a gap the demuxer leaves the last video packet's
    # at 0, and an MP4 ending on a zero-length sample loses that frame to its edit list. The
    # mezzanine is constant-rate: every video packet lasts one frame.
    out = {"bsf:v": f"{bsf}:duration={float(1 / version.fps):.9f}/TB"}
    if version.audio:
        last = [s for s in version.segments if s.index not in skip][-1]
        left = f"({float(origin + (last.first_frame + last.frames) / version.fps):.9f}/TB-PTS)"
        out["bsf:a"] = f"{bsf}:duration=(DURATION+{left}-abs(DURATION-{left}))/2"  # min(DURATION, left)
    return out


def encoder_options(version: TemplateVersion, span: Sequence[Segment] = ()) -> dict[str, str]:
    """The mezzanine's encoder settings; for a part (``span``), IDR frames at its segments' starts."""
    if span:
        starts = [s.first_frame - span[0].first_frame for s in span]
        args = x264_args(version.options.preset, version.options.crf, version.segment_frames, starts, grid=False)
    else:
        args = x264_args(version.options.preset, version.options.crf, version.segment_frames)
    return {k.lstrip("-"): v for k, v in zip(args[::2], args[1::2])}


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
        *([base.audio] if version.audio else []),
        str(out),
        **encoder_options(version, span),
        **ENCODE_OPTIONS,
    )
    return ffmpeg_args(stream, ffmpeg_exe)


def mp4_args(paths: Sequence[Path], out: Path, *, ffmpeg_exe: str, retime: dict[str, str] | None = None) -> list[str]:
    """Splice segments into one MP4, stream copy, moov first, retimed by ``retime`` (``retiming``)."""
    if retime is None:
        stream = ffmpeg.input(concat_source(paths)).output(str(out), c="copy", map=0, movflags="+faststart")
    else:
        stream = ffmpeg.input(concat_source(paths), copyts=None).output(
            str(out), c="copy", map=0, movflags="+faststart", copyts=None, **retime
        )
    return ffmpeg_args(stream, ffmpeg_exe)


def splice_args(
    version: TemplateVersion, segment_paths: Sequence[Path], outputs: EngineOutputs, out: Path, *, ffmpeg_exe: str
) -> list[str]:
    """The customer's MP4 from the shared segments and ``outputs.parts``, skipped sections left out."""
    return mp4_args(
        spliced(version, segment_paths, outputs.parts, outputs.skip),
        out,
        ffmpeg_exe=ffmpeg_exe,
        retime=retiming(version, outputs.skip, outputs.origin),
    )


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

    The input keeps its timestamps (``-copyts``, ``origin`` = frame 0's) and the
    output is retimed as the MP4 splice is (``retiming``); skipped frames are
    dropped after drawing, and the audio comes from the kept segments only.
    """
    base = ffmpeg.input(concat_source(paths), copyts=None)
    video = draw_clips(base.video, clips, fps=version.fps, offset=0, frames=version.frames, origin=origin)
    video = overlay_chain(video, overlays)
    audio = [base.audio] if version.audio else []
    if skip:
        dropped = "+".join(
            f"between(n,{s.first_frame},{s.first_frame + s.frames - 1})" for s in version.segments if s.index in skip
        )
        video = video.filter("select", f"not({dropped})")
        if version.audio:
            audio = [ffmpeg.input(concat_source([p for i, p in enumerate(paths) if i not in skip]), copyts=None).audio]
    options = {
        "c:a": "copy",
        "movflags": "+faststart",
        "copyts": None,
        "enc_time_base:v": "1/90000",
        "fps_mode": "passthrough",
        **retiming(version, skip, origin),
    }
    return ffmpeg_args(ffmpeg.output(video, *audio, str(out), **encoder_options(version), **options), ffmpeg_exe)


def poster_args(source: Path, frame: int, out: Path, *, ffmpeg_exe: str) -> list[str]:
    """Frame number ``frame`` of ``source`` (counted from its first frame) as a JPEG."""
    stream = ffmpeg.input(str(source)).video.filter("select", f"eq(n,{frame})").output(str(out), **POSTER_OPTIONS)
    return ffmpeg_args(stream, ffmpeg_exe)


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
    encode_slot: Callable[[int], AbstractContextManager[object]] | None = None,
) -> EngineOutputs:
    """Render ``plan`` over ``version``; ``segment_paths`` are its local segment files.

    ``on_part`` is called with each personal part as soon as it is encoded
    (earliest first), which is what on-demand streaming waits for. ``encode_slot(first segment)``,
    if given, is held around each part's encode (``pvideo.jobs.scheduling`` orders them).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    workdir.mkdir(parents=True, exist_ok=True)
    overlays = place(plan.personal_overlays, version.fps, version.frames, workdir)
    clips = place_clips(plan.clips, version.fps, version.frames)
    skip = skipped_segments(plan, version)
    origin = first_time(segment_paths[0])
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
            encode_slot=encode_slot,
            clips=clips,
            origin=origin,
            skip=skip,
            poster=(poster_frame(plan, version, skip), outputs.poster),
        )
    return finish_outputs(
        plan,
        version,
        segment_paths,
        outputs,
        workdir,
        ffmpeg_exe=ffmpeg_exe,
        mp4=mp4 and engine != "full",
        timeout=timeout,
    )


def finish_outputs(
    plan: RenderPlan,
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    outputs: EngineOutputs,
    workdir: Path,
    *,
    ffmpeg_exe: str,
    mp4: bool,
    timeout: float,
) -> EngineOutputs:
    """After the parts: the spliced MP4 (when ``mp4``), the poster and the probe (``pvideo.render.batch`` too)."""
    if mp4:
        outputs.video = workdir / "video.mp4"
        run_ffmpeg(splice_args(version, segment_paths, outputs, outputs.video, ffmpeg_exe=ffmpeg_exe), timeout=timeout)
    _poster(plan, version, segment_paths, outputs, ffmpeg_exe=ffmpeg_exe, timeout=timeout)
    if outputs.video is not None:
        outputs.info = probe(outputs.video)
    return outputs


def personal_spans(
    version: TemplateVersion,
    overlays: Sequence[PlacedOverlay],
    clips: Sequence[PlacedClip],
    skip: frozenset[int] = frozenset(),
) -> list[list[Segment]]:
    """The runs of segments a customer's placed overlays and clips touch: each becomes a part."""
    windows = [(o.first, o.stop) for o in overlays] + [(c.first, c.stop) for c in clips]
    return part_spans(touched_segments(version, windows, skip))


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
    encode_slot: Callable[[int], AbstractContextManager[object]] | None = None,
    clips: Sequence[PlacedClip] = (),
    origin: Fraction = Fraction(0),
    skip: frozenset[int] = frozenset(),
    poster: tuple[int, Path] | None = None,
) -> list[PersonalPart]:
    spans = personal_spans(version, overlays, clips, skip)
    if on_part is None and encode_slot is None and joinable(spans, overlays, bool(clips)):
        # nothing waits for the parts one by one: one process, one encoder (``pvideo.render.joint``)
        chain = JointChain(overlays, workdir, poster)
        return run_joint(version, spans, segment_paths, [chain], ffmpeg_exe=ffmpeg_exe, timeout=timeout)[0]

    def encode(span: list[Segment]) -> PersonalPart:
        out = workdir / part_name(span[0].index)
        paths = [segment_paths[s.index] for s in span]
        at = origin + Fraction(span[0].first_frame) / version.fps
        with encode_slot(span[0].index) if encode_slot is not None else nullcontext():
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


def _poster(
    plan: RenderPlan,
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    outputs: EngineOutputs,
    *,
    ffmpeg_exe: str,
    timeout: float,
) -> None:
    if outputs.poster.exists():  # drawn by the joint process (``pvideo.render.joint``)
        return
    frame = poster_frame(plan, version, outputs.skip)
    if outputs.parts or outputs.video is None:  # decode one segment or part, not the whole video
        source, local = locate(frame, version, segment_paths, outputs.parts)
    else:
        source, local = (
            outputs.video,
            frame - sum(s.frames for s in version.segments if s.index in outputs.skip and s.first_frame < frame),
        )
    run_ffmpeg(poster_args(source, local, outputs.poster, ffmpeg_exe=ffmpeg_exe), timeout=timeout)
