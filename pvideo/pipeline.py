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
from dataclasses import dataclass
from pathlib import Path

from pvideo import claims, hls
from pvideo.database import Database, database_errors
from pvideo.engine import PersonalPart
from pvideo.errors import PermanentError, TransientError
from pvideo.ingest import TemplateVersion
from pvideo.logs import log_context
from pvideo.models import RenderStatus
from pvideo.plan import RenderPlan, compile
from pvideo.settings import Settings
from pvideo.spec import parse_scene
from pvideo.storage import Storage
from pvideo.templates import render_on_template, store_hls, template_version

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


def render_customer(db: Database, storage: Storage, settings: Settings, render_id: str, *,
                    final_attempt: bool = True, hooks: RenderHooks = RenderHooks()) -> str:
    """Render ``render_id`` and return its final status.

    The row is claimed first (``pvideo.claims``): a render already finished,
    cancelled, or held by another live worker is not rendered again. Permanent
    errors fail the render with the reason. Transient errors (ffmpeg, storage,
    database) are re-raised for the queue to retry; on the ``final_attempt``
    they fail it too. ``RenderBusy`` is raised (and never fails the row) while
    another worker holds the lease.
    """
    with log_context(render_id=render_id):
        with database_errors():
            job = claims.claim(db, render_id, settings.render_lease_seconds)
        if isinstance(job, str):
            log.info("render %s is %s: nothing to do", render_id, job)
            return job
        with log_context(campaign_id=job.campaign_id):
            return _run(db, storage, settings, job, final_attempt=final_attempt, hooks=hooks)


def _run(db: Database, storage: Storage, settings: Settings, job: claims.Job, *, final_attempt: bool,
         hooks: RenderHooks) -> str:
    render_id, started = job.render_id, time.perf_counter()
    try:
        with claims.keep_lease(db, render_id, settings.render_lease_seconds):
            scene, data, customer, number = job.scene, job.data, job.customer_id, job.row_number
            spec = parse_scene(scene, source=f"scene {scene.get('name')!r}")
            plan = compile(spec, data, assets_dir=settings.assets_dir, customer_id=customer, row_number=number)
            version = template_version(plan, storage, settings)
            digest = output_digest(plan, version, settings.engine)
            if hooks.on_plan is not None:
                hooks.on_plan(plan, version, digest)
            mp4 = job.outputs != "hls" or settings.engine == "full"  # the full engine has no parts
            want_hls = job.outputs != "mp4" and settings.engine == "segments"
            video_key, poster_key = f"outputs/{digest}/video.mp4", f"outputs/{digest}/poster.jpg"
            thumbnail_key = f"outputs/{digest}/thumbnail.jpg"
            finished = [k for k in (poster_key, video_key if mp4 else None, hls.playlist_key(digest) if want_hls
                                    else None) if k]
            with tempfile.TemporaryDirectory(prefix="pvideo-render-") as tmp:
                if not all(storage.exists(key) for key in finished):
                    outputs = render_on_template(plan, version, storage, settings, Path(tmp), mp4=mp4,
                                                 on_part=hooks.on_part)
                    if want_hls:
                        store_hls(version, outputs, storage, f"outputs/{digest}")
                    thumbnail = make_thumbnail(outputs.poster, Path(tmp) / "thumbnail.jpg")
                    # Conditional writes: of two racing workers one creates each object, the
                    # other keeps it; the video goes last, its presence means "all done".
                    storage.put_file_if_absent(poster_key, outputs.poster, "image/jpeg")
                    storage.put_file_if_absent(thumbnail_key, thumbnail, "image/jpeg")
                    if mp4:
                        storage.put_file_if_absent(video_key, outputs.video, "video/mp4")
            values = dict(video_key=video_key if mp4 else None, poster_key=poster_key, plan_digest=digest,
                          hotspots=[h.to_json() for h in plan.hotspots],
                          width=version.width, height=version.height, duration=version.duration,
                          render_seconds=round(time.perf_counter() - started, 3))
            if storage.exists(thumbnail_key):
                values["thumbnail_key"] = thumbnail_key
            with database_errors():
                claims.finish(db, render_id, **values)
    except PermanentError as exc:
        claims.fail(db, render_id, str(exc))
        log.warning("render %s failed: %s", render_id, exc)
        return RenderStatus.FAILED
    except TransientError as exc:
        _give_up_or_requeue(db, render_id, exc, final_attempt)
        raise
    log.info("render %s done: %s", render_id, video_key, extra={"seconds": values["render_seconds"]})
    return RenderStatus.DONE


def make_thumbnail(poster: Path, out: Path, width: int = 320) -> Path:
    """A small JPEG of the poster frame, for email clients and manifests."""
    from PIL import Image

    with Image.open(poster) as image:
        image.thumbnail((width, width * 4))
        image.convert("RGB").save(out, "JPEG", quality=82)
    return out


def _give_up_or_requeue(db: Database, render_id: str, exc: Exception, final_attempt: bool) -> None:
    try:
        with database_errors():
            if final_attempt:
                claims.fail(db, render_id, f"gave up after retries: {exc}")
            else:
                claims.requeue(db, render_id, str(exc))
    except TransientError:  # the database itself is down: the lease lapses, the queue retries
        log.warning("render %s: could not record %s", render_id, exc)
    log.warning("render %s: %s (%s)", render_id, exc, "giving up" if final_attempt else "will retry")
