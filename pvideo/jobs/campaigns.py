"""Campaigns: submit (streamed, batched, idempotent), cancel, retry, and follow progress.

Every submission, from the API, the CLI or a benchmark, is a ``CampaignRequest`` made once
at the edge and passed to ``submit``, which applies the limits that hold for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvideo.access import audit
from pvideo.access.revocation import render_by_token as render_by_token
from pvideo.access.tokens import ViewerTokens
from pvideo.db.engine import rows_changed
from pvideo.db.models import (
    Campaign,
    CampaignStatus,
    OutboxEntry,
    Outputs,
    Render,
    RenderMode,
    RenderStatus,
    new_id,
    utcnow,
)
from pvideo.errors import NotFound
from pvideo.jobs import outbox
from pvideo.jobs.privacy_options import PrivacyOptions
from pvideo.jobs.rowcheck import RowCheck
from pvideo.plan.assets import AssetsDir
from pvideo.plan.compiler import check_assets
from pvideo.plan.uploads import asset_root
from pvideo.scene.customers import CustomerRow, customer_id, iter_valid, limit_rows
from pvideo.scene.spec import SceneSpec
from pvideo.settings import Settings
from pvideo.storage import storage_from_settings

INSERT_BATCH = 2000
REPORTED_REJECTIONS = 1000


@dataclass
class Submission:
    campaign: Campaign
    queued: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """The first ``REPORTED_REJECTIONS`` bad rows (row number, reason); all are failed renders."""
    rejected_count: int = 0
    replayed: bool = False
    """True when the idempotency key named an earlier submission, which is returned instead."""
    fan_out: int | None = None
    """The outbox entry to dispatch once committed (``pvideo.jobs.outbox``); None when nothing is to render now."""

    @property
    def queued_count(self) -> int:
        return self.campaign.total - self.campaign.rejected


@dataclass(frozen=True)
class CampaignRequest:
    """A campaign to submit, as the caller read it: the scene, its rows and the options.

    ``rows`` may be a lazy iterator (a streamed CSV): ``submit`` reads it once.
    ``source`` names the table in row errors and in the row-limit refusal.
    """

    spec: SceneSpec
    rows: Iterable[CustomerRow]
    source: str = "customers"
    name: str | None = None
    webhook_url: str | None = None
    metadata: dict[str, Any] | None = None
    render_mode: RenderMode = RenderMode.EAGER
    outputs: Outputs = Outputs.BOTH
    idempotency_key: str | None = None
    submitted_by: str | None = None
    """Who submits: a studio user's email, ``api key <prefix>`` or ``cli`` (shown in the studio)."""
    submitter_role: str | None = None
    """Their studio role, or the API key scope that let them in (the audit log's ``role``)."""
    scene_version_id: str | None = None
    """The scene library's version ``spec`` was read from (``None``: a scene file), pinned on the campaign."""
    privacy: PrivacyOptions = field(default_factory=PrivacyOptions)


def submit(session: Session, request: CampaignRequest, *, settings: Settings, tokens: ViewerTokens) -> Submission:
    """Submit ``request`` under the limits every caller shares; the caller fans it out.

    A scene missing an asset fails at once (``AssetError``); a table of more than
    ``settings.max_rows`` rows fails (``DataError``) as soon as the row past the
    limit is read, and nothing is kept: the renders stored so far are in the
    session's open transaction, which the caller's ``Database.session`` rolls back.
    """
    submission = _store(
        session,
        request.spec,
        limit_rows(request.rows, settings.max_rows, source=request.source),
        assets_dir=asset_root(settings, storage_from_settings(settings)),
        tokens=tokens,
        name=request.name,
        source=request.source,
        idempotency_key=request.idempotency_key,
        webhook_url=request.webhook_url,
        metadata=request.metadata,
        render_mode=request.render_mode,
        outputs=request.outputs,
        submitted_by=request.submitted_by,
        scene_version_id=request.scene_version_id,
    )
    if not submission.replayed:  # in the same transaction as the campaign: both commit, or neither
        options, campaign = request.privacy, submission.campaign
        campaign.tracking, campaign.ends_at = options.tracking, options.ends_at
        campaign.retention = options.retention.stored() if options.retention else None
        audit.record(
            session,
            actor=request.submitted_by or "unknown",
            role=request.submitter_role,
            action=audit.Action.CAMPAIGN_SUBMIT,
            target_type=audit.Target.CAMPAIGN,
            target_id=submission.campaign.id,
            detail={
                "scene": request.spec.name,
                "rows": submission.campaign.total,
                "rejected": submission.rejected_count,
            },
        )
    return submission


