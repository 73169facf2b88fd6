"""Retention: keep raw viewer data and rendered outputs only as long as allowed.

Per campaign, its own ``retention`` over the deployment's settings
(``pvideo.jobs.privacy_options.policy``):

- ``events_days``: raw events, failed events and answers received more than N days before
  ``now`` are folded into tallies and deleted (``pvideo.tracking.tallies``); every analytics
  number stays (the watch numbers live in rollups, the interaction numbers in tallies).
- ``outputs_days``: N days after the campaign's end (``ends_at``, else ``completed_at``), each
  render's own outputs folder (video, poster, thumbnails, captions, HLS playlist and personal
  parts: ``outputs/<plan digest>/``) is deleted from storage, unless another live render has
  the same content-addressed folder; its keys are cleared and ``outputs_expired_at`` set (the
  status is unchanged; the landing page answers 410). Shared template segments are not touched.
- ``row_data`` "after_render" (storage-less): the pipeline clears a row's data as it finishes;
  here, the rows that were done before the mode was set.

Every step works in small batches, each committed on its own, and only ever selects what is
still to do: a run killed halfway (or whose storage failed) leaves a consistent state, and the
next run completes it. Objects are deleted before their render row is updated, so a crash
between the two only repeats a delete. A run that changed something leaves one audit entry
(actor ``system``), with counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, null, or_, select, update
from sqlalchemy.orm import Session

from pvideo.access import audit
from pvideo.db.models import Campaign, Event, Render, RenderStatus, Response
from pvideo.jobs.privacy_options import RetentionPolicy, policy
from pvideo.runtime import Runtime
from pvideo.tracking.tallies import fold_and_delete

log = logging.getLogger(__name__)

BATCH = 200  # sessions, renders or rows per committed step


@dataclass
class CampaignRetention:
    """What one run removed from one campaign (what it would remove, in a dry run)."""

    events: int = 0
    responses: int = 0
    renders_expired: int = 0
    objects_deleted: int = 0
    rows_cleared: int = 0
    error: str | None = None

    def changed(self) -> bool:
        return any((self.events, self.responses, self.renders_expired, self.objects_deleted, self.rows_cleared))


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool = False
    campaigns: dict[str, CampaignRetention] = field(default_factory=dict)
    """Only the campaigns where something was (or would be) removed, or that failed."""

    @property
    def changed(self) -> bool:
        return any(c.changed() for c in self.campaigns.values())

    @property
    def errors(self) -> dict[str, str]:
        return {cid: c.error for cid, c in self.campaigns.items() if c.error}

    def totals(self) -> dict[str, int]:
        keys = ("events", "responses", "renders_expired", "objects_deleted", "rows_cleared")
        return {k: sum(getattr(c, k) for c in self.campaigns.values()) for k in keys}

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "totals": self.totals(),
            "campaigns": {cid: asdict(c) for cid, c in sorted(self.campaigns.items())},
        }


def apply_retention(runtime: Runtime, *, now: datetime, dry_run: bool = False, batch: int = BATCH) -> RetentionReport:
    """Apply every campaign's retention as of ``now`` (module docstring). A campaign whose step
    fails (storage down) is reported with the error and left for the next run; the others go on."""
    now = _aware(now)
    report = RetentionReport(now=now, dry_run=dry_run)
    with runtime.db.session() as session:
        campaigns = session.execute(
            select(Campaign.id, Campaign.retention, Campaign.ends_at, Campaign.completed_at).order_by(Campaign.id)
        ).all()
    for campaign_id, retention, ends_at, completed_at in campaigns:
        rule = policy(retention, runtime.settings)
        counts = CampaignRetention()
        try:
            if rule.events_days is not None:
                _expire_events(runtime, campaign_id, now - timedelta(days=rule.events_days), counts, dry_run, batch)
            if _outputs_due(rule, ends_at or completed_at, now):
                _expire_outputs(runtime, campaign_id, now, counts, dry_run, batch)
            if rule.row_data == "after_render":
                _clear_row_data(runtime, campaign_id, counts, dry_run, batch)
        except Exception as exc:  # storage or database down: the next run picks up where this one stopped
            log.warning("retention of campaign %s stopped: %s", campaign_id, exc)
            counts.error = f"{type(exc).__name__}: {exc}"[:500]
        if counts.changed() or counts.error:
            report.campaigns[campaign_id] = counts
    if report.changed and not dry_run:
        with runtime.db.session() as session:
            audit.record(
                session,
                actor="system",
                action=audit.Action.RETENTION_RUN,
                detail={**report.totals(), "campaigns": sum(1 for c in report.campaigns.values() if c.changed())},
            )
    return report


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _outputs_due(rule: RetentionPolicy, end: datetime | None, now: datetime) -> bool:
    """Whether the campaign ended (or completed) more than ``outputs_days`` ago."""
    return rule.outputs_days is not None and end is not None and _aware(end) + timedelta(days=rule.outputs_days) <= now


def _expire_events(
    runtime: Runtime, campaign_id: str, before: datetime, counts: CampaignRetention, dry_run: bool, batch: int
) -> None:
    if dry_run:
        with runtime.db.session() as session:
            for table, key in ((Event, "events"), (Response, "responses")):
                where = (table.campaign_id == campaign_id, table.received_at < before)
                n = session.scalar(select(func.count()).select_from(table).where(*where)) or 0
                setattr(counts, key, getattr(counts, key) + n)
        return
    while True:
        with runtime.db.session() as session:
            removed = fold_and_delete(session, campaign_id=campaign_id, before=before, limit=batch)
        counts.events += removed["events"]
        counts.responses += removed["responses"]
        if not any(removed.values()):
            return


def _stored_outputs() -> Any:
    """Renders whose outputs are still to go: not yet expired, or rendered again since (a retry)."""
    return or_(Render.outputs_expired_at.is_(None), Render.poster_key.is_not(None), Render.video_key.is_not(None))


def _expire_outputs(
    runtime: Runtime, campaign_id: str, now: datetime, counts: CampaignRetention, dry_run: bool, batch: int
) -> None:
    # a render being rendered right now is left to finish; the next run takes it
    where = (Render.campaign_id == campaign_id, Render.status != RenderStatus.RENDERING, _stored_outputs())
    if dry_run:
        with runtime.db.session() as session:
            counts.renders_expired += session.scalar(select(func.count()).select_from(Render).where(*where)) or 0
        return
    while True:
        with runtime.db.session() as session:
            renders = list(session.scalars(select(Render).where(*where).order_by(Render.id).limit(batch)))
            if not renders:
                return
            counts.objects_deleted += _delete_outputs(runtime, session, renders)
            for render in renders:
                render.video_key = render.poster_key = render.thumbnail_key = None
                render.outputs = None
                render.outputs_expired_at = render.outputs_expired_at or now
            counts.renders_expired += len(renders)


def _delete_outputs(runtime: Runtime, session: Session, renders: Sequence[Render]) -> int:
    """Delete these renders' own objects; how many went. A folder or key another live render (not
    expired, not erased, not in this batch) also has stays."""
    ids = {r.id for r in renders}
    live = select(Render.id, Render.plan_digest, Render.video_key, Render.poster_key).where(
        Render.outputs_expired_at.is_(None), Render.erased_at.is_(None)
    )
    removed = 0
    for render in renders:
        folder = f"outputs/{render.plan_digest}" if render.plan_digest else None
        named = {k for k in (render.video_key, render.poster_key, render.thumbnail_key) if k}
        named |= {k for k in (render.outputs or {}).values() if isinstance(k, str) and k}
        if folder is not None:
            sharers = session.execute(live.where(Render.plan_digest == render.plan_digest)).all()
            if all(rid in ids for rid, *_ in sharers):
                removed += runtime.storage.delete_prefix(folder)
            named = {k for k in named if not k.startswith(folder + "/")}
        for key in sorted(named):  # keys outside the folder (renders stored before folders)
            others = session.execute(live.where(or_(Render.video_key == key, Render.poster_key == key))).all()
            if all(rid in ids for rid, *_ in others):
                runtime.storage.delete(key)
                removed += 1
    return removed


def _clear_row_data(runtime: Runtime, campaign_id: str, counts: CampaignRetention, dry_run: bool, batch: int) -> None:
    """Storage-less mode for rows done before it was set: only the id and the outputs remain."""
    kept = (
        Render.campaign_id == campaign_id,
        Render.status == RenderStatus.DONE,
        Render.data.is_not(None),
        cast(Render.data, String) != "null",  # a JSON null is no data either
    )
    if dry_run:
        with runtime.db.session() as session:
            counts.rows_cleared += session.scalar(select(func.count()).select_from(Render).where(*kept)) or 0
        return
    while True:
        with runtime.db.session() as session:
            ids = list(session.scalars(select(Render.id).where(*kept).order_by(Render.id).limit(batch)))
            if not ids:
                return
            session.execute(
                update(Render)
                .where(Render.id.in_(ids), Render.status == RenderStatus.DONE)
                .values(data=null())
                .execution_options(synchronize_session=False)
            )
            counts.rows_cleared += len(ids)
