"""Render several customers of one template version in one pass: the frames decoded once.

``render_batch`` plans every customer as ``render_plan`` does (overlays placed
in the customer's own workdir, clips, skipped sections, the runs of segments
the personal windows touch), then encodes them the way ``render_plan`` would
alone, shared where it can be:

* without an ``encode_slot`` (worker processes), customers whose parts are the
  same share one joint process (``pvideo.render.joint``): every touched segment
  decoded once and ``split`` into one overlay + encode chain per customer, each
  cut into that customer's parts;
* with one (embedded mode, where the scheduler orders part encodes), and for
  customers the joint path cannot take, part by part: the customers whose part
  covers the same segments share one process (``batch_part_args``); a part only
  one customer has is encoded as it is alone (``part_args``).

The splice, the poster and the probe then run per customer (``finish_outputs``), one per core.

Byte-identical to rendering alone: each chain gets the same frames with the
same timestamps, the same filters and the same x264 settings (x264 is
deterministic for a given input and thread count, fixed for parts:
``pvideo.render.ingest.PART_THREADS``), and each output muxes the same packets.

One customer cannot fail the others: preparing a customer (its overlays, its
sections) fails only that customer, and when a shared process fails, its
customers are encoded again one by one, so only the chain that failed alone
carries the error. Memory is bounded by the batch (``render_batch_size``): one
process holds one decoder and at most K encoders, and groups run one at a time
unless ``workers`` says otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import ffmpeg

from pvideo.plan.model import RenderPlan
from pvideo.render.clips import PlacedClip, draw_clips, first_time, place_clips
from pvideo.render.engine import (
    ENCODE_OPTIONS,
    EngineOutputs,
    encoder_options,
    finish_outputs,
    part_args,
    personal_spans,
)
from pvideo.render.ffmpeg_run import ffmpeg_args, run_ffmpeg
from pvideo.render.ingest import Segment, TemplateVersion, concat_source
from pvideo.render.joint import JointChain, joinable, run_joint
from pvideo.render.overlays import PlacedOverlay, overlay_chain, place
from pvideo.render.parts import PersonalPart, part_name, poster_frame, skipped_segments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One customer's result in a batch: its outputs, or the error that failed it alone."""

    outputs: EngineOutputs | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class Chain:
    """One customer's overlay + encode chain over a shared span: what it draws, where it writes."""

    overlays: Sequence[PlacedOverlay]
    clips: Sequence[PlacedClip]
    out: Path


@dataclass
class _Customer:
    plan: RenderPlan
    workdir: Path
    overlays: list[PlacedOverlay]
    clips: list[PlacedClip]
    outputs: EngineOutputs
    spans: list[list[Segment]]
    parts: dict[int, PersonalPart] = field(default_factory=dict)
    error: Exception | None = None


def batch_part_args(
    version: TemplateVersion,
    span: Sequence[Segment],
    paths: Sequence[Path],
    chains: Sequence[Chain],
    *,
    ffmpeg_exe: str,
    origin: Fraction = Fraction(0),
) -> list[str]:
    """One process: decode ``span`` once, ``split`` it, and run each chain as ``part_args`` would alone."""
    first = span[0].first_frame
    frames = sum(s.frames for s in span)
    base = ffmpeg.input(concat_source(paths), copyts=None)
    copies = base.video.split()
    outputs = []
    for index, chain in enumerate(chains):
        video = draw_clips(copies[index], chain.clips, fps=version.fps, offset=first, frames=frames, origin=origin)
        video = overlay_chain(video, [o for o in chain.overlays if o.touches(first, frames)], first)
        outputs.append(
            ffmpeg.output(
                video,
                *([base.audio] if version.audio else []),
                str(chain.out),
                **encoder_options(version, span),
                **ENCODE_OPTIONS,
            )
        )
    return ffmpeg_args(ffmpeg.merge_outputs(*outputs), ffmpeg_exe)


def render_batch(
    plans: Sequence[RenderPlan],
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    workdirs: Sequence[Path],
    *,
    ffmpeg_exe: str,
    mp4: bool = True,
    timeout: float = 600.0,
    workers: int = 1,
    encode_slot: Callable[[int], AbstractContextManager[object]] | None = None,
) -> list[Outcome]:
    """Render ``plans`` (customers of ``version``) into their ``workdirs``; one ``Outcome`` per plan, in order.

    ``timeout`` bounds each ffmpeg run of one customer; a shared run gets it once per customer.
    ``encode_slot(first segment)``, if given, is held around each part's encode, shared or not
    (as ``render_plan`` holds it: ``pvideo.jobs.scheduling``).
    """
    if len(plans) != len(workdirs):
        raise ValueError("render_batch needs one workdir per plan")
    origin = first_time(segment_paths[0])
    customers = [_prepare(plan, version, workdir, origin) for plan, workdir in zip(plans, workdirs)]
    todo = [c for c in customers if isinstance(c, _Customer)]
    if encode_slot is None:  # as render_plan: every part from one process (``pvideo.render.joint``)
        todo = _encode_joint(version, segment_paths, todo, ffmpeg_exe=ffmpeg_exe, timeout=timeout, workers=workers)
    groups: dict[tuple[int, int], list[_Customer]] = {}
    spans: dict[tuple[int, int], list[Segment]] = {}
    for customer in todo:
        if isinstance(customer, _Customer):
            for span in customer.spans:
                key = (span[0].index, len(span))
                groups.setdefault(key, []).append(customer)
                spans[key] = span

    def encode(key: tuple[int, int]) -> None:
        with encode_slot(key[0]) if encode_slot is not None else nullcontext():
            _encode_group(
                version, spans[key], segment_paths, groups[key], origin, ffmpeg_exe=ffmpeg_exe, timeout=timeout
            )

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(encode, sorted(groups)))

    def finish(customer: _Customer | Outcome) -> Outcome:
        return _finish(customer, version, segment_paths, ffmpeg_exe=ffmpeg_exe, mp4=mp4, timeout=timeout)

    # each customer's splice, poster and probe are a process of a single thread: side by side, one per core
    with ThreadPoolExecutor(max_workers=min(len(customers), os.cpu_count() or 2) or 1) as pool:
        return list(pool.map(finish, customers))


