"""Still previews of one frame, composited by moviepy: an independent reference renderer.

The production engines draw overlays with one ffmpeg filter graph over an
ingested mezzanine; this module takes the other road (moviepy decodes the raw
template, ``ImageClip`` overlays placed at their boxes and times, animations
computed per frame in Python by ``animation.state``), so tests can compare the
two. What marketing sees is the engine's own frame (``pvideo.render.still``);
the pixel budget below bounds both.
"""

from __future__ import annotations

import io
import math
from fractions import Fraction

import numpy as np
from PIL import Image

from pvideo.errors import DataError, SceneError
from pvideo.plan.animation import Timing, even, scaled_size, state
from pvideo.plan.geometry import Frame, place
from pvideo.plan.model import Overlay, RenderPlan, VideoClip
from pvideo.render.clips import fitted
from pvideo.render.overlays import frame_window
from pvideo.scene.layers import AudioLayer
from pvideo.scene.spec import SceneSpec

MAX_BOX_FACTOR = 2  # a layer box may be at most this many frames wide and high


def check_pixel_budget(spec: SceneSpec, frame: tuple[int, int]) -> None:
    """Refuse a layer box more than ``MAX_BOX_FACTOR`` frames wide or high (``SceneError`` naming it).

    A layer is rasterized whole, though at most a frame of it can show: a 12000x12000 box
    is 576 MB per RGBA copy, and compositing makes several."""
    width, height = frame
    for index, layer in enumerate(spec.layers, start=1):
        if isinstance(layer, AudioLayer):
            continue
        box = place(layer.box, Frame(width, height)).pixels  # a box in percent or anchored: placed first
        if box.w > MAX_BOX_FACTOR * width or box.h > MAX_BOX_FACTOR * height:
            ident = f" {layer.id!r}" if layer.id else ""
            raise SceneError(
                f"scene: layer {index} ({layer.type}{ident}), field box: {box.w}x{box.h} is larger than "
                f"{MAX_BOX_FACTOR} times the {width}x{height} video frame"
            )


def preview_frame(plan: RenderPlan, at: float) -> Image.Image:
    """The RGB frame shown at second ``at`` of the customer's video (the frame whose period contains
    ``at``; skipped sections are not on that timeline), drawn like the engines: the template and its
    static layers, then video clips, then the personal layers."""
    from moviepy import CompositeVideoClip, ImageClip, VideoFileClip

    with VideoFileClip(str(plan.template), audio=False) as base:
        kept = plan.kept(base.duration)
        length = sum(end - start for start, end in kept)
        if not 0 <= at < length:
            raise DataError(f"--at {at:g} s is outside the video (0 to {length:g} s)", field="at")
        fps = Fraction(base.fps).limit_denominator(1001)
        index = math.floor(Fraction(_template_time(kept, at)).limit_denominator(10_000) * fps)
        t = float(index / fps)
        layers = [*plan.static_overlays, *[_clip_overlay(c, index, fps) for c in plan.clips], *plan.personal_overlays]
        clips = [base]
        for overlay in layers:
            if overlay is None:
                continue
            first, stop = frame_window(overlay.start, overlay.end, fps)
            if not first <= index < stop:
                continue
            pixels, position = _picture(overlay, Timing(first, stop, fps), index, tuple(base.size))
            if pixels is None:
                continue
            clips.append(
                ImageClip(pixels, transparent=True).with_position(position).with_start(0).with_duration(base.duration)
            )
        frame = CompositeVideoClip(clips, size=base.size).get_frame(t + 0.5 / float(fps))
    return Image.fromarray(np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3]))


def _template_time(kept: list[tuple[float, float]], at: float) -> float:
    """Second ``at`` of the customer's video as a template second."""
    for start, end in kept:
        if at < end - start:
            return start + at
        at -= end - start
    return kept[-1][1]


def _clip_overlay(clip: VideoClip, index: int, fps: Fraction) -> Overlay | None:
    """The clip's picture at template frame ``index`` as an overlay (None outside its window):
    clip frame ``index - first`` at the template's rate, looped or held on its last frame,
    fitted like ``clips.fitted``."""
    from moviepy import VideoFileClip

    first, stop = frame_window(clip.start, clip.end, fps)
    if not first <= index < stop:
        return None
    with VideoFileClip(str(clip.src), audio=False) as source:
        last = source.duration - 1 / source.fps
        when = float((index - first) / fps)
        when = when % source.duration if clip.loop else min(when, last)
        picture = Image.fromarray(np.asarray(source.get_frame(when), dtype=np.uint8)[..., :3]).convert("RGBA")
        scaled, (x, y, w, h) = fitted(picture.size, (clip.x, clip.y, clip.w, clip.h), clip.fit)
    picture = picture.resize(scaled, Image.Resampling.BICUBIC)
    left, top = (scaled[0] - w) // 2, (scaled[1] - h) // 2
    buffer = io.BytesIO()
    picture.crop((left, top, left + w, top + h)).save(buffer, format="PNG")
    return Overlay(clip.layer, buffer.getvalue(), x, y, w, h, clip.start, clip.end, animation=clip.animation)


def _picture(
    overlay: Overlay, timing: Timing, index: int, size: tuple[int, int]
) -> tuple[np.ndarray | None, tuple[int, int]]:
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
    left, top = even(x), even(y)
    if left >= size[0] or top >= size[1] or left + pixels.shape[1] <= 0 or top + pixels.shape[0] <= 0:
        return None, (left, top)
    return pixels, (left, top)
