"""The plan model: what ``compile_plan`` hands the renderer, frozen and hashable.

These dataclasses have a module of their own so the renderer can read a plan without
importing the compiler (and the compiler never needs the renderer).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pvideo.plan.animation import Animation


@dataclass(frozen=True)
class Overlay:
    """A rasterized layer: an RGBA PNG placed at (x, y) while ``start <= t < end``.

    ``static`` overlays look the same for every customer (no template markup,
    bundled images); engines bake them into the template version once.
    """

    layer: str
    png: bytes = field(repr=False)
    x: int
    y: int
    w: int
    h: int
    start: float
    end: float
    static: bool = False
    animation: Animation | None = None


@dataclass(frozen=True)
class Hotspot:
    """A clickable CTA on the landing page, in video pixels and seconds."""

    id: str
    label: str
    href: str
    x: int
    y: int
    w: int
    h: int
    start: float
    end: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VideoClip:
    """An overlay clip scaled into its box (``fit``) from ``start`` to ``end`` (template seconds)."""

    layer: str
    src: Path
    digest: str
    x: int
    y: int
    w: int
    h: int
    start: float
    end: float
    fit: str = "contain"
    loop: bool = False
    animation: Animation | None = None


@dataclass(frozen=True)
class AudioTrack:
    """A background track mixed in from ``start`` (to ``end``, or its own end), template seconds."""

    layer: str
    src: Path
    digest: str
    start: float
    end: float | None
    volume: float
    template_volume: float


@dataclass(frozen=True)
class PlanSection:
    """A conditional template range and whether this row keeps it."""

    name: str
    start: float
    end: float
    kept: bool


@dataclass(frozen=True)
class RenderPlan:
    scene: str
    customer_id: str
    template: Path
    poster_at: float
    overlays: tuple[Overlay, ...]
    hotspots: tuple[Hotspot, ...]
    clips: tuple[VideoClip, ...] = ()
    audio: tuple[AudioTrack, ...] = ()
    sections: tuple[PlanSection, ...] = ()
    # where the scene's personal windows start and end (template seconds, the same for every row):
    # the template version places keyframes and cuts segments there
    keyframes: tuple[float, ...] = ()

    @property
    def personal_overlays(self) -> tuple[Overlay, ...]:
        return tuple(o for o in self.overlays if not o.static)

    @property
    def static_overlays(self) -> tuple[Overlay, ...]:
        return tuple(o for o in self.overlays if o.static)

    @property
    def skipped(self) -> tuple[PlanSection, ...]:
        return tuple(s for s in self.sections if not s.kept)

    @property
    def cuts(self) -> tuple[float, ...]:
        """Every section boundary (kept or not) and personal window bound: the template version
        cuts segments there."""
        return tuple(sorted({*(t for s in self.sections for t in (s.start, s.end)), *self.keyframes}))

    def output_time(self, t: float) -> float:
        """Template second ``t`` on the customer's timeline (skipped sections removed before it)."""
        return t - sum(max(0.0, min(t, s.end) - s.start) for s in self.skipped)

    def kept(self, duration: float) -> list[tuple[float, float]]:
        """The template ranges the customer's video keeps, in order, for a ``duration``-second template."""
        ranges, at = [], 0.0
        for s in sorted(self.skipped, key=lambda s: s.start):
            if s.start > at:
                ranges.append((at, min(s.start, duration)))
            at = max(at, s.end)
        if at < duration:
            ranges.append((at, duration))
        return [r for r in ranges if r[1] > r[0]]

    def digest(self) -> str:
        """A content hash of everything that decides the output pixels."""
        h = hashlib.sha256()
        h.update(json.dumps([self.scene, str(self.template), self.poster_at]).encode())
        if self.clips or self.sections:  # absent from older plans: their digests stay the same
            clips = [
                [
                    c.digest,
                    c.x,
                    c.y,
                    c.w,
                    c.h,
                    c.start,
                    c.end,
                    c.fit,
                    c.loop,
                    c.animation.key() if c.animation is not None else None,
                ]
                for c in self.clips
            ]
            h.update(json.dumps([clips, [asdict(s) for s in self.sections]]).encode())
        for o in self.overlays:
            h.update(json.dumps([o.x, o.y, o.w, o.h, o.start, o.end, o.static]).encode())
            h.update(hashlib.sha256(o.png).digest())
            if o.animation is not None:
                h.update(o.animation.key().encode())
        return h.hexdigest()
