"""One frame of a customer's video, drawn by the engine's own code: the studio's live preview.

The frame a campaign render shows is a mezzanine frame (the template with its
static layers baked in at ingest) run through ``overlay_chain`` (and
``draw_clips``) in yuv420p, then encoded. A still takes the same road and
stops before the encoder: the template version the plan renders on, the
segment holding the frame, the same filters with the frame's number as their
offset. So a preview differs from the decoded video by the encoder's loss
only, never by a second compositor's rounding, alpha handling or timing.

It is built to answer within an edit's latency. The decoded mezzanine frame is
cached per (version, frame) as raw yuv420p (``base_frame``: never through RGB,
so the overlays see exactly the pixels a part's encoder is fed); after an
edit only the personal layers are drawn on that one frame, in one ffmpeg run
(``draw_args``). The version is the render's own when it is stored (found like
a render finds it, ``pvideo.render.versions.base_version``: an audio variant
copies the base's video, so a still never needs one made); otherwise a draft
(``still_version``), so that an edit never waits for an ingest.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import av
import ffmpeg
import numpy as np
from PIL import Image

from pvideo.errors import DataError
from pvideo.files import file_hash
from pvideo.plan.model import Overlay, RenderPlan
from pvideo.render.clips import draw_clips, place_clips
from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg
from pvideo.render.ingest import Segment, TemplateVersion, segment_files, stored_version, version_hash
from pvideo.render.overlays import overlay_chain, place
from pvideo.render.parts import skipped_segments
from pvideo.render.versions import base_version, cache_dir, ingest_options
from pvideo.settings import Settings
from pvideo.storage import Storage

FRAME_CACHE_BYTES = 256 * 1024 * 1024  # decoded frames kept per host: ~180 at 1280x720, ~20 at 3840x2160


@dataclass(frozen=True)
class FramePick:
    """Where customer second ``at`` lands: template frame ``frame``, inside ``segment``."""

    segment: Segment
    frame: int


def pick_frame(version: TemplateVersion, skip: frozenset[int], at: float) -> FramePick:
    """The template frame shown at second ``at`` of the customer's video (the frame whose period
    holds ``at``): the customer's frames are the kept segments' frames in order, as the splice
    lays them out."""
    wanted = math.floor(Fraction(at).limit_denominator(10_000) * version.fps) if at >= 0 else -1
    kept = [s for s in version.segments if s.index not in skip]
    left = wanted
    for segment in kept:
        if 0 <= left < segment.frames:
            return FramePick(segment, segment.first_frame + left)
        left -= segment.frames
    length = float(sum(s.frames for s in kept) / version.fps)
    raise DataError(f"at: second {at:g} is outside the video (0 to {length:g} s)", field="at")


def base_args(segment: Path, local: int, out: Path, *, ffmpeg_exe: str) -> list[str]:
    """Decode frame ``local`` of a mezzanine segment to ``out`` as raw yuv420p (the decoder's own
    pixels: the mezzanine is yuv420p, so nothing converts them)."""
    stream = (
        ffmpeg.input(str(segment))
        .video.filter("select", f"eq(n,{local})")
        .output(str(out), vframes=1, f="rawvideo", pix_fmt="yuv420p", fps_mode="passthrough")
    )
    return ffmpeg_args(stream, ffmpeg_exe)


def draw_args(
    plan: RenderPlan,
    version: TemplateVersion,
    base: Path,
    frame: int,
    workdir: Path,
    out: Path,
    *,
    ffmpeg_exe: str,
    static: tuple[Overlay, ...] = (),
) -> list[str]:
    """Draw the plan's personal layers and clips on template frame ``frame`` (raw yuv420p in
    ``base``) with the engine's filters, offset to that frame; ``out`` gets raw yuv420p.
    ``static`` layers (a draft's: not baked into its version) go first, under the clips, where
    ingest would have baked them.

    The frame is the graph's only frame, stamped 0: its clips are stamped from 0 too."""
    drawn = [o for o in place(static, version.fps, version.frames, workdir, "static") if o.touches(frame, 1)]
    overlays = [o for o in place(plan.personal_overlays, version.fps, version.frames, workdir) if o.touches(frame, 1)]
    clips = [c for c in place_clips(plan.clips, version.fps, version.frames) if c.touches(frame, 1)]
    rate = f"{version.fps.numerator}/{version.fps.denominator}"
    source = ffmpeg.input(
        str(base), f="rawvideo", pix_fmt="yuv420p", video_size=(version.width, version.height), framerate=rate
    )
    video = overlay_chain(source.video, drawn, frame) if drawn else source.video
    video = draw_clips(video, clips, fps=version.fps, offset=frame, frames=1, origin=Fraction(0))
    video = overlay_chain(video, overlays, frame)
    return ffmpeg_args(video.output(str(out), vframes=1, f="rawvideo", pix_fmt="yuv420p"), ffmpeg_exe)


class Colour(NamedTuple):
    """How the mezzanine's yuv maps to RGB: libav's colour space and range numbers, as tagged."""

    space: int
    range: int

    @classmethod
    def of(cls, segment: Path) -> Colour:
        with av.open(str(segment)) as container:
            codec = container.streams.video[0].codec_context
            return cls(int(codec.colorspace), int(codec.color_range))


@dataclass(frozen=True)
class StillBase:
    """The decoded mezzanine frame a still is drawn on: raw yuv420p in ``path``, its colours, and
    the static layers a draft version does not hold baked in."""

    version: TemplateVersion
    pick: FramePick
    path: Path
    colour: Colour
    static: tuple[Overlay, ...] = ()


def base_frame(version: TemplateVersion, pick: FramePick, storage: Storage, settings: Settings) -> StillBase:
    """The decoded mezzanine frame ``pick`` as raw yuv420p, from the frame cache or decoded now
    (only its segment is fetched from storage), with the version's colour tags (cached beside
    the frames). Each file is written whole or not at all."""
    frames = cache_dir(settings) / "frames" / version.hash
    path, tags = frames / f"{pick.frame:06d}.yuv", frames / "colour.json"
    if path.is_file() and tags.is_file():
        with contextlib.suppress(FileNotFoundError):  # pruned meanwhile: decoded again below
            os.utime(path)  # recently used: pruned last
            return StillBase(version, pick, path, Colour(*json.loads(tags.read_text())))
    (segment,) = segment_files(replace(version, segments=(pick.segment,)), storage, cache_dir(settings))
    frames.mkdir(parents=True, exist_ok=True)
    colour = Colour.of(segment)
    with _written(tags) as temp:
        temp.write_text(json.dumps(list(colour)))
    with _written(path) as temp:
        run_ffmpeg(
            base_args(segment, pick.frame - pick.segment.first_frame, temp, ffmpeg_exe=settings.ffmpeg_exe),
            timeout=settings.ffmpeg_timeout,
        )
        if temp.stat().st_size != _yuv_bytes(version):
            raise DataError(f"frame {pick.frame} is missing from segment {pick.segment.index}", field="at")
    prune(frames.parent, FRAME_CACHE_BYTES, keep=path)
    return StillBase(version, pick, path, colour)


def prune(frames: Path, limit: int, *, keep: Path) -> None:
    """Delete the least recently used cached frames (any version) until they fit in ``limit`` bytes."""
    cached = []
    for path in frames.glob("*/*.yuv"):
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            cached.append((stat.st_mtime_ns, stat.st_size, path))
    total = sum(size for _, size, _ in cached)
    for _, size, path in sorted(cached):
        if total <= limit:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size


@contextlib.contextmanager
def _written(path: Path) -> Iterator[Path]:
    """A temp file beside ``path``, renamed onto it if the block succeeds, else removed."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False) as part:
        temp = Path(part.name)
    try:
        yield temp
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)


def still_version(
    plan: RenderPlan, storage: Storage, settings: Settings
) -> tuple[TemplateVersion, tuple[Overlay, ...]]:
    """The version a still draws on, and the static layers the still must draw itself.

    The render's own version when it is stored (its static layers baked in, segments cut at the
    personal windows): the still is then the render's frame but for the encoder. Otherwise a
    draft, the template cut at its sections only and nothing baked in, ingested once per
    template: in the editor, a changed static layer or a window dragged on the timeline makes a
    new version, and waiting for its ingest (about 5 s for welcome) on every such edit would
    stall the preview. A draft frame differs from the render's by two encoders' loss (the
    draft's and the render's mezzanine), far inside the 38 dB the studio promises."""
    options = replace(ingest_options(settings), cuts=plan.cuts)
    exact = stored_version(storage, version_hash(file_hash(plan.template), options, plan.static_overlays))
    if exact is not None:
        return exact, ()
    draft = replace(plan, overlays=plan.personal_overlays, keyframes=())
    return base_version(draft, storage, settings), plan.static_overlays


def still_base(plan: RenderPlan, at: float, storage: Storage, settings: Settings) -> StillBase:
    """The template version ``plan`` renders on (or its draft) and its frame at customer second
    ``at``, decoded (or from the frame cache). Work on the template's size, whatever the scene's
    layers."""
    version, static = still_version(plan, storage, settings)
    base = base_frame(version, pick_frame(version, skipped_segments(plan, version), at), storage, settings)
    return replace(base, static=static)


def draw_still(plan: RenderPlan, base: StillBase, settings: Settings) -> Image.Image:
    """The plan's personal layers and clips drawn on ``base`` by the engine's filters, in RGB."""
    with tempfile.TemporaryDirectory(prefix="pvideo-still-") as tmp:
        workdir = Path(tmp)
        out = workdir / "still.yuv"
        args = draw_args(
            plan,
            base.version,
            base.path,
            base.pick.frame,
            workdir,
            out,
            ffmpeg_exe=settings.ffmpeg_exe,
            static=base.static,
        )
        run_ffmpeg(args, timeout=settings.ffmpeg_timeout)
        return rgb_image(out.read_bytes(), base.version.width, base.version.height, base.colour)


def still_frame(plan: RenderPlan, at: float, storage: Storage, settings: Settings) -> Image.Image:
    """The RGB frame at second ``at`` of the customer's video, as the engine draws it."""
    return draw_still(plan, still_base(plan, at, storage, settings), settings)


def png_bytes(image: Image.Image) -> bytes:
    """A still as PNG, compressed lightly: the encode is on every preview's path (zlib level 1:
    ~15 ms and ~120 KB for a 1280x720 frame; level 6 costs twice the time for 20% fewer bytes)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def rgb_image(yuv: bytes, width: int, height: int, colour: Colour) -> Image.Image:
    """A yuv420p frame in RGB, converted as a player (and PyAV's decoder) converts the video's:
    with its colour space and range."""
    planes = np.frombuffer(yuv, dtype=np.uint8).reshape(height * 3 // 2, width)
    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    frame.colorspace, frame.color_range = colour.space, colour.range
    return Image.fromarray(frame.to_ndarray(format="rgb24"))


def _yuv_bytes(version: TemplateVersion) -> int:
    return version.width * version.height * 3 // 2
