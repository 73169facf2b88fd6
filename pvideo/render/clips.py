"""Overlay clips (``video`` layers), drawn frame-exact into any run of template frames.

Both engines draw a clip the same way: it is normalized to the template's frame
rate, fitted into its box, repeated (``loop``) or held on its last frame, and
each clip frame gets the timestamp of the template frame it lands on. So the
overlay filter pairs template frame ``k`` with clip frame ``k - first``
whether it encodes the whole video or one part starting mid-clip. The clip's
audio is never mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import ffmpeg
from ffmpeg.nodes import FilterableStream

from pvideo.errors import AssetError
from pvideo.plan.animation import Animation
from pvideo.plan.model import VideoClip
from pvideo.render.overlays import draw_animated, frame_window
from pvideo.render.probe import probe

TICKS = 90_000  # MPEG-TS clock: the time base of mezzanine frames in the filter graph
_LOOP_FRAMES = 32_767  # the loop filter's limit; frames are buffered at box size


@dataclass(frozen=True)
class PlacedClip:
    """A clip with its frame window ``[first, stop)``, scaled to ``scaled`` and cropped to ``w`` x ``h``."""

    src: Path
    x: int
    y: int
    w: int
    h: int
    scaled: tuple[int, int]
    first: int
    stop: int
    loop: bool
    animation: Animation | None = None

    def touches(self, first_frame: int, frames: int) -> bool:
        return self.first < first_frame + frames and first_frame < self.stop


def fitted(
    size: tuple[int, int], box: tuple[int, int, int, int], fit: str
) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """The clip's scaled size and the visible rectangle ``(x, y, w, h)`` in video pixels.

    ``contain`` scales the whole clip inside the box (centered, the template shows
    around it); ``cover`` fills the box and crops the overflow evenly.
    """
    (cw, ch), (x, y, w, h) = size, box
    pick = max if fit == "cover" else min
    ratio = pick(w / cw, h / ch)
    sw, sh = max(1, round(cw * ratio)), max(1, round(ch * ratio))
    if fit == "cover":
        sw, sh = max(sw, w), max(sh, h)
        return (sw, sh), (x, y, w, h)
    sw, sh = min(sw, w), min(sh, h)
    return (sw, sh), (x + (w - sw) // 2, y + (h - sh) // 2, sw, sh)


def place_clips(clips: Sequence[VideoClip], fps: Fraction, frames: int) -> list[PlacedClip]:
    """Frame windows and geometry of each clip; clips with no frame inside the video are dropped."""
    placed = []
    for clip in clips:
        first, stop = frame_window(clip.start, clip.end, fps)
        stop = min(stop, frames)
        if first >= stop:
            continue
        try:
            info = probe(clip.src, count_frames=False)
        except AssetError as exc:
            raise AssetError(f"{clip.layer}: {exc}") from None
        scaled, (x, y, w, h) = fitted((info.width, info.height), (clip.x, clip.y, clip.w, clip.h), clip.fit)
        placed.append(PlacedClip(clip.src, x, y, w, h, scaled, first, stop, clip.loop, clip.animation))
    return placed


def first_time(path: Path) -> Fraction:
    """When the first video frame of ``path`` is shown, in seconds (its timestamp with ``-copyts``)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.time_base is None:
            raise AssetError(f"{path.name} has no video time base")
        for packet in container.demux(stream):
            if packet.pts is not None:
                return packet.pts * stream.time_base
    raise AssetError(f"{path.name} has no video frames")


def clip_frames(clip: PlacedClip, fps: Fraction, skip: int, count: int, at: Fraction) -> FilterableStream:
    """Clip frames ``skip .. skip + count - 1`` (at ``fps``), the first stamped ``at`` seconds.

    Stamps sit a quarter frame early, so a template frame whose timestamp was
    rounded by the container still pairs with its own clip frame.
    """
    rate = f"{fps.numerator}/{fps.denominator}"
    stream = (
        ffmpeg.input(str(clip.src))
        .video.filter("setpts", "PTS-STARTPTS")
        .filter("fps", fps=rate)
        .filter("scale", *clip.scaled, flags="bicubic")
        .filter("setsar", "1")
    )
    if clip.scaled != (clip.w, clip.h):
        stream = stream.filter("crop", clip.w, clip.h, (clip.scaled[0] - clip.w) // 2, (clip.scaled[1] - clip.h) // 2)
    stream = (
        stream.filter("loop", loop=-1, size=_LOOP_FRAMES, start=0)
        if clip.loop
        else stream.filter("tpad", stop=-1, stop_mode="clone")
    )
    per_frame = Fraction(TICKS) / fps
    start = at * TICKS - per_frame / 4
    return (
        stream.filter("trim", start_frame=skip, end_frame=skip + count)
        .filter("settb", f"1/{TICKS}")
        .filter("setpts", f"{float(start):.3f}+N*{float(per_frame):.6f}")
    )


def draw_clips(
    video: FilterableStream, clips: Sequence[PlacedClip], *, fps: Fraction, offset: int, frames: int, origin: Fraction
) -> FilterableStream:
    """Draw ``clips`` on ``video``: ``frames`` template frames from frame ``offset``, the first
    shown at ``origin`` seconds."""
    for clip in clips:
        if not clip.touches(offset, frames):
            continue
        first, stop = max(clip.first, offset), min(clip.stop, offset + frames)
        picture = clip_frames(clip, fps, first - clip.first, stop - first, origin + (first - offset) / fps)
        if clip.animation is not None:
            video = draw_animated(
                video,
                picture,
                clip.animation,
                box=(clip.x, clip.y, clip.w, clip.h),
                window=(clip.first, clip.stop),
                fps=fps,
                offset=offset,
            )
            continue
        video = ffmpeg.overlay(
            video,
            picture,
            x=clip.x,
            y=clip.y,
            eof_action="repeat",
            enable=f"gte(n,{first - offset})*lt(n,{stop - offset})",
        )
    return video