def _store(
    session: Session,
    spec: SceneSpec,
    rows: Iterable[CustomerRow],
    *,
    assets_dir: AssetsDir,
    tokens: ViewerTokens,
    name: str | None = None,
    source: str = "customers",
    idempotency_key: str | None = None,
    webhook_url: str | None = None,
    metadata: dict[str, Any] | None = None,
    render_mode: RenderMode = RenderMode.EAGER,
    outputs: Outputs = Outputs.BOTH,
    submitted_by: str | None = None,
    scene_version_id: str | None = None,
) -> Submission:
    """Store the campaign and one render per row, in batches (``submit`` has applied the row limit).

    ``rows`` may be a lazy iterator: only one batch is held at a time. A scene
    missing an asset fails the whole submission (``AssetError``). A bad row (a
    field missing or mistyped, or whatever ``RowCheck`` finds would fail its compile:
    a link that is not http(s), a template error) becomes a failed render naming its
    row and field, counted and listed in ``rejected``. With ``idempotency_key``,
    a second submission with the same key returns the first (``replayed``).
    Call it in a session of its own: a lost race for the key rolls the session back. The
    campaign and its renders commit together, or not at all.
    """
    if idempotency_key:
        existing = session.scalar(select(Campaign).where(Campaign.idempotency_key == idempotency_key))
        if existing is not None:
            return replay(session, existing)
    check_assets(spec, assets_dir)
    campaign = Campaign(
        id=new_id(),
        name=name or spec.name,
        scene_name=spec.name,
        scene=spec.to_json(),
        idempotency_key=idempotency_key,
        webhook_url=webhook_url,
        meta=metadata,
        render_mode=render_mode,
        outputs=outputs,
        submitted_by=submitted_by,
        scene_version_id=scene_version_id,
    )
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError:  # a concurrent submission with the same key won; nothing of ours is written yet
        # (no savepoint: pysqlite commits the campaign row when one is released, so a submission
        # failing later would leave it behind)
        session.rollback()
        winner = (
            session.scalar(select(Campaign).where(Campaign.idempotency_key == idempotency_key))
            if idempotency_key
            else None
        )
        if winner is None:  # not a lost race for the key: some other constraint failed
            raise
        return replay(session, winner)
    submission = Submission(campaign)
    batch: list[dict[str, Any]] = []
    now = utcnow()
    check = RowCheck(spec, assets_dir)
    for row, data, error in iter_valid(spec, rows, source=source):
        if data is not None and error is None:
            error = check.problem(data, number=row.number, source=source)
        render_id = new_id()
        values = {
            "id": render_id,
            "campaign_id": campaign.id,
            "row_number": row.number,
            "customer_id": customer_id(spec, data or row.data, row.number)[:200],
            "data": data,
            "viewer_token": tokens.issue(render_id),
            "status": RenderStatus.QUEUED,
            "error": None,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        campaign.total += 1
        if error is not None:
            values.update(status=RenderStatus.FAILED, error=str(error), finished_at=now)
            campaign.rejected += 1
            if len(submission.rejected) < REPORTED_REJECTIONS:
                submission.rejected.append((row.number, str(error)))
        else:
            submission.queued.append(render_id)
        batch.append(values)
        if len(batch) >= INSERT_BATCH:
            _insert(session, batch)
    _insert(session, batch)
    submission.rejected_count = campaign.rejected
    if campaign.total == campaign.rejected:
        campaign.completed_at = utcnow()
    elif render_mode == RenderMode.EAGER:  # on demand: the first view renders
        submission.fan_out = outbox.add(session, outbox.FAN_OUT, campaign.id).id
    session.flush()
    return submission


def _insert(session: Session, batch: list[dict[str, Any]]) -> None:
    if batch:
        keys = {k for values in batch for k in values}
        session.execute(insert(Render), [{k: values.get(k) for k in keys} for values in batch])
        batch.clear()


def replay(session: Session, campaign: Campaign) -> Submission:
    """The answer to a repeated submission: the same campaign, its rejected rows."""
    rejected = session.execute(
        select(Render.row_number, Render.error)
        .where(Render.campaign_id == campaign.id, Render.status == RenderStatus.FAILED, Render.attempts == 0)
        .order_by(Render.row_number)
        .limit(REPORTED_REJECTIONS)
    ).all()
    pending = session.scalar(
        select(OutboxEntry.id).where(OutboxEntry.ref == campaign.id, OutboxEntry.sent_at.is_(None)).limit(1)
    )
    return Submission(
        campaign,
        rejected=[(n, e or "") for n, e in rejected],
        rejected_count=campaign.rejected,
        replayed=True,
        fan_out=pending,
    )


def get_campaign(session: Session, campaign_id: str) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    return campaign


def status_counts(session: Session, campaign_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Render.status, func.count()).where(Render.campaign_id == campaign_id).group_by(Render.status)
    ).all()
    counts = dict.fromkeys(RenderStatus.ALL, 0)
    counts.update(dict(rows))
    return counts


