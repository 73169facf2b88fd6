"""Caption and CTA/chapter tracks of one customer's video, as WebVTT text.

Captions are the template's own WebVTT file (``captions.src`` under assets/)
merged with the scene's personalized lines, templated over the row. The
track is a ``kind="metadata"`` WebVTT file whose cues carry one JSON object
each (a chapter or a CTA), so a player can read both from one file and the
landing page can list the chapters without JavaScript.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import webvtt

from pvideo.errors import AssetError, DataError
from pvideo.plan.assets import AssetsDir, resolve_asset
from pvideo.render.chapters import Chapter, chapters_from_ctas, vtt_timestamp
from pvideo.scene.conditions import holds
from pvideo.scene.sandbox import render_text
from pvideo.scene.spec import SceneSpec

MAX_CUE_CHARS = 500


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str  # WebVTT cue payload, already escaped
    identifier: str | None = None


def _seconds(ts: Any) -> float:
    return ts.hours * 3600 + ts.minutes * 60 + ts.seconds + ts.milliseconds / 1000


def template_cues(assets_dir: AssetsDir, src: str) -> list[Cue]:
    """The cues of a template's WebVTT file, text kept as written (it may hold cue markup)."""
    path = resolve_asset(assets_dir, src)
    try:
        parsed = webvtt.from_buffer(io.StringIO(path.read_text(encoding="utf-8-sig")))
    except (webvtt.errors.MalformedFileError, UnicodeDecodeError, ValueError) as exc:
        raise AssetError(f"captions {src!r} is not a valid WebVTT file: {exc}") from None
    return [
        Cue(_seconds(c.start_time), _seconds(c.end_time), "\n".join(line for line in c.lines if line.strip()))
        for c in parsed.captions
    ]


def cue_text(text: str) -> str:
    """Customer text as a WebVTT cue payload: escaped, no blank lines, no ``-->``, bounded."""
    text = text[:MAX_CUE_CHARS].replace("-->", "->")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def caption_cues(
    spec: SceneSpec, row: Mapping[str, Any], assets_dir: AssetsDir, *, row_number: int | None = None
) -> list[Cue]:
    """The template's captions and the scene's personalized lines for ``row``, in time order."""
    if spec.captions is None:
        return []
    cues = template_cues(assets_dir, spec.captions.src) if spec.captions.src else []
    for number, line in enumerate(spec.captions.lines, start=1):
        name = f"captions line {number}"
        try:
            if line.when is not None and not holds(line.when, row, field=f"{name} when"):
                continue
            text = cue_text(render_text(line.text, row, field=f"{name} text"))
        except DataError as exc:
            raise DataError(
                exc.reason if exc.reason.startswith(name) else f"{name}: {exc.reason}", row=row_number, field=exc.field
            ) from None
        if text:
            cues.append(Cue(line.start, line.end, text))
    return sorted(cues, key=lambda c: (c.start, c.end))


def scene_chapters(
    spec: SceneSpec, row: Mapping[str, Any], duration: float, *, row_number: int | None = None
) -> list[Chapter]:
    """The scene's chapters (titles templated over the row), each ending where the next starts
    (template seconds; ``duration`` is the template's)."""
    marks = [m for m in spec.chapters if m.start < duration]
    chapters = []
    for number, mark in enumerate(marks, start=1):
        try:
            title = render_text(mark.title, row, field=f"chapter {number} title")
        except DataError as exc:
            raise DataError(exc.reason, row=row_number, field=exc.field) from None
        end = marks[number].start if number < len(marks) else duration
        chapters.append(Chapter(mark.start, end, " ".join(title.split())[:200]))
    return chapters


def retime(cues: Iterable[Cue], to_output: Callable[[float], float]) -> list[Cue]:
    """Cues on the customer's timeline (``RenderPlan.output_time``): those inside a skipped
    section go, later ones move earlier."""
    out = []
    for cue in cues:
        start, end = to_output(cue.start), to_output(cue.end)
        if end > start:
            out.append(Cue(start, end, cue.text, cue.identifier))
    return out


def _json_payload(data: dict[str, Any]) -> str:
    """One line of JSON that is safe as a cue payload (no ``<``, ``>`` or ``&`` characters)."""
    return (
        json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        .replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
    )


def track_cues(chapters: Iterable[Chapter], hotspots: Iterable[Mapping[str, Any]]) -> list[Cue]:
    """Metadata cues: one per chapter, one per CTA window, each a JSON object."""
    cues = [
        Cue(c.start, c.end, _json_payload({"type": "chapter", "title": c.title}), f"chapter-{n}")
        for n, c in enumerate(chapters, start=1)
    ]
    cues += [
        Cue(
            float(h["start"]),
            float(h["end"]),
            _json_payload({"type": "cta", "id": h["id"], "label": h.get("label") or h["id"]}),
            f"cta-{h['id']}",
        )
        for h in hotspots
    ]
    return sorted(cues, key=lambda c: (c.start, c.end))


def outputs_track(
    spec: SceneSpec,
    row: Mapping[str, Any],
    hotspots: Sequence[Mapping[str, Any]],
    template_seconds: float,
    to_output: Callable[[float], float],
    *,
    row_number: int | None = None,
) -> list[Cue]:
    """The scene's chapters, or chapters made from the CTA windows when it names none, plus the CTAs.

    ``hotspots`` are already on the customer's timeline; chapters are moved there by ``to_output``.
    """
    if spec.chapters:
        marks = scene_chapters(spec, row, template_seconds, row_number=row_number)
        chapters = [Chapter(to_output(c.start), to_output(c.end), c.title) for c in marks]
        chapters = [c for c in chapters if c.end > c.start]
    else:
        chapters = chapters_from_ctas(hotspots, to_output(template_seconds))
    return track_cues(chapters, hotspots)


def to_webvtt(cues: Iterable[Cue]) -> str:
    lines = ["WEBVTT", ""]
    for cue in cues:
        if cue.identifier:
            lines.append(cue.identifier)
        lines += [f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}", cue.text, ""]
    return "\n".join(lines)


def read_track(text: str) -> tuple[list[Chapter], list[dict[str, Any]]]:
    """The chapters and CTA windows of a stored metadata track (see ``track_cues``)."""
    chapters, ctas = [], []
    for cue in webvtt.from_buffer(io.StringIO(text)).captions:
        try:
            data = json.loads("\n".join(cue.lines))
        except ValueError:
            continue
        start, end = _seconds(cue.start_time), _seconds(cue.end_time)
        if data.get("type") == "chapter":
            chapters.append(Chapter(start, end, str(data.get("title", ""))))
        elif data.get("type") == "cta":
            ctas.append({"id": data.get("id"), "label": data.get("label"), "start": start, "end": end})
    return chapters, ctas
