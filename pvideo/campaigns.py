"""Submitting a campaign: one render row per customer, bad rows failed with their reason."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pvideo.customers import CustomerRow, customer_id, iter_valid
from pvideo.errors import NotFound
from pvideo.models import Campaign, Render, RenderStatus, new_id
from pvideo.plan import check_assets
from pvideo.spec import SceneSpec
from pvideo.tokens import ViewerTokens


@dataclass
class Submission:
    campaign: Campaign
    queued: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def submit_campaign(session: Session, spec: SceneSpec, rows: Iterable[CustomerRow], *,
                    assets_dir: Path, tokens: ViewerTokens, name: str | None = None,
                    source: str = "customers") -> Submission:
    """Store the campaign and its renders; the caller enqueues ``Submission.queued``.

    A scene missing an asset (video, image, font) fails the whole submission
    (``AssetError``): no row could render. A bad row becomes a failed render
    naming its field.
    """
    check_assets(spec, assets_dir)
    campaign = Campaign(id=new_id(), name=name or spec.name, scene_name=spec.name, scene=spec.to_json())
    session.add(campaign)
    submission = Submission(campaign)
    for row, data, error in iter_valid(spec, rows, source=source):
        render_id = new_id()
        render = Render(id=render_id, campaign_id=campaign.id, row_number=row.number,
                        customer_id=customer_id(spec, data or row.data, row.number)[:200],
                        data=data, viewer_token=tokens.issue(render_id))
        if error is not None:
            render.status, render.error = RenderStatus.FAILED, str(error)
            submission.rejected.append((row.number, str(error)))
        else:
            submission.queued.append(render_id)
        session.add(render)
    session.flush()
    return submission


def get_campaign(session: Session, campaign_id: str) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    return campaign


def render_by_token(session: Session, tokens: ViewerTokens, token: str) -> Render | None:
    """The render a viewer token opens, or ``None`` for a forged, altered or revoked token."""
    render_id = tokens.verify(token)
    render = session.get(Render, render_id) if render_id else None
    return render if render is not None and render.viewer_token == token else None


def status_counts(session: Session, campaign_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Render.status, func.count()).where(Render.campaign_id == campaign_id).group_by(Render.status)
    ).all()
    counts = {status: 0 for status in RenderStatus.ALL}
    counts.update({status: count for status, count in rows})
    return counts


def list_renders(session: Session, campaign_id: str, *, offset: int = 0, limit: int = 1000) -> list[Render]:
    return list(session.scalars(
        select(Render).where(Render.campaign_id == campaign_id)
        .order_by(Render.row_number).offset(offset).limit(limit)
    ))
