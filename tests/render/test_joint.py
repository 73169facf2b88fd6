"""One process for every part of a render (``pvideo.render.joint``): the parts it cuts are the
parts the per-part path makes, frame for frame and timestamp for timestamp, at the same quality."""

from __future__ import annotations

from contextlib import nullcontext
from fractions import Fraction
from pathlib import Path

import av
import pytest

from pvideo.render.engine import render_plan
from pvideo.render.ingest import Segment, segment_files
from pvideo.render.joint import JointChain, joinable, joint_args, runs
from pvideo.render.overlays import PlacedOverlay
from pvideo.render.versions import cache_dir, template_version
from pvideo.storage import LocalStorage
from tests.media import frames_rgb, psnr
from tests.render.test_window_cuts import _plan, _scene


def _packets(path: Path) -> dict[str, list[int]]:
    """Each stream's packet timestamps (90 kHz), in file order."""
    with av.open(str(path)) as container:
        out: dict[str, list[int]] = {"video": [], "audio": []}
        for packet in container.demux():
            if packet.size and packet.pts is not None:
                out[packet.stream.type].append(packet.pts)
        return out


@pytest.fixture()
def both(settings, tmp_path):
    """The window-cuts scene's Pro row (three runs of touched segments, gaps between them)
    rendered by the joint path and by the per-part path."""
    plan = _plan(settings, _scene(), "Pro")
    storage = LocalStorage(tmp_path / "store")
    version = template_version(plan, storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    joint = render_plan(plan, version, paths, tmp_path / "joint", ffmpeg_exe=settings.ffmpeg_exe)
    apart = render_plan(
        plan, version, paths, tmp_path / "apart", ffmpeg_exe=settings.ffmpeg_exe, encode_slot=lambda _: nullcontext()
    )
    return version, paths, joint, apart


def test_the_joint_parts_are_the_per_part_paths_parts(both):
    version, _, joint, apart = both
    layout = [(p.first, p.count) for p in joint.parts]
    assert layout == [(p.first, p.count) for p in apart.parts]
    assert len(runs([version.segments[f : f + c] for f, c in layout])) >= 2  # gaps between the runs
    for mine, theirs in zip(joint.parts, apart.parts):
        ours, reference = _packets(mine.path), _packets(theirs.path)
        assert ours["video"] == reference["video"]  # same frames, same template timestamps: splices in place
        assert ours["audio"] == reference["audio"]  # the same audio packets, copied
        frames = sum(s.frames for s in version.segments[mine.first : mine.first + mine.count])
        assert len(ours["video"]) == frames
        worst = min(psnr(a, b) for a, b in zip(frames_rgb(mine.path), frames_rgb(theirs.path)))
        assert worst >= 40, f"part {mine.first}: worst frame {worst:.1f} dB"
    # the poster (frame 60, inside a part) comes from the joint process's own frames, before encoding
    poster, reference = (frames_rgb(o.poster)[0] for o in (joint, apart))
    assert psnr(poster, reference) >= 35
    assert joint.info.frames == apart.info.frames == version.frames
    assert joint.info.duration == pytest.approx(apart.info.duration, abs=1e-3)


def test_each_part_starts_on_an_idr_frame(both):
    _, _, joint, _ = both
    for part in joint.parts:
        with av.open(str(part.path)) as container:
            first = next(p for p in container.demux(video=0) if p.size)
            assert first.is_keyframe, part.path.name


def _segments(*frames: int) -> list[Segment]:
    out, first = [], 0
    for index, count in enumerate(frames):
        out.append(Segment(index=index, first_frame=first, frames=count, key=f"seg_{index:05d}.ts", bytes=0))
        first += count
    return out


def _overlay(first: int, stop: int) -> PlacedOverlay:
    return PlacedOverlay(Path("o.png"), 0, 0, first, stop, fps=Fraction(30))


def test_joinable_needs_every_overlay_inside_one_run_and_no_clips():
    segments = _segments(30, 30, 30, 30)
    spans = [[segments[0]], [segments[2], segments[3]]]  # two runs: 0-30 and 60-120
    assert joinable(spans, [_overlay(5, 20), _overlay(70, 110)], has_clips=False)
    assert not joinable(spans, [_overlay(5, 20)], has_clips=True)
    assert not joinable(spans, [_overlay(10, 80)], has_clips=False)  # across the gap (a skipped section)
    assert not joinable([], [], has_clips=False)


def test_one_decode_and_one_encoder_per_customer(both, settings, tmp_path):
    version, paths, joint, _ = both
    spans = [version.segments[p.first : p.first + p.count] for p in joint.parts]
    chains = [JointChain([], tmp_path / f"c{i}") for i in range(3)]
    args = joint_args(version, spans, paths, chains, ffmpeg_exe=settings.ffmpeg_exe)
    graph = args[args.index("-filter_complex") + 1]
    assert args.count("-i") == 1 and graph.count("split=3") == 1
    assert args.count("libx264") == 3 and args.count("segment") == 3
    cuts = args[args.index("-segment_frames") + 1].split(",")
    assert len(cuts) == len(spans) - 1
