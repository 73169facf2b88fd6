"""Turn a ``RenderPlan`` into an MP4 and a poster with one ffmpeg filter graph.

Building the argument list is pure (``render_args``, ``poster_args``) and is
what the unit tests pin; ``render`` writes the overlay PNGs, runs ffmpeg and
checks the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from pvideo.ffmpeg_run import run_ffmpeg
from pvideo.plan import RenderPlan
from pvideo.probe import VideoInfo, probe
from pvideo.settings import Settings

_GLOBAL = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")


@dataclass(frozen=True)
class EncodeOptions:
    preset: str = "veryfast"
    crf: int = 23
    audio_bitrate: str = "128k"

    @classmethod
    def from_settings(cls, settings: Settings) -> "EncodeOptions":
        return cls(preset=settings.x264_preset, crf=settings.x264_crf)


@dataclass(frozen=True)
class RenderOutputs:
    video: Path
    poster: Path
    info: VideoInfo


def _window(start: float, end: float) -> str:
    """Half-open [start, end): a frame at exactly ``end`` is already clean."""
    return f"gte(t,{start:g})*lt(t,{end:g})"


def render_args(plan: RenderPlan, template: VideoInfo, overlay_paths: list[Path], out: Path,
                *, ffmpeg_exe: str, options: EncodeOptions) -> list[str]:
    """The full ffmpeg command for ``plan``. Only file paths and numbers enter the graph."""
    if len(overlay_paths) != len(plan.overlays):
        raise ValueError("one PNG path per overlay is required")
    base = ffmpeg.input(str(plan.template))
    video = base.video
    for overlay, path in zip(plan.overlays, overlay_paths):
        picture = ffmpeg.input(str(path), f="image2", c="png")
        video = ffmpeg.overlay(video, picture, x=overlay.x, y=overlay.y,
                               enable=_window(overlay.start, overlay.end), eof_action="repeat")
    video = video.filter("format", "yuv420p")
    streams = [video]
    out_kwargs: dict[str, object] = {
        "vcodec": "libx264", "preset": options.preset, "crf": options.crf,
        "profile:v": "high", "movflags": "+faststart",
    }
    if template.has_audio:
        streams.append(base.audio)
        if template.audio_codec == "aac":
            out_kwargs["acodec"] = "copy"
        else:
            out_kwargs.update({"acodec": "aac", "b:a": options.audio_bitrate})
    args = ffmpeg.output(*streams, str(out), **out_kwargs).compile(cmd=ffmpeg_exe)
    return [args[0], *_GLOBAL, *args[1:]]


def poster_args(video: Path, at: float, out: Path, *, ffmpeg_exe: str) -> list[str]:
    args = (ffmpeg.input(str(video), ss=f"{at:.3f}")
            .output(str(out), vframes=1, **{"q:v": 3, "update": 1})
            .compile(cmd=ffmpeg_exe))
    return [args[0], *_GLOBAL, *args[1:]]


def render(plan: RenderPlan, workdir: Path, settings: Settings) -> RenderOutputs:
    """Render ``plan`` into ``workdir``: ``video.mp4`` and ``poster.jpg``."""
    workdir.mkdir(parents=True, exist_ok=True)
    template = probe(plan.template, count_frames=False)
    paths = []
    for index, overlay in enumerate(plan.overlays):
        path = workdir / f"overlay-{index:03d}.png"
        path.write_bytes(overlay.png)
        paths.append(path)
    video = workdir / "video.mp4"
    exe = settings.ffmpeg_exe
    run_ffmpeg(render_args(plan, template, paths, video, ffmpeg_exe=exe,
                           options=EncodeOptions.from_settings(settings)),
               timeout=settings.ffmpeg_timeout)
    poster_time = min(plan.poster_at, max(0.0, template.duration - 2 * template.frame_duration))
    poster = workdir / "poster.jpg"
    run_ffmpeg(poster_args(video, poster_time, poster, ffmpeg_exe=exe), timeout=settings.ffmpeg_timeout)
    return RenderOutputs(video=video, poster=poster, info=probe(video))
