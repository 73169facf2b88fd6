"""Overlays on disk with frame windows, and the ffmpeg overlay chain that draws them.

Windows are frame numbers (``[first, stop)``, frames whose nominal time
``k / fps`` lies in the layer's ``[start, end)``) and the chain enables each
overlay with ``n``, not ``t``, so every engine personalizes exactly the same
frames whatever the container timestamps are.

Animated overlays (see ``pvideo.plan.animation``) are evaluated per frame by the
filters themselves. A picture needs a clock to fade, pop or type: it is
carried onto a tiny stream split from the video (``blend`` outputs one frame
per video frame and counts them in ``N``), so its frame numbers are the
video's, with the same offset the enable window uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg
from ffmpeg.nodes import FilterableStream

from pvideo.plan.animation import Animation, Timing, expressions
from pvideo.plan.model import Overlay

_CLOCKED = {"fade", "pop", "typewriter"}
# Filter expressions see n (blend: N) counted from 1: the frame was already taken from the link
# when they run; timeline ``enable`` counts from 0.
_N, _BLEND_N = "(n-1)", "(N-1)"


@dataclass(frozen=True)
class PlacedOverlay:
    path: Path
    x: int
    y: int
    first: int
    stop: int
    w: int = 0
    h: int = 0
    animation: Animation | None = None
    fps: Fraction = Fraction(30)
    ranks: Path | None = None

    def touches(self, first_frame: int, frames: int) -> bool:
        return self.first < first_frame + frames and first_frame < self.stop


def frame_window(start: float, end: float, fps: Fraction) -> tuple[int, int]:
    """Frames ``[first, stop)`` whose nominal time ``k / fps`` lies in ``[start, end)``."""
    first = math.ceil(Fraction(start).limit_denominator(10_000) * fps)
    stop = math.ceil(Fraction(end).limit_denominator(10_000) * fps)
    return first, max(first, stop)


def place(
    overlays: Sequence[Overlay], fps: Fraction, frames: int, workdir: Path, prefix: str = "overlay"
) -> list[PlacedOverlay]:
    """Write each overlay's PNG into ``workdir``; drop those with no frame inside the video."""
    placed = []
    for index, overlay in enumerate(overlays):
        first, stop = frame_window(overlay.start, overlay.end, fps)
        stop = min(stop, frames)
        if first >= stop:
            continue
        path = workdir / f"{prefix}-{index:03d}.png"
        path.write_bytes(overlay.png)
        ranks = None
        if overlay.animation is not None and overlay.animation.ranks is not None:
            ranks = workdir / f"{prefix}-{index:03d}-ranks.png"
            ranks.write_bytes(overlay.animation.ranks)
        placed.append(
            PlacedOverlay(path, overlay.x, overlay.y, first, stop, overlay.w, overlay.h, overlay.animation, fps, ranks)
        )
    return placed


def overlay_chain(video: FilterableStream, overlays: Sequence[PlacedOverlay], offset: int = 0) -> FilterableStream:
    """Draw ``overlays`` on ``video`` (an ffmpeg-python stream whose first frame is ``offset``)."""
    for overlay in overlays:
        picture = ffmpeg.input(str(overlay.path), f="image2", c="png")
        if overlay.animation is None:
            video = ffmpeg.overlay(
                video,
                picture,
                x=overlay.x,
                y=overlay.y,
                eof_action="repeat",
                enable=f"gte(n,{overlay.first - offset})*lt(n,{overlay.stop - offset})",
            )
        else:
            video = draw_animated(
                video,
                picture,
                overlay.animation,
                box=(overlay.x, overlay.y, overlay.w, overlay.h),
                window=(overlay.first, overlay.stop),
                fps=overlay.fps,
                offset=offset,
                ranks=overlay.ranks,
            )
    return video.filter("format", "yuv420p")


def draw_animated(
    video: FilterableStream,
    picture: FilterableStream,
    animation: Animation,
    *,
    box: tuple[int, int, int, int],
    window: tuple[int, int],
    fps: Fraction,
    offset: int = 0,
    ranks: Path | None = None,
) -> FilterableStream:
    """Overlay ``picture`` (a PNG input or a clip stream, ``box``-sized) on ``video`` in the
    template frames ``window``, animated: alpha, typing and scale on the picture carried onto
    the video's clock, slide in the overlay's x/y."""
    first, stop = window
    timing = Timing(first, stop, fps, offset)
    x, y, w, h = box
    left, top = str(x), str(y)
    if animation.effects() & _CLOCKED:
        split = video.split()
        video, clock = split[0], split[1]
        canvas = clock.filter("crop", 2, 2, 0, 0).filter("format", "gbrap").filter("pad", w, h, 0, 0)
        clocked = expressions(animation, timing, box, n=_BLEND_N)
        fade = f"*{clocked.opacity}" if clocked.opacity else ""
        typing = clocked.typed is not None and ranks is not None
        picture = ffmpeg.filter(
            [canvas, picture], "blend", c0_opacity=0, c1_opacity=0, c2_opacity=0, c3_expr="B" if typing else f"B{fade}"
        )
        if typing:
            shown = f"lte(B,{clocked.typed})"
            # gbrap planes are G, B, R, A: a glyph not typed yet shows the box background
            hidden = [animation.background[i] for i in (1, 2, 0, 3)]
            exprs = {f"c{i}_expr": f"if({shown},A,{hidden[i]})" for i in range(4)}
            exprs["c3_expr"] += fade
            picture = ffmpeg.filter([picture, ffmpeg.input(str(ranks), f="image2", c="png")], "blend", **exprs)
        scale = expressions(animation, timing, box, n=_N).scale
        if scale is not None:
            picture = picture.filter(
                "scale", w=f"max(1,floor({w}*{scale}))", h=f"max(1,floor({h}*{scale}))", eval="frame"
            )
            left, top = f"{x}+({w}-overlay_w)/2", f"{y}+({h}-overlay_h)/2"
    moves = expressions(animation, timing, box, n=_N)
    return ffmpeg.overlay(
        video,
        picture,
        x=f"{left}+{moves.dx}",
        y=f"{top}+{moves.dy}",
        eval="frame",
        eof_action="repeat",
        enable=f"gte(n,{first - offset})*lt(n,{stop - offset})",
    )
