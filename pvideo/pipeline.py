"""Render one customer: load -> compile -> render -> store -> mark done.

Outputs are content-addressed (``outputs/<digest>/...``, the digest covering
the template file, the overlays and the encoder settings), so a retry or a
re-submitted campaign finds finished work and renders nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from functools import lru_cache
from pathlib import Path

from pvideo.database import Database
from pvideo.errors import NotFound, PermanentError, TransientError
from pvideo.models import Render, RenderStatus, utcnow
from pvideo.plan import RenderPlan, compile
from pvideo.probe import probe
from pvideo.render import EncodeOptions, render
from pvideo.settings import Settings
from pvideo.spec import parse_scene
from pvideo.storage import Storage

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def output_digest(plan: RenderPlan, options: EncodeOptions) -> str:
    stat = plan.template.stat()
    h = hashlib.sha256()
    h.update(plan.digest().encode())
    h.update(_file_sha256(plan.template, stat.st_size, stat.st_mtime_ns).encode())
    h.update(repr(options).encode())
    return h.hexdigest()


def render_customer(db: Database, storage: Storage, settings: Settings, render_id: str, *,
                    final_attempt: bool = True) -> str:
    """Render ``render_id`` and return its final status.

    Permanent errors fail the render with the reason. Transient errors are
    re-raised for the queue to retry; on the ``final_attempt`` they fail it too.
    """
    with db.session() as session:
        row = session.get(Render, render_id)
        if row is None:
            raise NotFound(f"render {render_id!r} not found")
        if row.status == RenderStatus.DONE:
            return row.status
        row.status, row.attempts = RenderStatus.RENDERING, row.attempts + 1
        scene, data = row.campaign.scene, dict(row.data or {})
        customer, number = row.customer_id, row.row_number
    try:
        spec = parse_scene(scene, source=f"scene {scene.get('name')!r}")
        plan = compile(spec, data, assets_dir=settings.assets_dir, customer_id=customer, row_number=number)
        digest = output_digest(plan, EncodeOptions.from_settings(settings))
        video_key, poster_key = f"outputs/{digest}/video.mp4", f"outputs/{digest}/poster.jpg"
        with tempfile.TemporaryDirectory(prefix="pvideo-render-") as tmp:
            if storage.exists(video_key) and storage.exists(poster_key):
                info = None
            else:
                outputs = render(plan, Path(tmp), settings)
                storage.put_file(poster_key, outputs.poster, "image/jpeg")
                storage.put_file(video_key, outputs.video, "video/mp4")  # last: its presence means done
                info = outputs.info
    except PermanentError as exc:
        _fail(db, render_id, str(exc))
        return RenderStatus.FAILED
    except TransientError as exc:
        if final_attempt:
            _fail(db, render_id, f"gave up after retries: {exc}")
        else:
            _requeue(db, render_id, str(exc))
        raise
    with db.session() as session:
        row = session.get(Render, render_id)
        row.status, row.error = RenderStatus.DONE, None
        row.video_key, row.poster_key, row.plan_digest = video_key, poster_key, digest
        row.hotspots = [h.to_json() for h in plan.hotspots]
        if info is not None:
            row.width, row.height, row.duration = info.width, info.height, info.duration
        else:  # reused output: it has the template's geometry
            template = probe(plan.template, count_frames=False)
            row.width, row.height, row.duration = template.width, template.height, template.duration
        row.updated_at = utcnow()
    log.info("render %s done: %s", render_id, video_key)
    return RenderStatus.DONE


def _fail(db: Database, render_id: str, reason: str) -> None:
    with db.session() as session:
        row = session.get(Render, render_id)
        row.status, row.error = RenderStatus.FAILED, reason
    log.warning("render %s failed: %s", render_id, reason)


def _requeue(db: Database, render_id: str, reason: str) -> None:
    with db.session() as session:
        row = session.get(Render, render_id)
        row.status, row.error = RenderStatus.QUEUED, f"retrying: {reason}"
