"""Input media with known content, made on the spot: a clip of flat grays, sine-tone tracks, a PNG bomb."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import av
import numpy as np

CLIP_FPS, CLIP_FRAMES = 10, 10
LEVELS = [30 + 20 * i for i in range(CLIP_FRAMES)]
STRIPE = 20  # a red stripe on the clip's left edge: visible with contain, cropped away with cover

AMPLITUDE = 0.2  # of the tracks' sines


def write_clip(path: Path, size: tuple[int, int] = (160, 90)) -> Path:
    """A lossless H.264 clip at ``CLIP_FPS``: one flat gray of ``LEVELS`` per frame, a red ``STRIPE`` on the left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"crf": "0", "preset": "ultrafast"}
        for level in LEVELS:
            pixels = np.full((size[1], size[0], 3), level, np.uint8)
            pixels[:, :STRIPE] = (220, 20, 20)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_track(ffmpeg_exe: str, path: Path, frequency: int, seconds: float = 6) -> None:
    """An AAC stereo sine of ``frequency`` Hz at ``AMPLITUDE``, ``seconds`` long."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = f"{AMPLITUDE}*sin(2*PI*{frequency}*t)"
    subprocess.run(
        [
            ffmpeg_exe,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc={tone}|{tone}:s=44100:d={seconds}",
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            str(path),
        ],
        check=True,
    )


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring a huge image (the pixel data is never reached)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    )
