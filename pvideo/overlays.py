"""Overlays on disk with frame windows, and the ffmpeg overlay chain that draws them.

Windows are frame numbers (``[first, stop)``, frames whose nominal time
``k / fps`` lies in the layer's ``[start, end)``) and the chain enables each
overlay with ``n``, not ``t``, so every engine personalizes exactly the same
frames whatever the container timestamps are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg

from pvideo.plan import Overlay


@dataclass(frozen=True)
class PlacedOverlay:
    path: Path
    x: int
    y: int
    first: int
    stop: int

    def touches(self, first_frame: int, frames: int) -> bool:
        return self.first < first_frame + frames and first_frame < self.stop


def frame_window(start: float, end: float, fps: Fraction) -> tuple[int, int]:
    """Frames ``[first, stop)`` whose nominal time ``k / fps`` lies in ``[start, end)``."""
    first = math.ceil(Fraction(start).limit_denominator(10_000) * fps)
    stop = math.ceil(Fraction(end).limit_denominator(10_000) * fps)
    return first, max(first, stop)


def place(overlays: Sequence[Overlay], fps: Fraction, frames: int, workdir: Path,
          prefix: str = "overlay") -> list[PlacedOverlay]:
    """Write each overlay's PNG into ``workdir``; drop those with no frame inside the video."""
    placed = []
    for index, overlay in enumerate(overlays):
        first, stop = frame_window(overlay.start, overlay.end, fps)
        stop = min(stop, frames)
        if first >= stop:
            continue
        path = workdir / f"{prefix}-{index:03d}.png"
        path.write_bytes(overlay.png)
        placed.append(PlacedOverlay(path, overlay.x, overlay.y, first, stop))
    return placed


def overlay_chain(video, overlays: Sequence[PlacedOverlay], offset: int = 0):
    """Draw ``overlays`` on ``video`` (an ffmpeg-python stream whose first frame is ``offset``)."""
    for overlay in overlays:
        picture = ffmpeg.input(str(overlay.path), f="image2", c="png")
        video = ffmpeg.overlay(video, picture, x=overlay.x, y=overlay.y, eof_action="repeat",
                               enable=f"gte(n,{overlay.first - offset})*lt(n,{overlay.stop - offset})")
    return video.filter("format", "yuv420p")
