"""Whether an uploaded file is a video, image, audio track or font the engine can read.

The kind comes from the file's extension; the check then opens the file the way a
render will (PyAV for video and audio, decoding a first frame; Pillow for images,
decoding them whole under a pixel cap; Pillow's FreeType for fonts), so a file the
studio accepts cannot fail a campaign later for being unreadable. A refusal is an
``AssetError`` that starts with the file name and says what it is not and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import av
from PIL import Image, ImageFont, UnidentifiedImageError

from pvideo.db.models import AssetKind
from pvideo.errors import AssetError
from pvideo.plan.fetch import MAX_PIXELS
from pvideo.plan.uploads import AUDIO_SUFFIXES, FONT_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from pvideo.render.probe import probe

MAX_VIDEO_SIDE = 8192
_IMAGE_FORMATS = {"PNG", "JPEG", "WEBP"}
_KINDS = {
    **dict.fromkeys(VIDEO_SUFFIXES, AssetKind.VIDEO),
    **dict.fromkeys(IMAGE_SUFFIXES, AssetKind.IMAGE),
    **dict.fromkeys(AUDIO_SUFFIXES, AssetKind.AUDIO),
    **dict.fromkeys(FONT_SUFFIXES, AssetKind.FONT),
}
_OTHER_IMAGES = (".gif", ".bmp", ".tif", ".tiff", ".svg", ".heic", ".avif", ".ico")
ACCEPTED = ", ".join(sorted(_KINDS))


class CheckedAsset(NamedTuple):
    kind: AssetKind
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def check_asset(path: Path, filename: str) -> CheckedAsset:
    """What ``path`` (uploaded as ``filename``) is, or ``AssetError`` naming the file and the reason."""
    suffix = Path(filename).suffix.lower()
    if suffix in _OTHER_IMAGES:
        raise AssetError(f"{filename}: not an image pvideo can read: use PNG, JPEG or WebP")
    kind = _KINDS.get(suffix)
    if kind is None:
        raise AssetError(f"{filename}: not a video, image, audio track or font pvideo can read (use {ACCEPTED})")
    try:
        if kind is AssetKind.VIDEO:
            return _video(path)
        if kind is AssetKind.IMAGE:
            return _image(path)
        if kind is AssetKind.AUDIO:
            return _audio(path)
        return _font(path)
    except AssetError as exc:
        reason = str(exc).replace(f"{path.name} ", "the file ")
        raise AssetError(
            f"{filename}: not {'an' if kind is AssetKind.IMAGE else 'a'} {kind} pvideo can read: {reason}"
        ) from None


def _video(path: Path) -> CheckedAsset:
    info = probe(path, count_frames=False)
    if not (0 < info.width <= MAX_VIDEO_SIDE and 0 < info.height <= MAX_VIDEO_SIDE):
        raise AssetError(f"{info.width}x{info.height} is outside 1..{MAX_VIDEO_SIDE} pixels a side")
    if info.duration <= 0:
        raise AssetError("it has no duration")
    _first_frame(path, "video")
    return CheckedAsset(AssetKind.VIDEO, info.width, info.height, info.duration)


def _audio(path: Path) -> CheckedAsset:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AssetError("it has no audio stream")
            duration = (container.duration or 0) / av.time_base
    except (av.error.FFmpegError, OSError) as exc:
        raise AssetError(str(exc)) from None
    _first_frame(path, "audio")
    return CheckedAsset(AssetKind.AUDIO, duration=duration)


def _first_frame(path: Path, stream: str) -> None:
    """Decode one frame of the first ``stream``: a container PyAV opens may hold a codec it cannot decode."""
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if stream == "video" else container.streams.audio
            for _frame in container.decode(streams[0]):
                return
    except (av.error.FFmpegError, OSError) as exc:
        raise AssetError(f"its {stream} does not decode: {exc}") from None
    raise AssetError(f"its {stream} stream has no frame")


def _image(path: Path) -> CheckedAsset:
    try:
        with Image.open(path) as image:
            if image.format not in _IMAGE_FORMATS:
                raise AssetError(f"it is {image.format or 'an unknown format'}; use PNG, JPEG or WebP")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise AssetError(f"{width}x{height} is more than {MAX_PIXELS:,} pixels")
            image.load()  # decodes every pixel: a truncated file fails here
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise AssetError(str(exc)) from None
    return CheckedAsset(AssetKind.IMAGE, width, height)


def _font(path: Path) -> CheckedAsset:
    try:
        font = ImageFont.truetype(str(path), 32)
        font.getbbox("Ag")
    except (OSError, ValueError) as exc:
        raise AssetError(f"FreeType cannot load it ({exc})") from None
    return CheckedAsset(AssetKind.FONT)
