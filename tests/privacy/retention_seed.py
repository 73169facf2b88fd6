"""Test helpers for retention: the golden interactive campaign (events and answers through the real
ingest on 2026-11-22) with outputs stored under each render's content-addressed folder, a render
of another campaign sharing one of those folders, and a shared template segment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from pvideo.db.models import AuditEntry, Campaign, Event, Render, RenderStatus, Response, new_id
from pvideo.runtime import Runtime
from pvideo.storage import Storage
from tests.tracking.test_interaction_stats import DAY
from tests.tracking.test_interaction_stats import _load as load_golden

SEGMENT = "templates/shared/seg-000.ts"
OWN_FILES = ("video.mp4", "poster.jpg", "thumbnail.jpg", "index.m3u8", "part-001.ts", "captions-ab12.vtt")


@dataclass
class Seeded:
    campaign_id: str
    render_ids: list[str]
    shared_digest: str  # render 0's folder, also another campaign's render's
    other_render: str


def seed(runtime: Runtime, *, retention: dict[str, Any] | None, ends_at: datetime | None = DAY) -> Seeded:
    campaign_id, renders = load_golden(runtime.db)
    ids = sorted(renders.values())
    storage = runtime.storage
    storage.put_bytes(SEGMENT, b"shared template segment")
    with runtime.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        campaign.retention, campaign.ends_at, campaign.completed_at = retention, ends_at, DAY
        for n, render_id in enumerate(ids):
            render = session.get(Render, render_id)
            assert render is not None
            digest = f"{n:02d}" + "ab" * 31
            _store_outputs(storage, render, digest)
        other = Campaign(id=new_id(), name="other", scene_name="card", scene={"name": "card"})
        session.add(other)
        session.flush()
        twin = Render(id=new_id(), campaign_id=other.id, row_number=1, customer_id="x", status=RenderStatus.DONE)
        _store_outputs(storage, twin, "00" + "ab" * 31)
        session.add(twin)
    return Seeded(campaign_id, ids, "00" + "ab" * 31, twin.id)


def _store_outputs(storage: Storage, render: Render, digest: str) -> None:
    folder = f"outputs/{digest}"
    for name in OWN_FILES:
        storage.put_bytes(f"{folder}/{name}", f"{render.id} {name}".encode())
    render.plan_digest = digest
    render.video_key, render.poster_key, render.thumbnail_key = (f"{folder}/{n}" for n in OWN_FILES[:3])
    render.outputs = {"captions.vtt": f"{folder}/{OWN_FILES[5]}"}


def raw_counts(runtime: Runtime, campaign_id: str) -> tuple[int, int]:
    with runtime.db.session() as session:
        events = session.scalar(select(func.count()).select_from(Event).where(Event.campaign_id == campaign_id))
        answers = session.scalar(select(func.count()).select_from(Response).where(Response.campaign_id == campaign_id))
    return events or 0, answers or 0


def stored_keys(storage: Storage, digest: str) -> list[str]:
    return [f"outputs/{digest}/{n}" for n in OWN_FILES if storage.exists(f"outputs/{digest}/{n}")]


def renders_of(runtime: Runtime, campaign_id: str) -> list[Render]:
    with runtime.db.session() as session:
        found = list(session.scalars(select(Render).where(Render.campaign_id == campaign_id).order_by(Render.id)))
        session.expunge_all()
    return found


def audit_runs(runtime: Runtime) -> list[AuditEntry]:
    with runtime.db.session() as session:
        found = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run")))
        session.expunge_all()
    return found


def days(n: float) -> datetime:
    return DAY + timedelta(days=n)
