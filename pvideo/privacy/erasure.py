"""Erasing a customer (the right to be forgotten): a durable job, so a crash or an outage halfway
only delays it.

``request_erasure`` does all the database holds in one transaction (``pvideo.privacy.tombstones``):
from its commit on the customer's links answer no more, their row data, events, answers and
webhook deliveries are gone, and an ``ErasureJob`` lists the storage keys left to delete, with
an audit entry (counts only). The job names the customer by ``subject_digest``, never by id, so
erasing the same id again finds it: nothing is left to erase, and the answer is the same job.

``run_erasure`` (the ``erase_customer`` actor, in a worker) deletes those keys, every version of
each, saving what is left after each one, so a killed worker's successor resumes where it
stopped. A job is claimed like a render (one conditional ``UPDATE``): a lease of
``render_lease_seconds``, renewed by every save. When the storage fails the job keeps its keys,
records the error and is left alone for a backoff (doubling, up to ``MAX_BACKOFF``) by pushing
its claim forward; the reconciler (``workers.reconciler``) sends every pending job whose claim
lapsed, so it resumes once the storage is back. Every step is idempotent: deleting a deleted key
succeeds, so a job run twice at once only does some deletes twice.

Wizard uploads (``<data_dir>/uploads/<id>``: the customer table as sent) of a campaign that held
the customer are deleted whole, row and folder, rather than rewritten without the customer's
row: the campaign is submitted, so the file has served its purpose (unsubmitted uploads go after
a day anyway, ``pvideo.jobs.uploads``), and rewriting a CSV or XLSX, and the reports and sample
video derived from it, in place is where a copy of the row would survive.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pvideo.access import audit
from pvideo.access.tokens import ViewerTokens
from pvideo.db.engine import Database, rows_changed
from pvideo.db.models import ErasureJob, Render, utcnow
from pvideo.db.privacy_tables import ErasureState
from pvideo.errors import NotFound, StorageError
from pvideo.jobs.uploads import uploads_dir
from pvideo.privacy.subject import subject_digest
from pvideo.privacy.tombstones import FOLDER, live_sharers, tombstone
from pvideo.runtime import Runtime
from pvideo.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
"""Seconds, at most, between two tries of a job whose storage keeps failing."""


def request_erasure(
    runtime: Runtime, customer_id: str, *, campaign_id: str | None = None, actor: str, role: str | None
) -> ErasureJob:
    """Erase ``customer_id`` (in ``campaign_id`` only, if given) from the database now; return the
    job that deletes their stored outputs (already ``done`` when there are none).

    ``NotFound`` (and nothing changed) when no render has that id and it was never erased; the
    earlier job when everything of theirs is erased already."""
    settings = runtime.settings
    subject, now = subject_digest(settings.signing_key, customer_id), utcnow()
    with runtime.db.session() as session:
        query = select(Render).where(Render.customer_id == customer_id, Render.erased_at.is_(None))
        if campaign_id is not None:
            query = query.where(Render.campaign_id == campaign_id)
        renders = list(session.scalars(query.order_by(Render.id).with_for_update()))
        if not renders:
            earlier = _earlier(session, subject, campaign_id)
            if earlier is None:
                raise NotFound("no render has this customer id" + (" in this campaign" if campaign_id else ""))
            return earlier
        done = tombstone(session, renders, ViewerTokens(settings.signing_key), now)
        job = ErasureJob(
            subject=subject,
            campaign_id=campaign_id,
            state=ErasureState.PENDING if done.keys else ErasureState.DONE,
            render_ids=[r.id for r in renders],
            keys=done.keys,
            removed={**done.counts, "objects": 0},
            requested_by=actor[:320],
            created_at=now,
            finished_at=None if done.keys else now,
        )
        session.add(job)
        session.flush()
        detail = {**done.counts, "keys": len(done.keys), "scoped": campaign_id is not None}
        audit.record(
            session,
            actor=actor,
            action=audit.Action.CUSTOMER_ERASE,
            role=role,
            target_type="erasure",
            target_id=job.id,
            detail=detail,
        )
    remove_upload_folders(settings, done.uploads)
    forget_old_pages(runtime.db)
    log.info("erasure %s: %d renders erased, %d storage keys to delete", job.id, len(renders), len(done.keys))
    return job


def _earlier(session: Session, subject: str, campaign_id: str | None) -> ErasureJob | None:
    """The latest job that erased this subject (one of whose renders was in ``campaign_id``, if given)."""
    jobs = session.scalars(
        select(ErasureJob).where(ErasureJob.subject == subject).order_by(ErasureJob.created_at.desc())
    ).all()
    if campaign_id is None or not jobs:
        return jobs[0] if jobs else None
    ids = {rid for job in jobs for rid in job.render_ids}
    there = set(session.scalars(select(Render.id).where(Render.id.in_(ids), Render.campaign_id == campaign_id)))
    return next((job for job in jobs if there.intersection(job.render_ids)), None)


def remove_upload_folders(settings: Settings, upload_ids: Iterable[str]) -> None:
    """Delete the folders of wizard uploads whose rows the erasure removed (here: on the API's machine)."""
    for upload_id in upload_ids:
        shutil.rmtree(uploads_dir(settings) / upload_id, ignore_errors=True)


def forget_old_pages(db: Database) -> None:
    """SQLite keeps the pages a transaction replaced in its write-ahead log until a checkpoint:
    copy them back and empty the log (deleted rows are zeroed: ``secure_delete``, ``pvideo.db.engine``).
    PostgreSQL's dead rows are no one's to read and go with the next vacuum."""
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def run_erasure(runtime: Runtime, job_id: str) -> ErasureJob:
    """Delete the job's storage keys and mark it done; the job as it is now.

    A job done, held by another live runner or backing off is returned unchanged. A storage
    failure is recorded on the job (``last_error``) and the job returned still pending."""
    db, lease = runtime.db, timedelta(seconds=runtime.settings.render_lease_seconds)
    attempts = _claim(db, job_id, lease)
    if attempts is None:
        return load(db, job_id)
    job = load(db, job_id)
    keys = list(job.keys)
    try:
        while keys:
            removed = _delete(runtime, keys[0], set(job.render_ids))
            keys.pop(0)
            _save(db, job_id, keys, removed, lease)
    except StorageError as exc:
        delay = min(MAX_BACKOFF, float(2 ** min(attempts, 9)))
        log.warning("erasure %s: %s; %d keys left, next try in %.0f s", job_id, exc, len(keys), delay)
        _set(db, job_id, claimed_until=utcnow() + timedelta(seconds=delay), last_error=str(exc)[:2000])
        return load(db, job_id)
    _set(db, job_id, state=ErasureState.DONE, finished_at=utcnow(), claimed_until=None, last_error=None)
    forget_old_pages(db)
    log.info("erasure %s done", job_id)
    return load(db, job_id)


def load(db: Database, job_id: str) -> ErasureJob:
    with db.session() as session:
        job = session.get(ErasureJob, job_id)
        if job is None:
            raise NotFound(f"erasure job {job_id!r} not found")
        return job


def due_jobs(db: Database, *, grace_seconds: float, now: datetime | None = None) -> list[str]:
    """Pending jobs no one works on: claim lapsed (a killed runner, a backoff over), or never
    claimed though older than ``grace_seconds`` (the message sent after the commit was lost)."""
    now = now or utcnow()
    lapsed = ErasureJob.claimed_until < now
    unsent = ErasureJob.claimed_until.is_(None) & (ErasureJob.created_at < now - timedelta(seconds=grace_seconds))
    with db.session() as session:
        query = select(ErasureJob.id).where(ErasureJob.state == ErasureState.PENDING, or_(lapsed, unsent))
        return list(session.scalars(query.order_by(ErasureJob.created_at).limit(1000)))


def _claim(db: Database, job_id: str, lease: timedelta) -> int | None:
    """Take the job for ``lease``; its attempt number, or None if it is done or held."""
    now = utcnow()
    with db.session() as session:
        free = or_(ErasureJob.claimed_until.is_(None), ErasureJob.claimed_until < now)
        claimed = rows_changed(
            session,
            update(ErasureJob)
            .where(ErasureJob.id == job_id, ErasureJob.state == ErasureState.PENDING, free)
            .values(claimed_until=now + lease, attempts=ErasureJob.attempts + 1),
        )
        return session.scalar(select(ErasureJob.attempts).where(ErasureJob.id == job_id)) if claimed else None


def _delete(runtime: Runtime, key: str, erased: set[str]) -> int:
    """Delete one key or folder for good; how many objects went. A folder a render (not erased)
    has come to share since the request (the same customer submitted again) is kept."""
    if not key.endswith(FOLDER):
        runtime.storage.delete(key)
        return 1
    folder = key.removesuffix(FOLDER)
    with runtime.db.session() as session:
        if live_sharers(session, folder.removeprefix("outputs/"), erased):
            log.info("erasure: %s is now another render's too: kept", folder)
            return 0
    return runtime.storage.delete_prefix(folder)


def _save(db: Database, job_id: str, keys: list[str], removed: int, lease: timedelta) -> None:
    with db.session() as session:
        job = session.get(ErasureJob, job_id)
        if job is not None:
            job.keys = list(keys)
            job.removed = {**job.removed, "objects": int(job.removed.get("objects", 0)) + removed}
            job.claimed_until = utcnow() + lease


def _set(db: Database, job_id: str, **values: object) -> None:
    with db.session() as session:
        session.execute(update(ErasureJob).where(ErasureJob.id == job_id).values(**values))
