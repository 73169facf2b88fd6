"""The template version a plan renders on: ingested on first use, then reused.

A version bakes in the plan's static overlays (the same for every customer)
and cuts segments, each starting on an IDR frame, at the scene's section
boundaries and at the bounds of its personal windows (``RenderPlan.cuts``, part
of the version hash: scenes with other windows get another version); a plan
with background tracks renders on an audio variant of it (``pvideo.render.variants``), shared by every
customer with the same tracks. So the per-customer engines only ever touch
personalized video. Ingest runs at most once per host at a time (a file lock
in the cache folder) and, given the database, once across machines: the
machine that takes the lease ``ingest:<version hash>`` ingests, renewing it
while it works, and the others poll storage for ``manifest.json`` (taking the
lease over if it lapses: its holder died). Any host that finds the manifest
reuses the stored segments.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from pvideo.db import leases
from pvideo.db.engine import Database
from pvideo.errors import RenderError
from pvideo.files import file_hash
from pvideo.plan.model import RenderPlan
from pvideo.render import hls
from pvideo.render.engine import EngineOutputs, render_plan
from pvideo.render.ingest import (
    IngestOptions,
    TemplateVersion,
    ingest,
    segment_files,
    stored_version,
    version_hash,
)
from pvideo.render.parts import PersonalPart
from pvideo.render.variants import audio_variant, variant_hash
from pvideo.settings import Settings
from pvideo.storage import Storage

log = logging.getLogger(__name__)
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


def base_version(
    plan: RenderPlan, storage: Storage, settings: Settings, *, db: Database | None = None
) -> TemplateVersion:
    """Ingest ``plan.template`` with its static overlays baked in and segments cut at its
    sections' boundaries and personal windows' bounds, unless already stored (under the
    ingest lease in ``db``, if given)."""
    options = replace(ingest_options(settings), cuts=plan.cuts)
    vhash = version_hash(file_hash(plan.template), options, plan.static_overlays)
    return _once(
        storage,
        settings,
        db,
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


def template_version(
    plan: RenderPlan, storage: Storage, settings: Settings, *, db: Database | None = None
) -> TemplateVersion:
    """The version ``plan`` renders on: the base version, or its audio variant when the plan
    has background tracks. With ``db``, each is made by one machine at a time (see above);
    without (a preview, the CLI), by one process per host."""
    version = base_version(plan, storage, settings, db=db)
    if not plan.audio:
        return version
    return _once(
        storage,
        settings,
        db,
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


def _once(
    storage: Storage,
    settings: Settings,
    db: Database | None,
    vhash: str,
    make: Callable[[], TemplateVersion],
) -> TemplateVersion:
    """The version ``vhash``: from this process's memo, else made (or found stored) under the host
    lock and, with ``db``, the machines' lease."""
    cache_key = (repr(storage), vhash)
    with _lock:
        cached = _versions.get(cache_key)
    if cached is not None:
        return cached
    with _host_lock(cache_dir(settings) / "locks" / f"{vhash}.lock"):
        version = make() if db is None else _leased(db, storage, settings, vhash, make)
    with _lock:
        _versions[cache_key] = version
    return version


def _leased(
    db: Database, storage: Storage, settings: Settings, vhash: str, make: Callable[[], TemplateVersion]
) -> TemplateVersion:
    """The stored version ``vhash``, or ``make()`` while holding its lease; between the two, wait.

    The wait is bounded (``ingest_wait_seconds``): past it the attempt fails transiently and
    is retried later. Without a usable lease (database down, table missing) the version is
    made anyway: ingest is content-addressed, so a second maker costs work, never correctness.
    """
    name, holder = f"ingest:{vhash}", leases.new_holder()
    deadline, pause = time.monotonic() + settings.ingest_wait_seconds, 0.2
    while (stored := stored_version(storage, vhash)) is None:
        try:
            taken = leases.acquire(db, name, holder, settings.ingest_lease_seconds)
        except SQLAlchemyError as exc:
            log.warning("no ingest lease for template version %s, making it without one: %s", vhash, exc)
            return make()
        if taken:
            with leases.renewed(db, name, holder, settings.ingest_lease_seconds):
                return make()
        remaining = deadline - time.monotonic()
        if remaining <= 0:  # the whole wait, not a guess that the next pause would overrun it
            raise RenderError(
                f"template version {vhash} is still being made by another worker after "
                f"{settings.ingest_wait_seconds:g} s"
            )
        if pause == 0.2:
            log.info("template version %s is being made by another worker: waiting for it", vhash)
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 2.0)
    return stored


def render_on_template(
    plan: RenderPlan,
    version: TemplateVersion,
    storage: Storage,
    settings: Settings,
    workdir: Path,
    *,
    mp4: bool = True,
    on_part: Callable[[PersonalPart], None] | None = None,
    encode_slot: Callable[[int], AbstractContextManager[object]] | None = None,
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
        encode_slot=encode_slot,
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
