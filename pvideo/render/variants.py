"""Template variants: a template version with background tracks mixed into its audio.

A variant is content-addressed like a version (the base version's hash plus
each track's bytes, window and gains), so every customer who gets the same
track shares one set of segments and per-customer work stays the personalized
video parts. Making one copies the base's video packets (same keyframes, same
timestamps, same segment cuts) and encodes only the mixed audio.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import ffmpeg

from pvideo.errors import AssetError
from pvideo.plan.model import AudioTrack
from pvideo.render.clips import first_time
from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg
from pvideo.render.ingest import (
    AUDIO_RATE,
    TemplateVersion,
    concat_source,
    describe,
    segmenting,
    store_version,
    stored_version,
)
from pvideo.storage import Storage


def variant_hash(base: TemplateVersion, tracks: Sequence[AudioTrack]) -> str:
    """The base version + each track's bytes, window and gains."""
    mix = [[t.digest, t.start, t.end, t.volume, t.template_volume] for t in tracks]
    return hashlib.sha256(json.dumps(["audio-variant", base.hash, mix]).encode()).hexdigest()[:24]


def mix_args(
    base: TemplateVersion,
    paths: Sequence[Path],
    tracks: Sequence[AudioTrack],
    out_dir: Path,
    lengths: Sequence[float | None],
    *,
    origin: Fraction,
    ffmpeg_exe: str,
) -> list[str]:
    """Copy the base's video, mix ``tracks`` under its audio, cut at the base's segment starts.

    Each track starts at its ``start`` (template seconds), is cut at its ``end``
    and scaled by ``volume``; the template's own audio is scaled by
    ``template_volume`` while the track plays (``lengths``: each track's own
    seconds, when known). The mix starts at ``origin`` (frame
    0's timestamp; earlier samples are the base's encoder priming), so the AAC
    encoder's own priming lands where the base's was and the variant keeps the
    base's timeline. A base without audio has no priming (its frames start at
    0): the tracks are mixed over silence, and the muxer moves the variant's
    frames later by the new priming, keeping audio and video in sync.
    """
    src = ffmpeg.input(concat_source(paths), copyts=None)
    if base.audio:
        template = src.audio.filter("atrim", start=f"{float(origin):.9f}").filter("asetpts", "PTS-STARTPTS")
    else:  # the tracks are the only sound: mixed over silence as long as the video
        silence = ffmpeg.input(f"anullsrc=r={AUDIO_RATE}:cl=stereo", f="lavfi").audio
        template = silence.filter("atrim", end=f"{base.duration:.6f}")
    layers = []
    for track, length in zip(tracks, lengths, strict=True):
        stop = _stop(track, length)
        window = f"between(t,{track.start:g},{stop:g})" if stop is not None else f"gte(t,{track.start:g})"
        if track.template_volume != 1:
            template = template.filter("volume", volume=f"{track.template_volume:g}", enable=window)
        music = ffmpeg.input(str(track.src)).audio.filter("asetpts", "PTS-STARTPTS")
        if track.end is not None:
            music = music.filter("atrim", end=f"{track.end - track.start:g}")
        layers.append(
            music.filter("aformat", sample_rates=AUDIO_RATE, channel_layouts="stereo")
            .filter("volume", volume=f"{track.volume:g}")
            .filter("adelay", delays=round(track.start * 1000), all=1)
        )
    mixed = ffmpeg.filter(
        [template, *layers], "amix", inputs=len(layers) + 1, duration="first", normalize=0, dropout_transition=0
    ).filter("asetpts", f"PTS+{origin.numerator}/{origin.denominator}/TB")
    cuts = [s.first_frame for s in base.segments[1:]]
    stream = ffmpeg.output(
        src.video,
        mixed,
        str(out_dir / "seg_%05d.ts"),
        **{
            "c:v": "copy",
            "c:a": "aac",
            "b:a": base.options.audio_bitrate,
            "ar": AUDIO_RATE,
            "ac": 2,
            "copyts": None,
            **segmenting(cuts, base.segment_frames, base.fps),
        },
    )
    return ffmpeg_args(stream, ffmpeg_exe)


def _stop(track: AudioTrack, length: float | None) -> float | None:
    """When the track falls silent: its ``end``, or earlier when the file runs out."""
    stops = [t for t in (track.end, None if length is None else track.start + length) if t is not None]
    return min(stops) if stops else None


def audio_variant(
    base: TemplateVersion,
    paths: Sequence[Path],
    tracks: Sequence[AudioTrack],
    storage: Storage,
    *,
    ffmpeg_exe: str,
    timeout: float = 1800.0,
) -> TemplateVersion:
    """The variant of ``base`` (local segment ``paths``) with ``tracks`` mixed in, made unless stored."""
    vhash = variant_hash(base, tracks)
    stored = stored_version(storage, vhash)
    if stored is not None:
        return stored
    with tempfile.TemporaryDirectory(prefix="pvideo-variant-") as tmp:
        out = Path(tmp)
        run_ffmpeg(
            mix_args(
                base,
                paths,
                tracks,
                out,
                [track_seconds(t) for t in tracks],
                origin=first_time(paths[0]),
                ffmpeg_exe=ffmpeg_exe,
            ),
            timeout=timeout,
        )
        return store_version(describe(base.source, vhash, out, base.options), out, storage)


def track_seconds(track: AudioTrack) -> float | None:
    """The track's length; a file without an audio stream fails the row (a permanent error)."""
    try:
        with av.open(str(track.src)) as container:
            if not container.streams.audio:
                raise AssetError(f"{track.layer}: {track.src.name} has no audio stream")
            return container.duration / av.time_base if container.duration else None
    except av.error.FFmpegError as exc:
        raise AssetError(f"{track.layer}: {track.src.name} is not a readable audio file: {exc}") from None
