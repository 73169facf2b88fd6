"""(e) The physical limit of a render: make only the frames that differ, nothing else.

(e) is one ffmpeg process that decodes only the template segments holding
personalized frames (with the keyframe cuts, exactly those frames), draws the
overlays and encodes them with the mezzanine's exact settings (preset, CRF,
profile, no B-frames, an IDR frame at every segment start, as the engine's
parts have): no decode of the rest, no splice, no audio, no poster, one process
start. Its CPU seconds are the least a render can spend. ``encode_only`` is a
stricter floor, reported beside it: one x264 process fed the personalized
frames already composited, as raw YUV on its stdin (another ffmpeg prepares
them outside the measurement; only the encoder's own CPU seconds count), so it
decodes and draws nothing either. A render by the ``segments`` engine (c) does
(e)'s work plus everything around it: (c) / (e) is its distance from the limit.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import ffmpeg

from pvideo.plan.model import RenderPlan
from pvideo.render.ffmpeg_run import ffmpeg_args
from pvideo.render.ingest import TemplateVersion, concat_source, x264_args
from pvideo.render.overlays import frame_window, overlay_chain, place


def personal_frames(plan: RenderPlan, version: TemplateVersion) -> list[int]:
    """Template frames a personal layer draws on, in order."""
    frames: set[int] = set()
    for o in [*plan.personal_overlays, *plan.clips]:
        first, stop = frame_window(o.start, o.end, version.fps)
        frames.update(range(first, min(stop, version.frames)))
    return sorted(frames)


def keyframes(frames: list[int], version: TemplateVersion) -> list[int]:
    """Positions in the stream of ``frames`` that get an IDR frame: each run's first frame and
    every segment start (the keyframes the engine's parts carry)."""
    starts = {s.first_frame for s in version.segments}
    return [i for i, k in enumerate(frames) if k in starts or i == 0 or frames[i - 1] != k - 1]


def limit_args(version: TemplateVersion, frames: list[int], out: Path, *, ffmpeg_exe: str) -> list[str]:
    """The encoder: raw yuv420p on stdin, the mezzanine's settings, MPEG-TS out."""
    encoder = x264_args(
        version.options.preset, version.options.crf, version.segment_frames, keyframes(frames, version), grid=False
    )
    size = f"{version.width}x{version.height}"
    rate = f"{version.fps.numerator}/{version.fps.denominator}"
    return [
        ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", size, "-r", rate, "-i", "pipe:0",
        *encoder, "-f", "mpegts", str(out),
    ]  # fmt: skip


def frames_args(
    plan: RenderPlan, version: TemplateVersion, paths: list[Path], frames: list[int], workdir: Path, *, ffmpeg_exe: str
) -> list[str]:
    """The preparer: the personalized frames, composited, as raw yuv420p on stdout."""
    overlays = place(plan.personal_overlays, version.fps, version.frames, workdir)
    video = overlay_chain(ffmpeg.input(concat_source(paths)).video, overlays)
    runs: list[list[int]] = []
    for k in frames:
        if runs and runs[-1][1] + 1 == k:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    chosen = "+".join(f"between(n,{a},{b})" for a, b in runs)
    stream = video.filter("select", chosen).output("pipe:", f="rawvideo", pix_fmt="yuv420p", fps_mode="passthrough")
    return ffmpeg_args(stream, ffmpeg_exe)


def one_process_args(
    plan: RenderPlan,
    version: TemplateVersion,
    paths: list[Path],
    frames: list[int],
    out: Path,
    workdir: Path,
    *,
    ffmpeg_exe: str,
) -> list[str]:
    """(e): decode the segments holding ``frames``, draw the overlays, keep ``frames``, encode them."""
    wanted = set(frames)
    touched = [s for s in version.segments if any(k in wanted for k in range(s.first_frame, s.first_frame + s.frames))]
    decoded = [k for s in touched for k in range(s.first_frame, s.first_frame + s.frames)]
    position = {k: i for i, k in enumerate(decoded)}  # frame numbers in the concatenated touched segments
    overlays = [
        replace(o, first=position[o.first], stop=position[o.stop - 1] + 1)
        for o in place(plan.personal_overlays, version.fps, version.frames, workdir)
    ]
    rate = f"{version.fps.numerator}/{version.fps.denominator}"
    video = ffmpeg.input(concat_source([paths[s.index] for s in touched])).video.filter("setpts", f"N/({rate})/TB")
    video = overlay_chain(video, overlays)
    if len(decoded) != len(frames):  # windows off the segment cuts (an ingest without them): keep only theirs
        keep = "+".join(f"eq(n,{position[k]})" for k in frames)
        video = video.filter("select", keep).filter("setpts", f"N/({rate})/TB")
    encoder = x264_args(
        version.options.preset, version.options.crf, version.segment_frames, keyframes(frames, version), grid=False
    )
    options = {k.lstrip("-"): v for k, v in zip(encoder[::2], encoder[1::2])}
    return ffmpeg_args(ffmpeg.output(video, str(out), f="mpegts", fps_mode="passthrough", **options), ffmpeg_exe)


def _waited(pid: int, started: float) -> tuple[int, dict[str, float]]:
    """Wait for child ``pid``: its exit code, and its own CPU seconds, wall seconds and peak RSS."""
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    figures = {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "rss_mb": usage.ru_maxrss / 1024}
    return os.waitstatus_to_exitcode(status), figures


def one_process(
    plan: RenderPlan, version: TemplateVersion, paths: list[Path], workdir: Path, *, ffmpeg_exe: str
) -> dict[str, Any]:
    """Run (e) for ``plan``: its CPU seconds, wall seconds, peak RSS and output bytes; then ``encode_only``."""
    workdir.mkdir(parents=True, exist_ok=True)
    frames = personal_frames(plan, version)
    out = workdir / "limit-e.ts"
    started = time.perf_counter()
    proc = subprocess.Popen(
        one_process_args(plan, version, paths, frames, out, workdir, ffmpeg_exe=ffmpeg_exe), stdin=subprocess.DEVNULL
    )
    code, figures = _waited(proc.pid, started)
    if code != 0:
        raise RuntimeError("(e) failed")
    floor = encode_only(plan, version, paths, workdir, ffmpeg_exe=ffmpeg_exe)
    return {
        **figures,
        "frames": len(frames),
        "limit_bytes": out.stat().st_size,
        "encode_only_cpu": floor["cpu"],
    }


def encode_only(
    plan: RenderPlan, version: TemplateVersion, paths: list[Path], workdir: Path, *, ffmpeg_exe: str
) -> dict[str, Any]:
    """The stricter floor for ``plan``: x264 alone fed the finished personalized frames (its CPU seconds,
    wall seconds, peak RSS and output bytes; the frames are prepared by another process, not counted)."""
    workdir.mkdir(parents=True, exist_ok=True)
    frames = personal_frames(plan, version)
    out = workdir / "limit.ts"
    prep = subprocess.Popen(
        frames_args(plan, version, paths, frames, workdir, ffmpeg_exe=ffmpeg_exe), stdout=subprocess.PIPE
    )
    started = time.perf_counter()
    enc = subprocess.Popen(limit_args(version, frames, out, ffmpeg_exe=ffmpeg_exe), stdin=prep.stdout)
    assert prep.stdout is not None
    prep.stdout.close()  # the encoder holds the read end
    enc.returncode, figures = _waited(enc.pid, started)
    if prep.wait() != 0 or enc.returncode != 0:
        raise RuntimeError(f"(e) failed: preparer {prep.returncode}, encoder {enc.returncode}")
    return {
        **figures,
        "frames": len(frames),
        "limit_bytes": out.stat().st_size,
    }
