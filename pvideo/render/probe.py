"""Reading video facts with PyAV (no ffprobe subprocess)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from pvideo.errors import AssetError


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    duration: float
    frames: int
    has_audio: bool
    audio_codec: str | None
    video_codec: str
    nominal_fps: Fraction | None = None  # the stream's declared rate (r_frame_rate); VFR averages below it

    @property
    def frame_duration(self) -> float:
        return float(1 / self.fps) if self.fps else 0.0


def probe(path: Path, *, count_frames: bool = True) -> VideoInfo:
    """Probe ``path``; ``frames`` counts demuxed video packets (exact, no decoding)."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise AssetError(f"{Path(path).name} is not a readable video: {exc}") from None
    with container:
        if not container.streams.video:
            raise AssetError(f"{Path(path).name} has no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        fps = video.average_rate or video.guessed_rate or Fraction(30)
        if video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        frames = video.frames
        if count_frames:
            frames = sum(1 for packet in container.demux(video) if packet.size)
        return VideoInfo(
            width=video.codec_context.width,
            height=video.codec_context.height,
            fps=Fraction(fps),
            duration=duration,
            frames=frames,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            video_codec=video.codec_context.name,
            nominal_fps=Fraction(video.guessed_rate) if video.guessed_rate else None,
        )
