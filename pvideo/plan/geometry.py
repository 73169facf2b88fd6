"""Boxes and font sizes given in percent of the frame, or anchored, turned into pixels.

A scene may say ``box: {anchor: bottom-center, y: 5%, w: 90%, h: 12%}`` and
``size: 6%`` so that one scene fits the 16:9, 9:16 and 1:1 versions of its
template. The frame is the template version's: the template's size rounded down
to even numbers, as ingest encodes it. A layer given in pixels only, with no
anchor, is returned unchanged (its box and sizes are exactly what they were),
and the template is then not even opened.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import av

from pvideo.errors import AssetError
from pvideo.scene.layers import Box, CtaLayer, ImageLayer, ShapeLayer, TextLayer, VideoLayer, percent_of

BoxedLayer = TextLayer | ImageLayer | ShapeLayer | CtaLayer | VideoLayer


class Frame(NamedTuple):
    width: int
    height: int


def frame_size(template: Path) -> Frame:
    """The frame the overlays are drawn on (the template's, even, as the version has it)."""
    stat = template.stat()
    return _frame_size(str(template), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _frame_size(path: str, _mtime_ns: int, _size: int) -> Frame:
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise AssetError(f"{Path(path).name} has no video stream")
            context = container.streams.video[0].codec_context
            width, height = context.width, context.height
    except (av.error.FFmpegError, OSError) as exc:
        raise AssetError(f"{Path(path).name} is not a readable video: {exc}") from None
    return Frame(width - width % 2, height - height % 2)


def needs_frame(layer: BoxedLayer) -> bool:
    """Whether placing ``layer`` depends on the frame size (a percent or an anchor)."""
    sizes = [layer.size, getattr(layer, "min_size", 0)] if isinstance(layer, (TextLayer, CtaLayer)) else []
    return layer.box.relative or any(isinstance(size, str) for size in sizes)


def resolved(layer: BoxedLayer, frame: Frame) -> BoxedLayer:
    """``layer`` with its box and font sizes in pixels for ``frame``."""
    if not needs_frame(layer):
        return layer
    update: dict[str, object] = {"box": place(layer.box, frame)}
    if isinstance(layer, TextLayer):
        update["size"] = font_pixels(layer.size, frame)
        update["min_size"] = font_pixels(layer.min_size, frame)
    elif isinstance(layer, CtaLayer):
        update["size"] = font_pixels(layer.size, frame)
    return layer.model_copy(update=update)


def place(box: Box, frame: Frame) -> Box:
    """The pixel box for ``frame``: percents taken of the frame's width (x, w) or height (y, h),
    pinned to its ``anchor``, and kept inside the frame (shrunk to it, then moved in)."""
    if not box.relative:
        return box
    width = min(_pixels(box.w, frame.width), frame.width)
    height = min(_pixels(box.h, frame.height), frame.height)
    vertical, _, horizontal = (box.anchor or "top-left").rpartition("-")
    if box.anchor == "center":
        vertical, horizontal = "center", "center"
    x = _along(horizontal, _pixels(box.x, frame.width), width, frame.width)
    y = _along(vertical, _pixels(box.y, frame.height), height, frame.height)
    x = max(0, min(x, frame.width - width))
    y = max(0, min(y, frame.height - height))
    return Box(x=x, y=y, w=max(1, width), h=max(1, height))


def font_pixels(size: int | str, frame: Frame) -> int:
    """A font size in pixels; a percent is of the frame's height."""
    return max(1, _pixels(size, frame.height))


def _pixels(length: int | str, whole: int) -> int:
    percent = percent_of(length)
    if percent is None:
        assert isinstance(length, int), f"length {length!r} passed the spec's check"
        return length
    return int(percent * whole / 100 + 0.5)


def _along(side: str, margin: int, length: int, whole: int) -> int:
    """Where a box of ``length`` starts on an axis of ``whole`` pixels: ``margin`` in from
    ``side`` (left/top, right/bottom), or ``margin`` past the middle (center)."""
    if side in ("left", "top"):
        return margin
    if side in ("right", "bottom"):
        return whole - length - margin
    return (whole - length) // 2 + margin
