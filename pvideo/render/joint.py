"""Every personal part of a render from one ffmpeg process and one encoder per customer.

``part_args`` encodes each part in a process of its own, so a render pays an ffmpeg start,
a decoder, an x264 start and a lookahead per part: on ``scenes/welcome.yaml`` with its windows
off whole seconds that is 8 parts and about 0.3 CPU s per video above the physical limit (one
process encoding only the personalized frames, ``bench/limit.py``). When nothing needs the parts
one at a time (on demand does: each part is published as soon as it is encoded, and the
``pvideo.jobs.scheduling`` scheduler orders them), ``joint_args`` does it as the limit does:

* one input, the concatenation of every touched segment (``-copyts``: frames keep the template's
  timestamps across the gaps between runs, so each part still splices in place);
* each customer's overlays drawn run by run: within a run of consecutive segments a frame's
  number in the joint stream is its template frame less one offset, so the enable windows and
  animations are the ones ``part_args`` computes, shifted;
* one x264 per customer, the mezzanine's settings, an IDR frame at every segment start;
* the segment muxer cutting its stream into the part files at the parts' first frames.

A batch (``pvideo.render.batch``) gives one process several customers with the same parts: the
frames are decoded once and ``split`` into one chain each. x264 is deterministic for a given input
and thread count, so a customer's parts are the same bytes in a batch as alone. Clips (video
layers) and an overlay that spans a skipped section keep the per-part path (``joinable``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg
from pvideo.render.ingest import Segment, TemplateVersion, concat_source, segmenting, x264_args
from pvideo.render.overlays import PlacedOverlay, overlay_chain
from pvideo.render.parts import POSTER_OPTIONS, PersonalPart, part_name

_PATTERN = "joint_%05d.ts"


@dataclass(frozen=True)
class JointChain:
    """One customer in a joint process: the overlays it draws, the folder its parts go to, and
    its poster (template frame, file): taken from the frames drawn here when a part holds that
    frame, instead of decoding the part again afterwards (``pvideo.render.engine.finish_outputs``)."""

    overlays: Sequence[PlacedOverlay]
    workdir: Path
    poster: tuple[int, Path] | None = None


def runs(spans: Sequence[Sequence[Segment]]) -> list[list[Segment]]:
    """The spans' segments grouped into runs of consecutive segments."""
    out: list[list[Segment]] = []
    for segment in (s for span in spans for s in span):
        if out and out[-1][-1].index + 1 == segment.index:
            out[-1].append(segment)
        else:
            out.append([segment])
    return out


def joinable(spans: Sequence[Sequence[Segment]], overlays: Sequence[PlacedOverlay], has_clips: bool) -> bool:
    """Whether ``joint_args`` can encode these parts: no clips, and every overlay inside one run."""
    if not spans or has_clips:
        return False
    bounds = [(run[0].first_frame, run[-1].first_frame + run[-1].frames) for run in runs(spans)]
    for overlay in overlays:
        touched = [(a, b) for a, b in bounds if overlay.first < b and a < overlay.stop]
        if len(touched) > 1:
            return False
    return True


def joint_args(
    version: TemplateVersion,
    spans: Sequence[Sequence[Segment]],
    segment_paths: Sequence[Path],
    chains: Sequence[JointChain],
    *,
    ffmpeg_exe: str,
) -> list[str]:
    """One process: decode the spans' segments once; per chain, draw its overlays, encode, cut into parts."""
    segments = [s for span in spans for s in span]
    source = ffmpeg.input(concat_source([segment_paths[s.index] for s in segments]), copyts=None)
    position, starts = 0, {}
    for segment in segments:
        starts[segment.index] = position
        position += segment.frames
    cuts = [starts[span[0].index] for span in spans[1:]] or [position]  # [position]: never cut
    encoder = x264_args(
        version.options.preset, version.options.crf, version.segment_frames, list(starts.values()), grid=False
    )
    options = {
        **{k.lstrip("-"): v for k, v in zip(encoder[::2], encoder[1::2])},
        **segmenting(cuts, version.segment_frames, version.fps),
        "enc_time_base:v": "1/90000",
        "fps_mode": "passthrough",  # the gaps between runs are not to be filled
        "c:a": "copy",
        "copyts": None,
    }
    # each run: its first template frame, its frames, and template frame less joint frame number
    shifts = [(r[0].first_frame, sum(s.frames for s in r), r[0].first_frame - starts[r[0].index]) for r in runs(spans)]
    streams = source.video.split() if len(chains) > 1 else None
    outputs = []
    for index, chain in enumerate(chains):
        video = streams[index] if streams is not None else source.video
        for first, frames, shift in shifts:
            drawn = [o for o in chain.overlays if o.touches(first, frames)]
            if drawn:
                video = overlay_chain(video, drawn, shift)
        video = video.filter("format", "yuv420p")
        at = _position(chain.poster[0], segments, starts) if chain.poster is not None else None
        if chain.poster is not None and at is not None:
            copies = video.split()
            video = copies[0]
            still = copies[1].filter("select", f"eq(n,{at})")
            outputs.append(ffmpeg.output(still, str(chain.poster[1]), **POSTER_OPTIONS))
        audio = [source.audio] if version.audio else []
        outputs.append(ffmpeg.output(video, *audio, str(chain.workdir / _PATTERN), **options))
    return ffmpeg_args(ffmpeg.merge_outputs(*outputs) if len(outputs) > 1 else outputs[0], ffmpeg_exe)


def _position(frame: int, segments: Sequence[Segment], starts: dict[int, int]) -> int | None:
    """Template frame ``frame``'s number in the joint stream, if a touched segment holds it."""
    for segment in segments:
        if segment.first_frame <= frame < segment.first_frame + segment.frames:
            return starts[segment.index] + frame - segment.first_frame
    return None


def run_joint(
    version: TemplateVersion,
    spans: Sequence[Sequence[Segment]],
    segment_paths: Sequence[Path],
    chains: Sequence[JointChain],
    *,
    ffmpeg_exe: str,
    timeout: float,
) -> list[list[PersonalPart]]:
    """Run ``joint_args`` (``timeout`` per chain); each chain's parts, in its workdir, named as parts are."""
    run_ffmpeg(joint_args(version, spans, segment_paths, chains, ffmpeg_exe=ffmpeg_exe), timeout=timeout * len(chains))
    out = []
    for chain in chains:
        parts = []
        for number, span in enumerate(spans):
            path = chain.workdir / part_name(span[0].index)
            (chain.workdir / (_PATTERN % number)).replace(path)
            parts.append(PersonalPart(span[0].index, len(span), path))
        out.append(parts)
    return out
