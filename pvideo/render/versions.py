"""The template version a plan renders on: ingested on first use, then reused.

A version bakes in the plan's static overlays (the same for every customer)
and cuts segments at the scene's section boundaries; a plan with background
tracks renders on an audio variant of it (``pvideo.render.variants``), shared by every
customer with the same tracks. So the per-customer engines only ever touch
personalized video. Ingest runs at most once per host at a time (a file lock
in the cache folder); any host that finds ``manifest.json`` in storage reuses
the stored segments.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from pvideo.plan.assets import file_hash
from pvideo.plan.model import RenderPlan
from pvideo.render import hls
from pvideo.render.engine import EngineOutputs, render_plan
from pvideo.render.ingest import IngestOptions, TemplateVersion, ingest, segment_files, version_hash
from pvideo.render.parts import PersonalPart
from pvideo.render.variants import audio_variant, variant_hash
from pvideo.settings import Settings
from pvideo.storage import Storage

_versions: dict[tuple[str, str], TemplateVersion] = {}
_lock = threading.Lock()


def ingest_options(settings: Settings) -> IngestOptions:
    return IngestOptions(segment_seconds=settings.segment_seconds, preset=settings.x264_preset, crf=settings.x264_crf)


def cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "cache"


@contextmanager
def _host_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_version(plan: RenderPlan, storage: Storage, settings: Settings) -> TemplateVersion:
    """Ingest ``plan.template`` with its static overlays baked in and segments cut at its
    sections' boundaries, unless already stored."""
    options = replace(ingest_options(settings), cuts=plan.cuts)
    vhash = version_hash(file_hash(plan.template), options, plan.static_overlays)
    return _once(
        storage,
        settings,
        vhash,
        lambda: ingest(
            plan.template,
            storage,
            ffmpeg_exe=settings.ffmpeg_exe,
            options=options,
            baked=plan.static_overlays,
            timeout=settings.ffmpeg_timeout,
        ),
    )


def template_version(plan: RenderPlan, storage: Storage, settings: Settings) -> TemplateVersion:
    """The version ``plan`` renders on: the base version, or its audio variant when the plan
    has background tracks."""
    version = base_version(plan, storage, settings)
    if not plan.audio:
        return version
    return _once(
        storage,
        settings,
        variant_hash(version, plan.audio),
        lambda: audio_variant(
            version,
            segment_files(version, storage, cache_dir(settings)),
            plan.audio,
            storage,
            ffmpeg_exe=settings.ffmpeg_exe,
            timeout=settings.ffmpeg_timeout,
        ),
    )


def _once(storage: Storage, settings: Settings, vhash: str, make: Callable[[], TemplateVersion]) -> TemplateVersion:
    """The version ``vhash``: from this process's memo, else made (or found stored) under the host lock."""
    cache_key = (repr(storage), vhash)
    with _lock:
        cached = _versions.get(cache_key)
    if cached is not None:
        return cached
    with _host_lock(cache_dir(settings) / "locks" / f"{vhash}.lock"):
        version = make()
    with _lock:
        _versions[cache_key] = version
    return version


def render_on_template(
    plan: RenderPlan,
    version: TemplateVersion,
    storage: Storage,
    settings: Settings,
    workdir: Path,
    *,
    mp4: bool = True,
    on_part: Callable[[PersonalPart], None] | None = None,
) -> EngineOutputs:
    """Run the configured engine (``PVIDEO_ENGINE``) for ``plan`` over ``version``."""
    paths = segment_files(version, storage, cache_dir(settings))
    return render_plan(
        plan,
        version,
        paths,
        workdir,
        ffmpeg_exe=settings.ffmpeg_exe,
        engine=settings.engine,
        mp4=mp4,
        timeout=settings.ffmpeg_timeout,
        on_part=on_part,
    )


def store_hls(version: TemplateVersion, outputs: EngineOutputs, storage: Storage, prefix: str) -> str:
    """Store the customer's parts and their playlist under ``prefix``; return the playlist key.

    The playlist goes last: its presence means every part it names is stored.
    Parts are content-addressed, so a part already stored (on demand, or by a
    retried render) is kept, not written again.
    """
    for part in outputs.parts:
        key = f"{prefix}/{part.path.name}"
        if not storage.exists(key):
            storage.put_file_if_absent(key, part.path, "video/mp2t")
    key = f"{prefix}/{hls.PLAYLIST}"
    text = hls.media_playlist(hls.entries(version, [(p.first, p.count) for p in outputs.parts], prefix, outputs.skip))
    storage.put_bytes(key, text.encode(), "application/vnd.apple.mpegurl")
    return key
