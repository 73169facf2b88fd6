"""Still previews of one frame, composited by moviepy: an independent reference renderer.

The production engines draw overlays with one ffmpeg filter graph over an
ingested mezzanine; this module takes the other road (moviepy decodes the raw
template, ``ImageClip`` overlays placed at their boxes and times, animations
computed per frame in Python by ``animation.state``), so tests can compare the
two and marketing can look at a frame without rendering a video.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
from PIL import Image

from pvideo.animation import Timing, even, scaled_size, state
from pvideo.errors import DataError
from pvideo.overlays import frame_window
from pvideo.plan import Overlay, RenderPlan


def preview_frame(plan: RenderPlan, at: float) -> Image.Image:
    """The RGB frame shown at second ``at`` (the frame whose period contains ``at``)."""
    from moviepy import CompositeVideoClip, ImageClip, VideoFileClip

    with VideoFileClip(str(plan.template), audio=False) as base:
        if not 0 <= at < base.duration:
            raise DataError(f"--at {at:g} s is outside the video (0 to {base.duration:g} s)", field="at")
        fps = Fraction(base.fps).limit_denominator(1001)
        index = math.floor(Fraction(at).limit_denominator(10_000) * fps)
        t = float(index / fps)
        clips = [base]
        for overlay in plan.overlays:
            first, stop = frame_window(overlay.start, overlay.end, fps)
            if not first <= index < stop:
                continue
            pixels, position = _picture(overlay, Timing(first, stop, fps), index, tuple(base.size))
            if pixels is None:
                continue
            clips.append(ImageClip(pixels, transparent=True).with_position(position)
                         .with_start(0).with_duration(base.duration))
        frame = CompositeVideoClip(clips, size=base.size).get_frame(t + 0.5 / float(fps))
    return Image.fromarray(np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3]))


def _picture(overlay: Overlay, timing: Timing, index: int, size: tuple[int, int]):
    """The overlay's RGBA pixels at frame ``index`` and where they go (None when nothing shows)."""
    picture = Image.open(io.BytesIO(overlay.png)).convert("RGBA")
    animation = overlay.animation
    if animation is None:
        return np.array(picture), (overlay.x, overlay.y)
    box = (overlay.x, overlay.y, overlay.w, overlay.h)
    now = state(animation, timing, index, box, size)
    pixels = np.array(picture)
    if now.typed is not None and animation.ranks is not None:
        ranks = np.array(Image.open(io.BytesIO(animation.ranks)).convert("RGBA"))[..., 0]
        pixels[ranks > now.typed] = animation.background
    if now.opacity < 1:
        pixels[..., 3] = np.floor(pixels[..., 3] * now.opacity)
    x, y = overlay.x + now.dx, overlay.y + now.dy
    if now.scale != 1:
        w, h = scaled_size(overlay.w, overlay.h, now.scale)
        pixels = np.array(Image.fromarray(pixels).resize((w, h), Image.Resampling.BICUBIC))
        x, y = x + (overlay.w - w) / 2, y + (overlay.h - h) / 2
    x, y = even(x), even(y)
    if x >= size[0] or y >= size[1] or x + pixels.shape[1] <= 0 or y + pixels.shape[0] <= 0:
        return None, (x, y)
    return pixels, (x, y)
