"""Layer animations: ffmpeg expressions over the frame number, and the same math in Python.

An animation lives inside its layer's frame window ``[first, stop)``: the
``in`` motion runs over the window's first frames, the ``out`` motion over its
last ones, so the segments a layer touches do not change. Engines never run
Python per frame: ``overlays.overlay_chain`` turns a ``Motion`` into
expressions of ``n`` (the chain's frame counter) with the same offset the
enable window uses, so the segments and full engines draw the same frames.
``state`` is the per-frame value in plain Python, for the moviepy preview.

The typewriter reveal order is computed here once per overlay: every glyph
pixel of the rasterized text gets the rank of the glyph it belongs to
(reading order), and a frame shows the glyphs whose rank its count reached.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image, ImageColor

EASINGS = ("linear", "ease_in", "ease_out", "ease_in_out")
MAX_STEPS = 255  # ranks travel in one 8-bit plane


@dataclass(frozen=True)
class Motion:
    """One entrance or exit: ``effect`` over ``duration`` seconds."""

    effect: str  # fade | slide | pop | typewriter
    duration: float
    easing: str = "ease_out"
    edge: str = "left"  # slide only


@dataclass(frozen=True)
class Animation:
    """A layer's entrance and exit, plus the typewriter reveal map (an RGBA PNG, rank in every channel)."""

    enter: Motion | None = None
    exit: Motion | None = None
    ranks: bytes | None = field(default=None, repr=False)
    steps: int = 0
    background: tuple[int, int, int, int] = (0, 0, 0, 0)  # what a not-yet-typed glyph pixel shows

    def effects(self) -> set[str]:
        return {m.effect for m in (self.enter, self.exit) if m is not None}

    def key(self) -> str:
        """A stable digest of everything that decides the animated pixels."""
        data: list[Any] = [asdict(m) if m else None for m in (self.enter, self.exit)]
        data += [self.steps, list(self.background), hashlib.sha256(self.ranks or b"").hexdigest()]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def ease(name: str, u: float) -> float:
    """The eased amount for progress ``u`` in [0, 1] (cubic curves)."""
    u = min(1.0, max(0.0, u))
    if name == "ease_in":
        return u**3
    if name == "ease_out":
        return 1 - (1 - u) ** 3
    if name == "ease_in_out":
        return 4 * u**3 if u < 0.5 else 1 - (2 - 2 * u) ** 3 / 2
    return u


def ease_expr(name: str, u: str) -> str:
    """``ease`` as an ffmpeg expression of the expression ``u`` (already clipped to [0, 1])."""
    if name == "ease_in":
        return f"pow({u},3)"
    if name == "ease_out":
        return f"(1-pow(1-{u},3))"
    if name == "ease_in_out":
        return f"if(lt({u},0.5),4*pow({u},3),1-pow(2-2*{u},3)/2)"
    return u


def motion_frames(motion: Motion, fps: Fraction) -> int:
    return max(1, round(Fraction(motion.duration).limit_denominator(10_000) * fps))


@dataclass(frozen=True)
class Timing:
    """Where the motions sit in frames: ``first``/``stop`` are template frames, ``offset`` the
    template frame the chain's ``n = 0`` stands for."""

    first: int
    stop: int
    fps: Fraction
    offset: int = 0

    def progress(self, motion: Motion, entering: bool, frame: int) -> float:
        """The eased amount shown at template ``frame``: 0 = hidden, 1 = in place."""
        frames = motion_frames(motion, self.fps)
        u = (frame - self.first) / frames if entering else (self.stop - 1 - frame) / frames
        return ease(motion.easing, u)

    def progress_expr(self, motion: Motion, entering: bool, n: str = "n") -> str:
        frames = motion_frames(motion, self.fps)
        first, last = self.first - self.offset, self.stop - 1 - self.offset
        u = f"({n}-{first})/{frames}" if entering else f"({last}-{n})/{frames}"
        return ease_expr(motion.easing, f"clip({u},0,1)")


@dataclass(frozen=True)
class State:
    """What one frame shows: opacity, scale, slide offset and how many glyphs are typed."""

    opacity: float = 1.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    typed: int | None = None


def state(
    animation: Animation, timing: Timing, frame: int, box: tuple[int, int, int, int], size: tuple[int, int]
) -> State:
    """The Python twin of ``expressions``: the preview draws with this."""
    opacity, scale, dx, dy, typed = 1.0, 1.0, 0.0, 0.0, None
    for motion, entering in _motions(animation):
        a = timing.progress(motion, entering, frame)
        if motion.effect == "fade":
            opacity *= a
        elif motion.effect == "pop":
            scale *= a
        elif motion.effect == "typewriter":
            count = math.floor(a * animation.steps + 1e-6)
            typed = count if typed is None else min(typed, count)
        else:
            ddx, ddy = _slide_distance(motion.edge, box, size)
            dx, dy = dx + ddx * (1 - a), dy + ddy * (1 - a)
    return State(opacity, scale, dx, dy, typed)


