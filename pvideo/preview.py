"""Still previews of one frame, composited by moviepy: an independent reference renderer.

The production engines draw overlays with one ffmpeg filter graph over an
ingested mezzanine; this module takes the other road (moviepy decodes the raw
template, ``ImageClip`` overlays placed at their boxes and times), so tests can
compare the two and marketing can look at a frame without rendering a video.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
from PIL import Image

from pvideo.errors import DataError
from pvideo.plan import RenderPlan


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
            first = math.ceil(Fraction(overlay.start).limit_denominator(10_000) * fps)
            stop = math.ceil(Fraction(overlay.end).limit_denominator(10_000) * fps)
            if not first <= index < stop:
                continue
            pixels = np.array(Image.open(io.BytesIO(overlay.png)).convert("RGBA"))
            clips.append(ImageClip(pixels, transparent=True).with_position((overlay.x, overlay.y))
                         .with_start(0).with_duration(base.duration))
        frame = CompositeVideoClip(clips, size=base.size).get_frame(t + 0.5 / float(fps))
    return Image.fromarray(np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3]))