def list_renders(session: Session, campaign_id: str, *, offset: int = 0, limit: int = 1000) -> list[Render]:
    return list(
        session.scalars(
            select(Render)
            .where(Render.campaign_id == campaign_id)
            .order_by(Render.row_number)
            .offset(offset)
            .limit(limit)
        )
    )


def cancel_campaign(session: Session, campaign_id: str) -> int:
    """Cancel every row not started yet; rows rendering now finish. Returns how many were cancelled."""
    campaign = get_campaign(session, campaign_id)
    campaign.status = CampaignStatus.CANCELLED
    now = utcnow()
    cancelled = rows_changed(
        session,
        update(Render)
        .where(Render.campaign_id == campaign_id, Render.status == RenderStatus.QUEUED)
        .values(status=RenderStatus.CANCELLED, error="cancelled", finished_at=now, updated_at=now),
    )
    session.flush()
    return cancelled


def retry_failed(session: Session, campaign_id: str, *, stranded_after: float = 30.0) -> list[str]:
    """Queue again every row that failed while rendering, every cancelled row, and every stranded
    row; returns their ids, for the caller to send. Retried rows get a fresh attempt budget.

    Stranded: ``rendering`` with a lapsed lease (its worker died), or ``queued`` with no message
    sent for ``stranded_after`` seconds (its message may be lost; a duplicate is harmless).
    Rows rejected at submission (bad data, never attempted) stay failed: resubmit them fixed.
    """
    campaign = get_campaign(session, campaign_id)
    now = utcnow()
    quiet_since = now - timedelta(seconds=stranded_after)
    ids = list(
        session.scalars(
            select(Render.id)
            .where(
                Render.campaign_id == campaign_id,
                or_(
                    Render.status == RenderStatus.CANCELLED,
                    and_(Render.status == RenderStatus.FAILED, Render.attempts > 0),
                    and_(Render.status == RenderStatus.RENDERING, Render.claimed_until < now),
                    and_(
                        Render.status == RenderStatus.QUEUED,
                        or_(Render.enqueued_at.is_(None), Render.enqueued_at < quiet_since),
                        literal(campaign.render_mode == RenderMode.EAGER),  # on demand, queued rows wait for a view
                    ),
                ),
            )
            .order_by(Render.row_number)
        )
    )
    for start in range(0, len(ids), INSERT_BATCH):
        session.execute(
            update(Render)
            .where(Render.id.in_(ids[start : start + INSERT_BATCH]))
            .values(
                status=RenderStatus.QUEUED, error=None, attempts=0, finished_at=None, claimed_until=None, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )
    if ids:
        campaign.status, campaign.completed_at = CampaignStatus.ACTIVE, None
    session.flush()
    return ids


@dataclass(frozen=True)
class Progress:
    total: int
    counts: dict[str, int]
    rate_per_minute: float
    eta_seconds: float | None
    """Open rows / the finish rate over the recent window; None before anything finished."""

    @property
    def finished(self) -> int:
        return sum(self.counts[s] for s in RenderStatus.FINISHED)


def progress(session: Session, campaign_id: str, *, window_seconds: float = 300.0) -> Progress:
    """Counts by status and an ETA from the rate rows finished at over the last ``window_seconds``."""
    campaign = get_campaign(session, campaign_id)
    counts = status_counts(session, campaign_id)
    now = utcnow()
    created = campaign.created_at if campaign.created_at.tzinfo else campaign.created_at.replace(tzinfo=now.tzinfo)
    window = max(1.0, min(window_seconds, (now - created).total_seconds()))
    recent = (
        session.scalar(
            select(func.count()).where(
                Render.campaign_id == campaign_id,
                Render.status.in_((RenderStatus.DONE, RenderStatus.FAILED)),
                Render.attempts > 0,
                Render.finished_at >= now - timedelta(seconds=window),
            )
        )
        or 0
    )
    rate = recent / window
    remaining = sum(counts[s] for s in RenderStatus.OPEN)
    eta = 0.0 if remaining == 0 else (remaining / rate if rate > 0 else None)
    return Progress(
        total=sum(counts.values()),
        counts=counts,
        rate_per_minute=round(rate * 60, 2),
        eta_seconds=None if eta is None else round(eta, 1),
    )
