"""Marketing: submit campaigns (JSON rows or a CSV upload), follow their progress."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from starlette.datastructures import UploadFile
from pydantic import ValidationError

from api.deps import ApiKeyDep, SessionDep, StateDep
from api.schemas import CampaignCreate, CampaignPublic, CampaignSubmitted, RenderPublic, RowError
from pvideo import campaigns
from pvideo.analytics import campaign_analytics
from pvideo.customers import CustomerRow, check_columns, parse_csv
from pvideo.manifest import render_links
from pvideo.models import Render
from pvideo.spec import SceneSpec, load_scene

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])

_SCENE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")
MAX_CSV_BYTES = 20 * 1024 * 1024

_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": CampaignCreate.model_json_schema()},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["scene", "file"],
                "properties": {"scene": {"type": "string"}, "name": {"type": "string"},
                               "file": {"type": "string", "format": "binary",
                                        "description": "customers CSV with a header row"}},
            }},
        },
    }
}


def _scene(state: StateDep, name: str) -> SceneSpec:
    path = state.runtime.settings.scenes_dir / f"{name}.yaml"
    if not _SCENE_NAME.match(name) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown scene {name!r}")
    return load_scene(path)


async def _read_submission(request: Request, state: StateDep) -> tuple[SceneSpec, list[CustomerRow], str | None, str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        scene_name, upload = form.get("scene"), form.get("file")
        if not isinstance(scene_name, str) or not isinstance(upload, UploadFile):
            raise HTTPException(422, "multipart submissions need a 'scene' field and a 'file' CSV")
        raw = await upload.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            raise HTTPException(413, f"CSV larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
        source = upload.filename or "upload.csv"
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise HTTPException(422, f"{source}: not UTF-8 text") from None
        spec = _scene(state, scene_name)
        columns, rows = parse_csv(text, source=source)
        check_columns(spec, columns, source=source)
        name = form.get("name")
        return spec, rows, name if isinstance(name, str) else None, source
    try:
        body = CampaignCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
    spec = _scene(state, body.scene)
    return spec, [CustomerRow(i, r) for i, r in enumerate(body.rows, start=1)], body.name, "rows"


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CampaignSubmitted,
             openapi_extra=_SUBMIT_BODY)
async def submit_campaign(request: Request, state: StateDep, _: ApiKeyDep) -> CampaignSubmitted:
    """Submit a scene + customers. Good rows are queued; each bad row is reported."""
    spec, rows, name, source = await _read_submission(request, state)
    with state.runtime.db.session() as session:
        submission = campaigns.submit_campaign(
            session, spec, rows, assets_dir=state.runtime.settings.assets_dir,
            tokens=state.tokens, name=name, source=source)
        campaign_id = submission.campaign.id
    state.queue.enqueue(submission.queued)
    return CampaignSubmitted(id=campaign_id, queued=len(submission.queued),
                             rejected=[RowError(row=r, error=e) for r, e in submission.rejected])


@router.get("/{campaign_id}", response_model=CampaignPublic)
def get_campaign(campaign_id: str, session: SessionDep, _: ApiKeyDep) -> CampaignPublic:
    campaign = campaigns.get_campaign(session, campaign_id)
    counts = campaigns.status_counts(session, campaign_id)
    return CampaignPublic(id=campaign.id, name=campaign.name, scene=campaign.scene_name,
                          created_at=campaign.created_at, total=sum(counts.values()), counts=counts)


def render_public(render: Render, base_url: str) -> RenderPublic:
    return RenderPublic(id=render.id, row=render.row_number, customer_id=render.customer_id,
                        status=render.status, error=render.error, **render_links(render, base_url))


@router.get("/{campaign_id}/renders", response_model=list[RenderPublic])
def list_renders(campaign_id: str, session: SessionDep, state: StateDep, _: ApiKeyDep,
                 offset: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=10_000)) -> list[RenderPublic]:
    campaigns.get_campaign(session, campaign_id)
    base = state.runtime.settings.public_base_url
    return [render_public(r, base) for r in campaigns.list_renders(session, campaign_id, offset=offset, limit=limit)]


@router.get("/{campaign_id}/analytics")
def get_analytics(campaign_id: str, session: SessionDep, _: ApiKeyDep) -> dict[str, Any]:
    """Landing views, viewers, plays, completions and clicks per CTA (see pvideo.analytics)."""
    campaigns.get_campaign(session, campaign_id)
    return campaign_analytics(session, campaign_id)
