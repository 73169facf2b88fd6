"""Animated thumbnails for email: a short loop of the customer's video with a play button.

Email clients show an animated GIF (or WebP) where they show no video, so the
loop has to stay small: at most 3 seconds and at most 1 MB each. ffmpeg cuts
and scales the frames once; Pillow draws the play button and encodes, stepping
down size, frame rate and colours until the file fits.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np
from PIL import Image, ImageDraw

from pvideo.errors import RenderError
from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg

MAX_BYTES = 1024 * 1024
MAX_SECONDS = 3.0
SOURCE_FPS = Fraction(25, 2)  # 80 ms a frame: GIF delays are whole centiseconds


@dataclass(frozen=True)
class Step:
    """One rung of the size ladder: output width, frames kept (every ``stride``-th) and quality."""

    width: int
    stride: int
    colors: int  # GIF palette size
    quality: int  # WebP quality


LADDER = (
    Step(480, 1, 256, 70),
    Step(400, 1, 192, 60),
    Step(320, 1, 128, 50),
    Step(320, 2, 96, 40),
    Step(240, 2, 64, 30),
    Step(200, 3, 48, 20),
)


def clip_args(
    video: Path, start: float, duration: float, width: int, height: int, out: Path, *, ffmpeg_exe: str
) -> list[str]:
    """``duration`` seconds of ``video`` from ``start`` as raw RGB frames at ``SOURCE_FPS``, scaled."""
    stream = (
        ffmpeg.input(str(video), ss=f"{start:.3f}", t=f"{duration:.3f}")
        .video.filter("fps", str(SOURCE_FPS))
        .filter("scale", width, height, flags="lanczos")
        .output(str(out), f="rawvideo", pix_fmt="rgb24")
    )
    return ffmpeg_args(stream, ffmpeg_exe)


def window(start: float, duration: float, video_seconds: float) -> tuple[float, float]:
    """The loop's ``(start, duration)``: at most 3 s, moved earlier to end inside the video."""
    duration = min(duration, MAX_SECONDS, video_seconds)
    return max(0.0, min(start, video_seconds - duration)), duration


def play_button(size: tuple[int, int]) -> Image.Image:
    """An RGBA layer: a dark translucent disc with a white ring and a white triangle, centred."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    r = max(12, min(w, h) // 6)
    cx, cy = w // 2, h // 2
    draw.ellipse(
        (cx - r, cy - r, cx + r, cy + r), fill=(0, 0, 0, 150), outline=(255, 255, 255, 255), width=max(2, r // 10)
    )
    t = r * 0.5
    draw.polygon([(cx - t * 0.6, cy - t), (cx - t * 0.6, cy + t), (cx + t, cy)], fill=(255, 255, 255, 255))
    return layer


def read_frames(raw: Path, width: int, height: int) -> list[Image.Image]:
    data = np.fromfile(raw, dtype=np.uint8)
    count = data.size // (width * height * 3)
    if count == 0:
        raise RenderError(f"no frames decoded for the thumbnail from {raw.name}")
    return [Image.fromarray(f) for f in data[: count * width * height * 3].reshape(count, height, width, 3)]


def _prepare(frames: list[Image.Image], step: Step) -> list[Image.Image]:
    kept = frames[:: step.stride]
    w0, h0 = kept[0].size
    size = (step.width, max(2, round(step.width * h0 / w0 / 2) * 2)) if step.width < w0 else (w0, h0)
    button = play_button(size)
    out = []
    for frame in kept:
        frame = frame.resize(size, Image.Resampling.LANCZOS) if frame.size != size else frame
        composed = frame.convert("RGBA")
        composed.alpha_composite(button)
        out.append(composed.convert("RGB"))
    return out


def encode_gif(frames: list[Image.Image], step: Step) -> bytes:
    """One palette for every frame (taken from a strip of them), so colours do not flicker."""
    sample = frames[:: max(1, len(frames) // 6)]
    strip = Image.new("RGB", (sample[0].width, sample[0].height * len(sample)))
    for i, frame in enumerate(sample):
        strip.paste(frame, (0, i * frame.height))
    palette = strip.quantize(colors=step.colors, method=Image.Quantize.MEDIANCUT)
    paletted = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    out = io.BytesIO()
    paletted[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=paletted[1:],
        loop=0,
        optimize=False,
        duration=_delay_ms(step),
        disposal=1,
    )
    return out.getvalue()


def encode_webp(frames: list[Image.Image], step: Step) -> bytes:
    out = io.BytesIO()
    frames[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        loop=0,
        duration=_delay_ms(step),
        quality=step.quality,
        method=3,
    )
    return out.getvalue()


def _delay_ms(step: Step) -> int:
    return round(1000 * step.stride / SOURCE_FPS)


Encoder = Callable[[list[Image.Image], Step], bytes]


def fit(
    frames: list[Image.Image],
    encode: Encoder,
    limit: int = MAX_BYTES,
    prepared: dict[Step, list[Image.Image]] | None = None,
) -> bytes:
    """The first rung of ``LADDER`` whose encoding is at most ``limit`` bytes.

    ``prepared`` caches the scaled, buttoned frames of each rung across encoders.
    """
    prepared = {} if prepared is None else prepared
    for step in LADDER:
        if step not in prepared:
            prepared[step] = _prepare(frames, step)
        data = encode(prepared[step], step)
        if len(data) <= limit:
            return data
    raise RenderError(f"thumbnail stays over {limit} bytes even at {LADDER[-1].width} px")


def make_thumbnails(
    video: Path,
    start: float,
    duration: float,
    video_size: tuple[int, int],
    video_seconds: float,
    workdir: Path,
    *,
    ffmpeg_exe: str,
    timeout: float,
) -> dict[str, Path]:
    """``thumbnail.gif`` and ``thumbnail.webp`` in ``workdir``, each a loop of at most 3 s and 1 MB."""
    begin, length = window(start, duration, video_seconds)
    vw, vh = video_size
    width = min(LADDER[0].width, vw)
    height = max(2, round(width * vh / vw / 2) * 2)
    raw = workdir / "thumbnail.rgb"
    run_ffmpeg(clip_args(video, begin, length, width, height, raw, ffmpeg_exe=ffmpeg_exe), timeout=timeout)
    frames = read_frames(raw, width, height)
    frames = frames[: max(1, int(length * SOURCE_FPS + 1e-6))]
    raw.unlink()
    made: dict[str, Path] = {}
    prepared: dict[Step, list[Image.Image]] = {}
    for name, encode in (("thumbnail.gif", encode_gif), ("thumbnail.webp", encode_webp)):
        path = workdir / name
        path.write_bytes(fit(frames, encode, prepared=prepared))
        made[name] = path
    return made
