"""Batches (``pvideo.render.batch``): several customers, shared parts decoded once, and every
output byte for byte what rendering that customer alone makes; one bad chain fails only its customer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pvideo.errors import RenderError
from pvideo.plan.compiler import compile_plan
from pvideo.render.batch import Chain, batch_part_args, render_batch
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.scene.customers import coerce_row
from pvideo.storage import LocalStorage
from tests.media import frames_rgb

NAMES = ["Ana", "Bartholomew", "Chiara"]


@pytest.fixture()
def customers(card_spec, settings, tmp_path):
    plans = [
        compile_plan(
            card_spec,
            coerce_row(card_spec, {"customer_id": f"c{i}", "first_name": name, "plan": f"P{i}", "price": 9}),
            assets_dir=settings.assets_dir,
        )
        for i, name in enumerate(NAMES)
    ]
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plans[0].template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plans[0].static_overlays)
    return plans, version, segment_files(version, storage, tmp_path / "cache")


def _alone(plan, version, paths, settings, workdir):
    return render_plan(plan, version, paths, workdir, ffmpeg_exe=settings.ffmpeg_exe)


def test_batch_outputs_are_byte_identical_to_single_renders(customers, settings, tmp_path):
    plans, version, paths = customers
    outcomes = render_batch(
        plans, version, paths, [tmp_path / f"batch{i}" for i in range(len(plans))], ffmpeg_exe=settings.ffmpeg_exe
    )
    assert [o.error for o in outcomes] == [None] * len(plans)
    for i, (plan, outcome) in enumerate(zip(plans, outcomes)):
        alone = _alone(plan, version, paths, settings, tmp_path / f"alone{i}")
        batch = outcome.outputs
        assert (
            [(p.first, p.count) for p in batch.parts] == [(p.first, p.count) for p in alone.parts] == [(1, 1), (2, 2)]
        )
        for mine, theirs in zip(batch.parts, alone.parts):
            assert mine.path.read_bytes() == theirs.path.read_bytes()  # the HLS parts
        assert batch.video.read_bytes() == alone.video.read_bytes()  # the MP4
        assert batch.poster.read_bytes() == alone.poster.read_bytes()
        assert batch.info == alone.info and batch.info.frames == version.frames
    # the customers really differ: their personalized frames are not the same pixels
    first, second = (frames_rgb(o.outputs.parts[0].path)[0] for o in outcomes[:2])
    assert (first != second).any()


def test_shared_parts_are_one_process_with_one_chain_per_customer(customers, settings, tmp_path):
    _, version, paths = customers
    span = version.segments[2:4]
    chains = [Chain([], [], tmp_path / f"out{i}.ts") for i in range(3)]
    args = batch_part_args(version, span, [paths[2], paths[3]], chains, ffmpeg_exe=settings.ffmpeg_exe)
    graph = args[args.index("-filter_complex") + 1]
    assert args.count("-i") == 1 and graph.count("split=3") == 1  # one decode, three copies
    assert [a for a in args if a.endswith(".ts") and not a.startswith("concat:")] == [str(c.out) for c in chains]
    assert args.count("libx264") == 3


def test_customers_with_other_parts_share_only_what_coincides(customers, settings, tmp_path):
    plans, version, paths = customers
    # the third customer has no CTA: only its hello part (segment 1) is shared with the others
    hello_only = replace(plans[2], overlays=tuple(o for o in plans[2].overlays if "buy" not in o.layer))
    mixed = [plans[0], plans[1], hello_only]
    outcomes = render_batch(
        mixed, version, paths, [tmp_path / f"batch{i}" for i in range(3)], ffmpeg_exe=settings.ffmpeg_exe
    )
    assert [(p.first, p.count) for p in outcomes[2].outputs.parts] == [(1, 1)]
    alone = _alone(hello_only, version, paths, settings, tmp_path / "alone")
    assert outcomes[2].outputs.video.read_bytes() == alone.video.read_bytes()


def test_a_bad_overlay_fails_only_its_customer(customers, settings, tmp_path):
    plans, version, paths = customers
    broken = [replace(o, png=b"not a png") if not o.static and "hello" in o.layer else o for o in plans[1].overlays]
    bad = replace(plans[1], overlays=tuple(broken))
    outcomes = render_batch(
        [plans[0], bad, plans[2]],
        version,
        paths,
        [tmp_path / f"b{i}" for i in range(3)],
        ffmpeg_exe=settings.ffmpeg_exe,
    )
    assert isinstance(outcomes[1].error, RenderError) and outcomes[1].outputs is None
    for i in (0, 2):
        assert outcomes[i].error is None
        alone = _alone(plans[i], version, paths, settings, tmp_path / f"alone{i}")
        assert outcomes[i].outputs.video.read_bytes() == alone.video.read_bytes()


def test_a_plan_that_cannot_render_fails_alone_before_any_encode(customers, settings, tmp_path):
    plans, version, paths = customers
    (tmp_path / "blocker").write_text("")
    outcomes = render_batch(
        [plans[0], plans[1]],
        version,
        paths,
        [tmp_path / "ok2", tmp_path / "blocker" / "sub"],  # a file where the workdir should be
        ffmpeg_exe=settings.ffmpeg_exe,
    )
    assert outcomes[0].error is None and outcomes[0].outputs.video.exists()
    assert isinstance(outcomes[1].error, OSError)
