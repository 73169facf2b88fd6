"""Render several customers of one campaign in one pass: claim each, render together, settle each.

A batch message (``workers.actors``, ``render_customers``) names up to
``render_batch_size`` renders of one campaign. Each is claimed as a single
render is (``pvideo.jobs.claims``): a row already finished, cancelled or held
by a live worker is skipped, so a batch whose rows are partly claimed elsewhere
renders only the rest, and each row still renders exactly once. The claimed
rows are compiled (``pipeline.prepare``), those of one template version are
rendered together (``pvideo.render.batch``), and each is stored and finished
as a single render is (``pipeline.store_and_finish``). Every failure is settled
for its own row only (``pipeline.settle``): a permanent one fails the row, a
transient one puts it back in the queue (``RETRY``), and the caller sends those
rows again as single renders, so a retry never re-runs the rest of the batch
and a row's attempts stay counted in the database.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

from pvideo.db.engine import Database, database_errors
from pvideo.db.models import RenderStatus
from pvideo.errors import RenderBusy, TransientError
from pvideo.jobs import claims
from pvideo.jobs.pipeline import Work, max_attempts, prepare, settle, store_and_finish
from pvideo.logs import log_context
from pvideo.render.batch import Outcome, render_batch
from pvideo.render.ingest import segment_files
from pvideo.render.versions import cache_dir, render_on_template
from pvideo.settings import Settings
from pvideo.storage import Storage

log = logging.getLogger(__name__)

BUSY = "busy"
"""The status ``render_customers`` reports for a row another live worker holds (left to it)."""
RETRY = RenderStatus.QUEUED
"""The status of a row to send again: requeued after a transient error, or not claimed (database down)."""


def render_customers(
    db: Database,
    storage: Storage,
    settings: Settings,
    render_ids: Sequence[str],
    *,
    encode_slot: Callable[[int], AbstractContextManager[object]] | None = None,
) -> dict[str, str]:
    """Render ``render_ids`` together; returns each row's status (``BUSY``: held by another worker,
    ``RETRY``: to be sent again). ``encode_slot`` is held around each part's encode (``RenderHooks``)."""
    statuses: dict[str, str] = {}
    jobs: list[claims.Job] = []
    for render_id in render_ids:
        with log_context(render_id=render_id):
            try:
                with database_errors():
                    job = claims.claim(
                        db, render_id, settings.render_lease_seconds, max_attempts=max_attempts(settings)
                    )
            except RenderBusy:
                statuses[render_id] = BUSY
                continue
            except TransientError as exc:
                log.warning("render %s could not be claimed, to be sent again: %s", render_id, exc)
                statuses[render_id] = RETRY
                continue
        if isinstance(job, str):
            statuses[render_id] = job
        else:
            jobs.append(job)

    def settled(job: claims.Job, exc: Exception) -> None:
        try:
            statuses[job.render_id] = settle(db, settings, job, exc)
        except Exception:  # requeued for another attempt (or left to lapse if the database is down)
            statuses[job.render_id] = RETRY

    started = time.perf_counter()
    with ExitStack() as leases, tempfile.TemporaryDirectory(prefix="pvideo-batch-") as tmp:
        for job in jobs:
            leases.enter_context(claims.keep_lease(db, job.render_id, settings.render_lease_seconds))
        work: list[Work] = []
        todo: list[Work] = []
        for job in jobs:
            try:
                work.append(prepare(db, storage, settings, job))
                if work[-1].needs_render(storage):
                    todo.append(work[-1])
            except Exception as exc:
                if work and work[-1].job is job:
                    work.pop()
                settled(job, exc)
        outcomes = _render(todo, storage, settings, Path(tmp), encode_slot)
        for item in work:
            outcome = outcomes.get(item.job.render_id, Outcome())
            with log_context(render_id=item.job.render_id, campaign_id=item.job.campaign_id):
                try:
                    if outcome.error is not None:
                        raise outcome.error
                    workdir = Path(tmp) / item.job.render_id
                    workdir.mkdir(exist_ok=True)
                    statuses[item.job.render_id] = store_and_finish(
                        db, storage, settings, item, outcome.outputs, workdir, started=started
                    )
                except Exception as exc:
                    settled(item.job, exc)
    return statuses


def _render(
    work: Sequence[Work],
    storage: Storage,
    settings: Settings,
    tmp: Path,
    encode_slot: Callable[[int], AbstractContextManager[object]] | None,
) -> dict[str, Outcome]:
    """Each render's outcome: renders of one template version (and output kind) in one batch."""
    groups: dict[tuple[str, bool], list[Work]] = {}
    for item in work:
        groups.setdefault((item.version.hash, item.mp4), []).append(item)
    outcomes: dict[str, Outcome] = {}
    for (_, mp4), items in groups.items():
        workdirs = [tmp / item.job.render_id for item in items]
        if settings.engine != "segments" or len(items) == 1:
            for item, workdir in zip(items, workdirs):
                try:
                    outputs = render_on_template(
                        item.plan, item.version, storage, settings, workdir, mp4=mp4, encode_slot=encode_slot
                    )
                    outcomes[item.job.render_id] = Outcome(outputs=outputs)
                except Exception as exc:
                    outcomes[item.job.render_id] = Outcome(error=exc)
            continue
        version = items[0].version
        try:
            paths = segment_files(version, storage, cache_dir(settings))
        except Exception as exc:  # the segments could not be fetched: every render of the version retries
            outcomes.update({item.job.render_id: Outcome(error=exc) for item in items})
            continue
        results = render_batch(
            [item.plan for item in items],
            version,
            paths,
            workdirs,
            ffmpeg_exe=settings.ffmpeg_exe,
            mp4=mp4,
            timeout=settings.ffmpeg_timeout,
            encode_slot=encode_slot,
        )
        log.info("rendered %d customers of template version %s in one batch", len(items), version.hash)
        outcomes.update({item.job.render_id: result for item, result in zip(items, results)})
    return outcomes