def _encode_joint(
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    customers: list[_Customer],
    *,
    ffmpeg_exe: str,
    timeout: float,
    workers: int,
) -> list[_Customer]:
    """Customers whose parts are the same share one joint process (alone, one each); returns
    those the joint path cannot take (``joinable``), for the per-part path."""
    groups: dict[tuple[tuple[int, int], ...], list[_Customer]] = {}
    rest = []
    for customer in customers:
        if joinable(customer.spans, customer.overlays, bool(customer.clips)):
            groups.setdefault(tuple((s[0].index, len(s)) for s in customer.spans), []).append(customer)
        else:
            rest.append(customer)

    def run(group: list[_Customer]) -> None:
        chains = [_chain(c, version) for c in group]
        made = run_joint(version, group[0].spans, segment_paths, chains, ffmpeg_exe=ffmpeg_exe, timeout=timeout)
        for customer, parts in zip(group, made):
            customer.parts = {p.first: p for p in parts}

    def encode(group: list[_Customer]) -> None:
        if len(group) > 1:
            try:
                run(group)
            except Exception as exc:  # one chain may have failed them all: find it by encoding each alone
                log.warning("a shared render of %d customers failed, encoding them alone: %s", len(group), exc)
            else:
                return
        for customer in group:
            try:
                run([customer])
            except Exception as exc:
                customer.error = exc

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(encode, groups.values()))
    return rest


def _chain(customer: _Customer, version: TemplateVersion) -> JointChain:
    poster = poster_frame(customer.plan, version, customer.outputs.skip)
    return JointChain(customer.overlays, customer.workdir, (poster, customer.outputs.poster))


def _prepare(plan: RenderPlan, version: TemplateVersion, workdir: Path, origin: Fraction) -> _Customer | Outcome:
    """What ``render_plan`` works out before encoding; a customer whose plan cannot render fails here alone."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        overlays = place(plan.personal_overlays, version.fps, version.frames, workdir)
        clips = place_clips(plan.clips, version.fps, version.frames)
        skip = skipped_segments(plan, version)
        outputs = EngineOutputs(poster=workdir / "poster.jpg", skip=skip, origin=origin)
        return _Customer(plan, workdir, overlays, clips, outputs, personal_spans(version, overlays, clips, skip))
    except Exception as exc:
        return Outcome(error=exc)


def _encode_group(
    version: TemplateVersion,
    span: list[Segment],
    segment_paths: Sequence[Path],
    group: list[_Customer],
    origin: Fraction,
    *,
    ffmpeg_exe: str,
    timeout: float,
) -> None:
    """The part ``span`` for every customer in ``group``: one shared process, else one each."""
    paths = [segment_paths[s.index] for s in span]
    at = origin + Fraction(span[0].first_frame) / version.fps
    todo = [c for c in group if c.error is None]
    if len(todo) > 1:
        chains = [Chain(c.overlays, c.clips, c.workdir / part_name(span[0].index)) for c in todo]
        try:
            run_ffmpeg(
                batch_part_args(version, span, paths, chains, ffmpeg_exe=ffmpeg_exe, origin=at),
                timeout=timeout * len(todo),
            )
        except Exception as exc:  # one chain may have failed them all: find it by encoding each alone
            log.warning(
                "shared part at segment %d failed, encoding its %d customers alone: %s", span[0].index, len(todo), exc
            )
        else:
            for customer, chain in zip(todo, chains):
                customer.parts[span[0].index] = PersonalPart(span[0].index, len(span), chain.out)
            return
    for customer in todo:
        out = customer.workdir / part_name(span[0].index)
        try:
            args = part_args(
                version, span, paths, customer.overlays, out, ffmpeg_exe=ffmpeg_exe, clips=customer.clips, origin=at
            )
            run_ffmpeg(args, timeout=timeout)
        except Exception as exc:
            customer.error = customer.error or exc
        else:
            customer.parts[span[0].index] = PersonalPart(span[0].index, len(span), out)


def _finish(
    customer: _Customer | Outcome,
    version: TemplateVersion,
    segment_paths: Sequence[Path],
    *,
    ffmpeg_exe: str,
    mp4: bool,
    timeout: float,
) -> Outcome:
    if isinstance(customer, Outcome):
        return customer
    if customer.error is not None:
        return Outcome(error=customer.error)
    outputs = customer.outputs
    outputs.parts = [customer.parts[first] for first in sorted(customer.parts)]
    try:
        finish_outputs(
            customer.plan,
            version,
            segment_paths,
            outputs,
            customer.workdir,
            ffmpeg_exe=ffmpeg_exe,
            mp4=mp4,
            timeout=timeout,
        )
    except Exception as exc:
        return Outcome(error=exc)
    return Outcome(outputs=outputs)