@dataclass(frozen=True)
class Expressions:
    """ffmpeg expressions: alpha factor (blend), scale factor, x/y offsets (overlay), glyphs typed."""

    opacity: str | None
    scale: str | None
    dx: str
    dy: str
    typed: str | None


def expressions(animation: Animation, timing: Timing, box: tuple[int, int, int, int], n: str = "n") -> Expressions:
    """The expressions the overlay chain evaluates per frame (``n`` = the filter's frame counter).

    Slide distances use the overlay filter's ``W``/``H`` (the video's size).
    """
    opacity, scale, typed = [], [], []
    dx, dy = ["0"], ["0"]
    for motion, entering in _motions(animation):
        a = timing.progress_expr(motion, entering, n)
        if motion.effect == "fade":
            opacity.append(a)
        elif motion.effect == "pop":
            scale.append(a)
        elif motion.effect == "typewriter":
            typed.append(f"floor({a}*{animation.steps}+0.000001)")
        else:
            ddx, ddy = _slide_distance_expr(motion.edge, box)
            dx.append(f"({ddx})*(1-{a})")
            dy.append(f"({ddy})*(1-{a})")
    return Expressions(
        opacity="*".join(opacity) or None,
        scale="*".join(scale) or None,
        dx="+".join(dx),
        dy="+".join(dy),
        typed=(f"min({typed[0]},{typed[1]})" if len(typed) == 2 else typed[0]) if typed else None,
    )


def _motions(animation: Animation) -> list[tuple[Motion, bool]]:
    return [(m, entering) for m, entering in ((animation.enter, True), (animation.exit, False)) if m]


def _slide_distance(edge: str, box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int]:
    """How far from its place the layer starts (or ends): just outside the video's ``edge``."""
    x, y, w, h = box
    width, height = size
    if edge == "left":
        return -(x + w), 0
    if edge == "right":
        return width - x, 0
    if edge == "top":
        return 0, -(y + h)
    return 0, height - y


def _slide_distance_expr(edge: str, box: tuple[int, int, int, int]) -> tuple[str, str]:
    """``_slide_distance`` as ffmpeg expressions of the overlay filter's ``W`` and ``H`` (the video's size)."""
    x, y, w, h = box
    if edge == "left":
        return str(-(x + w)), "0"
    if edge == "right":
        return f"(W-{x})", "0"
    if edge == "top":
        return "0", str(-(y + h))
    return "0", f"(H-{y})"


def even(value: float) -> int:
    """Where ffmpeg's overlay puts a position on 4:2:0 video: truncated, then down to even."""
    return int(value) & ~1


def scaled_size(w: int, h: int, scale: float) -> tuple[int, int]:
    return max(1, math.floor(w * scale)), max(1, math.floor(h * scale))


def reveal_ranks(png: bytes, background: str | None) -> tuple[bytes, int]:
    """The typewriter order of a rasterized text: each glyph pixel ranked by its glyph.

    Lines are runs of rows with ink, glyphs runs of columns with ink inside a
    line (so spaces take no time); pixels that are not ink (transparent, or the
    box ``background``) get rank 0 and always show. More than ``MAX_STEPS``
    glyphs share ranks evenly.
    """
    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGBA"), dtype=np.int16)
    alpha = pixels[..., 3] > 0
    if background:
        ink = alpha & (np.abs(pixels - np.array(background_rgba(background))).max(axis=2) > 0)
    else:
        ink = alpha
    glyphs: list[tuple[slice, slice]] = []
    for rows in _runs(ink.any(axis=1)):
        for cols in _runs(ink[rows].any(axis=0)):
            glyphs.append((rows, cols))
    steps = min(len(glyphs), MAX_STEPS)
    ranks = np.zeros(ink.shape, dtype=np.uint8)
    for index, (rows, cols) in enumerate(glyphs):
        region = ranks[rows, cols]
        region[ink[rows, cols]] = index * steps // len(glyphs) + 1
    out = io.BytesIO()
    Image.fromarray(np.repeat(ranks[..., None], 4, axis=2)).save(out, format="PNG")
    return out.getvalue(), steps


def _runs(mask: np.ndarray) -> list[slice]:
    """Maximal runs of True in a 1-D mask, as slices."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def background_rgba(color: str | None) -> tuple[int, int, int, int]:
    """``#RRGGBB`` or ``#RRGGBBAA`` as RGBA (opaque without an alpha); no color is transparent."""
    if not color:
        return (0, 0, 0, 0)
    rgb = ImageColor.getrgb(color)
    return (rgb[0], rgb[1], rgb[2], rgb[3] if len(rgb) == 4 else 255)
