"""Which files make a customer's video: part planning over a template version, pure.

A personal part re-encodes a run of consecutive template segments that a
personalized layer or clip touches; every other kept segment is shared as it
is, and the segments of skipped sections are left out. Nothing here runs ffmpeg
or writes a file, so the engines (``pvideo.render.engine``), the HLS playlist
(``pvideo.render.hls``) and on-demand streaming plan the same parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pvideo.errors import DataError, SceneError
from pvideo.plan.model import RenderPlan
from pvideo.render.ingest import Segment, TemplateVersion
from pvideo.render.overlays import frame_window

MAX_PART_SEGMENTS = 3


def part_name(first: int) -> str:
    return f"part_{first:05d}.ts"


@dataclass(frozen=True)
class PersonalPart:
    """Re-encoded template segments ``first .. first + count - 1`` in one MPEG-TS file."""

    first: int
    count: int
    path: Path


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


def planned_parts(plan: RenderPlan, version: TemplateVersion) -> list[tuple[int, int]]:
    """``(first segment, count)`` of each part ``render_plan`` will encode; nothing is written."""
    windows = [frame_window(o.start, o.end, version.fps) for o in plan.personal_overlays]
    windows += [frame_window(c.start, c.end, version.fps) for c in plan.clips]
    touched = touched_segments(
        version, [(first, min(stop, version.frames)) for first, stop in windows], skipped_segments(plan, version)
    )
    return [(span[0].index, len(span)) for span in part_spans(touched)]


def output_duration(plan: RenderPlan, version: TemplateVersion) -> float:
    """Seconds in the customer's video: the template's, less its skipped sections."""
    return float(kept_frames(version, skipped_segments(plan, version)) / version.fps)


def locate(
    frame: int, version: TemplateVersion, segment_paths: Sequence[Path], parts: Sequence[PersonalPart]
) -> tuple[Path, int]:
    """The file holding template frame ``frame``, and the frame's number inside it."""
    segment = next(s for s in version.segments if s.first_frame <= frame < s.first_frame + s.frames)
    for part in parts:
        if part.first <= segment.index < part.first + part.count:
            return part.path, frame - version.segments[part.first].first_frame
    return segment_paths[segment.index], frame - segment.first_frame


POSTER_OPTIONS: dict[str, object] = {"vframes": 1, "q:v": 3, "update": 1, "fps_mode": "passthrough"}
"""The poster JPEG's output options, wherever its frame is taken from."""


def poster_frame(plan: RenderPlan, version: TemplateVersion, skip: frozenset[int]) -> int:
    """The template frame of the poster: the scripted one, or the first kept frame after a skipped section."""
    frame = min(version.frames - 1, max(0, round(plan.poster_at * version.fps)))
    kept = [s for s in version.segments if s.index not in skip]
    later = [s for s in kept if s.first_frame + s.frames > frame]
    if later:
        return max(frame, later[0].first_frame)
    return kept[-1].first_frame + kept[-1].frames - 1
