"""Chapters of a landing-page video: given by the render, or made from the CTA windows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

START_TITLE = "Start"
AFTER_TITLE = "Continue"


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "title": self.title}


MIN_CHAPTER_SECONDS = 1.0
FRAME_SECONDS = 1 / 24  # one frame at the slowest common rate: a window ending closer to the end ends there


def chapters_from_ctas(
    hotspots: Iterable[Mapping[str, Any]], duration: float, *, frame: float = FRAME_SECONDS
) -> list[Chapter]:
    """One chapter per CTA window (titled with its label), with the stretches between them.

    Boundaries are 0, every CTA start and end inside the video, and the end. A
    window ending less than ``frame`` seconds before the end (a typed ``31.3`` on
    a 31.331 s video), or after it (``end: end``), ends at the end. A chapter
    starting where a CTA starts takes that CTA's label; the first one is
    "Start", others "Continue". Chapters shorter than a second are merged into
    their neighbour (see ``merge_short``). No CTAs (or no duration): no chapters.
    """
    if duration <= 0:
        return []
    hotspots = list(hotspots)
    last = round(duration, 3)
    starts: dict[float, str] = {}
    for h in sorted(hotspots, key=lambda h: (float(h["start"]), str(h["id"]))):
        starts.setdefault(round(float(h["start"]), 3), str(h.get("label") or h["id"]))
    if not starts:
        return []
    ends = {round(float(h["end"]), 3) for h in hotspots}
    bounds = sorted(b for b in {0.0, *starts, *ends} if 0 <= b < duration - frame)
    chapters = []
    for i, begin in enumerate(bounds):
        finish = bounds[i + 1] if i + 1 < len(bounds) else last
        title = starts.get(begin) or (START_TITLE if begin == 0 else AFTER_TITLE)
        chapters.append(Chapter(begin, finish, title))
    return merge_short(chapters)


def merge_short(chapters: Iterable[Chapter], minimum: float = MIN_CHAPTER_SECONDS) -> list[Chapter]:
    """Chapters of at least ``minimum`` seconds: a shorter one is folded into the chapter before it
    (the first one into the chapter after it, which then starts at its start). A single chapter
    shorter than ``minimum`` (a very short video) is not emitted."""
    merged: list[Chapter] = []
    carry: float | None = None  # the start of a short first chapter, for the next one
    for chapter in chapters:
        if carry is not None:
            chapter = Chapter(carry, chapter.end, chapter.title)
            carry = None
        if chapter.end - chapter.start >= minimum - 1e-9:
            merged.append(chapter)
        elif merged:
            merged[-1] = Chapter(merged[-1].start, chapter.end, merged[-1].title)
        else:
            carry = chapter.start
    return merged


def vtt_timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def to_webvtt(chapters: Iterable[Chapter]) -> str:
    """A WebVTT chapters track. Titles are cue text: escaped, on one line, without "-->"."""
    lines = ["WEBVTT", ""]
    for n, c in enumerate(chapters, start=1):
        title = " ".join(c.title.replace("-->", "->").split())
        title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [f"chapter-{n}", f"{vtt_timestamp(c.start)} --> {vtt_timestamp(c.end)}", title, ""]
    return "\n".join(lines)
