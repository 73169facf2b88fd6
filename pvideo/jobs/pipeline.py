"""Render one customer: load -> compile -> render -> store -> mark done.

Outputs are content-addressed (``outputs/<digest>/...``, the digest covering
the template version, the overlays and the engine), so a retry or a
re-submitted campaign finds finished work and renders nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import null, select

from pvideo.db.engine import Database, database_errors
from pvideo.db.models import ErasureJob, Outputs, Render, RenderStatus
from pvideo.errors import DataError, PermanentError, PvideoError, StorageError, TransientError
from pvideo.jobs import claims, privacy_options
from pvideo.logs import log_context
from pvideo.plan.assets import AssetsDir
from pvideo.plan.compiler import compile_plan
from pvideo.plan.model import RenderPlan
from pvideo.plan.uploads import asset_root
from pvideo.render import captions, hls, thumbnails
from pvideo.render.engine import EngineOutputs, splice_args
from pvideo.render.ffmpeg_run import run_ffmpeg
from pvideo.render.ingest import TemplateVersion, segment_files
from pvideo.render.parts import PersonalPart, output_duration
from pvideo.render.versions import cache_dir, render_on_template, store_hls, template_version
from pvideo.scene.spec import SceneSpec, parse_scene
from pvideo.settings import Settings
from pvideo.storage import Storage

log = logging.getLogger(__name__)


def output_digest(plan: RenderPlan, version: TemplateVersion, engine: str) -> str:
    """Template version (source bytes, encoder settings, baked layers) + overlays + engine."""
    h = hashlib.sha256()
    for part in (plan.digest(), version.hash, engine):
        h.update(part.encode())
    return h.hexdigest()


@dataclass(frozen=True)
class RenderHooks:
    """Optional callbacks for streaming a render while it runs (on-demand viewing)."""

    on_plan: Callable[[RenderPlan, TemplateVersion, str], None] | None = None  # before encoding
    on_part: Callable[[PersonalPart], None] | None = None  # each personal part, earliest first
    encode_slot: Callable[[int], AbstractContextManager[object]] | None = None  # held around each part's encode
    finish_slot: Callable[[], AbstractContextManager[object]] | None = None  # around thumbnails, storing, done


def render_customer(
    db: Database,
    storage: Storage,
    settings: Settings,
    render_id: str,
    *,
    hooks: RenderHooks = RenderHooks(),
) -> str:
    """Render ``render_id`` and return its final status.

    The row is claimed first (``pvideo.jobs.claims``): a render already finished,
    cancelled, or held by another live worker is not rendered again, and each
    claim counts one of the row's ``render_max_retries + 1`` attempts. Permanent
    errors fail the render with the reason. Any other error (ffmpeg, storage,
    database, a full or read-only disk) puts the row back in the queue with its
    reason, releasing the lease so the retry can claim it at once, and is
    re-raised for the queue to retry; on the last attempt it fails the row
    instead. ``RenderBusy`` is raised (and never fails the row) while another
    worker holds the lease.
    """
    with log_context(render_id=render_id):
        with database_errors():
            job = claims.claim(db, render_id, settings.render_lease_seconds, max_attempts=max_attempts(settings))
        if isinstance(job, str):
            log.info("render %s is %s: nothing to do", render_id, job)
            return job
        with log_context(campaign_id=job.campaign_id):
            return _run(db, storage, settings, job, hooks=hooks)


def max_attempts(settings: Settings) -> int:
    return settings.render_max_retries + 1


def _run(db: Database, storage: Storage, settings: Settings, job: claims.Job, *, hooks: RenderHooks) -> str:
    started = time.perf_counter()
    try:
        with claims.keep_lease(db, job.render_id, settings.render_lease_seconds):
            work = prepare(db, storage, settings, job)
            if hooks.on_plan is not None:
                hooks.on_plan(work.plan, work.version, work.digest)
            with tempfile.TemporaryDirectory(prefix="pvideo-render-") as tmp:
                outputs = None
                if work.needs_render(storage):
                    outputs = render_on_template(
                        work.plan,
                        work.version,
                        storage,
                        settings,
                        Path(tmp),
                        mp4=work.mp4,
                        on_part=hooks.on_part,
                        encode_slot=hooks.encode_slot,
                    )
                with hooks.finish_slot() if hooks.finish_slot is not None else nullcontext():
                    return store_and_finish(db, storage, settings, work, outputs, Path(tmp), started=started)
    except Exception as exc:
        return settle(db, settings, job, exc)


@dataclass(frozen=True)
class Work:
    """A claimed render, compiled: its plan, template version, output keys; what storing it needs."""

    job: claims.Job
    spec: SceneSpec
    plan: RenderPlan
    version: TemplateVersion
    digest: str
    mp4: bool
    want_hls: bool
    storage_less: bool
    tracks: dict[str, str]

    def key(self, name: str) -> str:
        return f"outputs/{self.digest}/{name}"

    def needs_render(self, storage: Storage) -> bool:
        """False when every output is already stored (a retry, a re-submitted campaign)."""
        keys = [self.key("poster.jpg"), *(self.key(name) for name in ANIMATED)]
        keys += [self.key("video.mp4")] if self.mp4 else []
        keys += [hls.playlist_key(self.digest)] if self.want_hls else []
        return not all(storage.exists(key) for key in keys)


def prepare(db: Database, storage: Storage, settings: Settings, job: claims.Job) -> Work:
    """Compile the row, find (or make) its template version and store its tracks."""
    storage_less = privacy_options.storage_less(job.retention, settings)
    if storage_less and not job.data_kept:
        raise DataError(privacy_options.ROW_DATA_NOT_KEPT)
    spec = parse_scene(job.scene, source=f"scene {job.scene.get('name')!r}")
    plan = compile_plan(
        spec,
        job.data,
        assets_dir=asset_root(settings, storage),
        customer_id=job.customer_id,
        row_number=job.row_number,
        storage=storage,
        allow_private_fetch=settings.fetch_allow_private,
    )
    version = template_version(plan, storage, settings, db=db)
    digest = output_digest(plan, version, settings.engine)
    tracks = store_tracks(
        spec, job.data, plan, version, storage, digest, asset_root(settings, storage), row_number=job.row_number
    )
    return Work(
        job,
        spec,
        plan,
        version,
        digest,
        mp4=job.outputs != Outputs.HLS or settings.engine == "full",  # the full engine has no parts
        want_hls=job.outputs != Outputs.MP4 and settings.engine == "segments",
        storage_less=storage_less,
        tracks=tracks,
    )


def store_and_finish(
    db: Database,
    storage: Storage,
    settings: Settings,
    work: Work,
    outputs: EngineOutputs | None,
    tmp: Path,
    *,
    started: float,
) -> str:
    """Store ``outputs`` (None: already stored) and mark the row done; returns its status."""
    render_id, digest = work.job.render_id, work.digest
    video_key, poster_key, thumbnail_key = work.key("video.mp4"), work.key("poster.jpg"), work.key("thumbnail.jpg")
    animated = {name: work.key(name) for name in ANIMATED}
    if outputs is not None:
        if work.want_hls:
            store_hls(work.version, outputs, storage, f"outputs/{digest}")
        thumbnail = make_thumbnail(outputs.poster, tmp / "thumbnail.jpg")
        loops = animated_thumbnails(work.spec, work.plan, work.version, outputs, storage, settings, tmp)
        # Conditional writes: of two racing workers one creates each object, the
        # other keeps it; the video goes last, its presence means "all done".
        storage.put_file_if_absent(poster_key, outputs.poster, "image/jpeg")
        storage.put_file_if_absent(thumbnail_key, thumbnail, "image/jpeg")
        for name, path in loops.items():
            storage.put_file_if_absent(animated[name], path, ANIMATED[name])
        if work.mp4 and outputs.video is not None:  # the engine makes a video whenever mp4 is asked for
            storage.put_file_if_absent(video_key, outputs.video, "video/mp4")
    values = {
        "video_key": video_key if work.mp4 else None,
        "poster_key": poster_key,
        "plan_digest": digest,
        "hotspots": [h.to_json() for h in work.plan.hotspots],
        "outputs": {**animated, **work.tracks},
        "width": work.version.width,
        "height": work.version.height,
        "duration": output_duration(work.plan, work.version),
        "render_seconds": round(time.perf_counter() - started, 3),
    }
    if storage.exists(thumbnail_key):
        values["thumbnail_key"] = thumbnail_key
    # storage-less: only the id and the outputs remain; the row data goes with the transition
    # to done (SQL NULL: None would store a JSON null)
    cleared = {"data": null()} if work.storage_less else {}
    with database_errors():
        marked_done = claims.finish(db, render_id, **values, **cleared)
    if not marked_done and discard_if_erased(db, storage, render_id, digest):
        return RenderStatus.CANCELLED
    log.info("render %s done: %s", render_id, video_key, extra={"seconds": values["render_seconds"]})
    return RenderStatus.DONE


def settle(db: Database, settings: Settings, job: claims.Job, exc: Exception) -> str:
    """A failed attempt: a permanent error fails the row; any other requeues it and is re-raised
    (for the queue to retry), or fails the row on its last attempt."""
    if isinstance(exc, PermanentError):
        claims.fail(db, job.render_id, str(exc))
        log.warning("render %s failed: %s", job.render_id, exc)
        return RenderStatus.FAILED
    # transient, or unforeseen (OSError: disk full, permission): retried, counted
    if _give_up_or_requeue(db, job, exc, final_attempt=job.attempts >= max_attempts(settings)):
        return RenderStatus.FAILED
    raise exc


def discard_if_erased(db: Database, storage: Storage, render_id: str, digest: str) -> bool:
    """Whether the customer was erased while this render ran (``pvideo.privacy.erasure``); if so,
    delete what it stored, unless a render not erased has the same outputs: the erase wins."""
    with db.session() as session:
        row = session.get(Render, render_id)
        if row is not None and row.erased_at is None:
            return False
        others = select(Render.id).where(Render.plan_digest == digest, Render.erased_at.is_(None))
        shared = session.scalar(others.where(Render.id != render_id).limit(1))
    if shared is None:
        try:
            storage.delete_prefix(f"outputs/{digest}")
        except StorageError:  # left to a durable erasure job, which the reconciler sends until it is done
            with db.session() as session:
                session.add(
                    ErasureJob(subject="", requested_by="system", render_ids=[render_id], keys=[f"outputs/{digest}/"])
                )
    log.info("render %s: the customer was erased meanwhile, its outputs are deleted", render_id)
    return True


def make_thumbnail(poster: Path, out: Path, width: int = 320) -> Path:
    """A small JPEG of the poster frame, for email clients and manifests."""
    from PIL import Image

    with Image.open(poster) as image:
        image.thumbnail((width, width * 4))
        image.convert("RGB").save(out, "JPEG", quality=82)
    return out


ANIMATED = {"thumbnail.gif": "image/gif", "thumbnail.webp": "image/webp"}


def animated_thumbnails(
    spec: SceneSpec,
    plan: RenderPlan,
    version: TemplateVersion,
    outputs: EngineOutputs,
    storage: Storage,
    settings: Settings,
    workdir: Path,
) -> dict[str, Path]:
    """The GIF and WebP loops for email, cut from the MP4 (spliced from the parts for HLS-only renders)."""
    video = outputs.video
    if video is None:
        video = workdir / "thumbnail-source.mp4"
        paths = segment_files(version, storage, cache_dir(settings))
        run_ffmpeg(
            splice_args(version, paths, outputs, video, ffmpeg_exe=settings.ffmpeg_exe), timeout=settings.ffmpeg_timeout
        )
    start = plan.output_time(plan.poster_at if spec.thumbnail.start is None else spec.thumbnail.start)
    return thumbnails.make_thumbnails(
        video,
        start,
        spec.thumbnail.duration,
        (version.width, version.height),
        output_duration(plan, version),
        workdir,
        ffmpeg_exe=settings.ffmpeg_exe,
        timeout=settings.ffmpeg_timeout,
    )


def store_tracks(
    spec: SceneSpec,
    row: dict,
    plan: RenderPlan,
    version: TemplateVersion,
    storage: Storage,
    digest: str,
    assets_dir: AssetsDir,
    *,
    row_number: int | None = None,
) -> dict[str, str]:
    """Store the captions (when the scene has any) and the chapters/CTA track; return their keys.

    Captions may carry data the pixels do not, so each file is named by the hash of its own text.
    """
    hotspots = [h.to_json() for h in plan.hotspots]
    track = captions.outputs_track(spec, row, hotspots, version.duration, plan.output_time, row_number=row_number)
    files = {"track.vtt": captions.to_webvtt(track)}
    if spec.captions is not None:
        cues = captions.caption_cues(spec, row, assets_dir, row_number=row_number)
        files["captions.vtt"] = captions.to_webvtt(captions.retime(cues, plan.output_time))
    keys = {}
    for name, text in files.items():
        data = text.encode()
        stem, suffix = name.split(".")
        key = f"outputs/{digest}/{stem}-{hashlib.sha256(data).hexdigest()[:16]}.{suffix}"
        if not storage.exists(key):
            storage.put_bytes(key, data, "text/vtt; charset=utf-8")
        keys[name] = key
    return keys


def _give_up_or_requeue(db: Database, job: claims.Job, exc: Exception, *, final_attempt: bool) -> bool:
    """Record why the attempt failed: the row goes back to the queue, or fails on its last attempt.

    True when the row is failed for good (nothing left to retry).
    """
    reason = describe(exc)
    log.warning("render %s: %s (%s)", job.render_id, reason, "giving up" if final_attempt else "will retry")
    try:
        with database_errors():
            if final_attempt:
                claims.fail(db, job.render_id, claims.spent_reason(job.attempts, reason))
                return True
            claims.requeue(db, job.render_id, reason)
    except TransientError:  # the database itself is down: the lease lapses, the reconciler re-sends it
        log.warning("render %s: could not record %s", job.render_id, reason)
    return False


def describe(exc: Exception) -> str:
    """An error as the row records it: an ``OSError`` says what failed on the worker (the log has the path)."""
    if isinstance(exc, OSError) and not isinstance(exc, PvideoError) and exc.strerror:
        return f"local disk error on the worker: {exc.strerror} (errno {exc.errno})"
    return str(exc) or type(exc).__name__
