"""Marketing: submit campaigns (JSON rows or a streamed CSV upload), follow, cancel, retry, export."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from api.deps import CampaignsKeyDep, SessionDep, StateDep
from api.errors import validation_errors
from api.schemas import (
    MAX_METADATA_CHARS,
    CampaignCreate,
    CampaignForm,
    CampaignPublic,
    CampaignSubmitted,
    PrivacyForm,
    RenderPublic,
    RowError,
)
from api.state import AppState
from pvideo.access import audit
from pvideo.db.models import Outputs, Render, RenderMode, TrackingMode
from pvideo.errors import DataError
from pvideo.jobs import campaigns
from pvideo.jobs.campaigns import CampaignRequest
from pvideo.jobs.manifest import csv_chunks, iter_manifest, json_chunks, render_links
from pvideo.jobs.scenelibrary import CurrentScene, current_scene
from pvideo.plan import fetch
from pvideo.scene.csvfiles import csv_text
from pvideo.scene.customers import CustomerRow, check_columns, check_row_count, iter_csv, unused_columns
from pvideo.scene.limits import check_json, check_text
from pvideo.scene.spec import SceneSpec
from pvideo.scene.urls import check_link

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
_Choice = TypeVar("_Choice", bound=StrEnum)

MAX_ROW_NUMBER = 2**31 - 1  # renders.row_number is a 32-bit integer
_SUBMIT_BODY = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "repeat a submission safely: the same key returns the first campaign",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": CampaignCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["scene", "file"],
                    "properties": {
                        "scene": {"type": "string", "minLength": 1, "maxLength": 101},
                        "name": {"type": "string", "maxLength": 200},
                        "webhook_url": {"type": "string", "maxLength": 2048},
                        "metadata": {"type": "string", "maxLength": MAX_METADATA_CHARS, "description": "a JSON object"},
                        "render": {"enum": [m.value for m in RenderMode], "type": "string"},
                        "outputs": {"enum": [o.value for o in Outputs], "type": "string"},
                        "tracking": {"enum": [t.value for t in TrackingMode], "type": "string"},
                        "retention": {"type": "string", "description": "a JSON object (see the JSON body)"},
                        "ends_at": {"type": "string", "format": "date-time"},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "customers CSV with a header row (streamed)",
                        },
                    },
                }
            },
        },
    },
}


def _scene(state: StateDep, name: str) -> CurrentScene:
    """The named scene: its latest version in the library, else ``scenes/NAME.yaml`` (404 for
    neither, or an archived scene); its errors name the scene, never the server's path."""
    with state.runtime.db.session() as session:
        return current_scene(session, state.runtime.settings.scenes_dir, name)


async def checked_webhook(state: AppState, url: object) -> str | None:
    """An http(s) URL whose host resolves to addresses deliveries may reach (see ``webhooks.deliver``)."""
    if not url:
        return None
    try:
        url = check_link(str(url))
        await run_in_threadpool(
            fetch.resolve, url, allow_private=state.runtime.settings.webhook_allow_private, what="webhook"
        )
    except (ValueError, fetch.FetchRefused) as exc:
        raise HTTPException(422, f"webhook_url: {exc}") from None
    return url


def parsed_metadata(raw: str | None) -> dict[str, Any] | None:
    """The multipart ``metadata`` field: a JSON object, its depth and numbers checked before parsing."""
    if raw is None or raw == "":
        return None
    try:
        check_json(raw, "metadata")
        value = json.loads(raw)
    except ValueError as exc:  # not JSON, or a number Python will not convert
        raise HTTPException(422, f"metadata: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "metadata must be a JSON object")
    check_text(value, "metadata")
    return value


async def _read_submission(
    request: Request, state: StateDep, idempotency_key: str | None
) -> tuple[CampaignRequest, list[str]]:
    """The scene, a (lazy, for CSV) iterator of rows, and the submission options; and a warning
    for each column the scene does not use."""
    if idempotency_key is not None and not idempotency_key.strip():
        raise HTTPException(422, "Idempotency-Key: empty; leave the header out, or send a key")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=13)  # files spool to disk past 1 MB
        try:
            return await _read_form(form, state, idempotency_key)
        except BaseException:
            await form.close()  # a refused upload's temporary file goes now, not at garbage collection
            raise
    raw = await request.body()
    if not raw.strip():
        raise HTTPException(422, "body: empty; send a JSON object or a multipart form with a CSV file")
    try:
        body = CampaignCreate.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPException(422, validation_errors(exc)) from None
    scene = await run_in_threadpool(_scene, state, body.scene)
    spec = scene.spec
    if len(body.rows) > state.runtime.settings.max_rows:
        raise HTTPException(422, f"rows: more than {state.runtime.settings.max_rows} rows (PVIDEO_MAX_ROWS)")
    warnings = _column_warnings(spec, (key for row in body.rows for key in row))
    submission = CampaignRequest(
        spec=spec,
        rows=(CustomerRow(i, r) for i, r in enumerate(body.rows, start=1)),
        source="rows",
        name=body.name,
        webhook_url=await checked_webhook(state, body.webhook_url),
        metadata=body.metadata,
        render_mode=body.render,
        outputs=body.outputs,
        idempotency_key=idempotency_key,
        scene_version_id=scene.version_id,
        privacy=body.privacy(),
    )
    return submission, warnings


async def _read_form(form: FormData, state: StateDep, idempotency_key: str | None) -> tuple[CampaignRequest, list[str]]:
    """A multipart submission: its text fields held to the JSON rules, then the CSV, streamed."""
    upload = form.get("file")
    if not isinstance(form.get("scene"), str) or not isinstance(upload, UploadFile):
        raise HTTPException(422, "multipart submissions need a 'scene' field and a 'file' CSV")
    try:
        fields = CampaignForm.model_validate(
            {k: v for k in ("scene", "name", "webhook_url", "metadata") if isinstance(v := form.get(k), str)}
        )
        privacy = PrivacyForm.model_validate(
            {k: v for k in ("tracking", "retention", "ends_at") if isinstance(v := form.get(k), str) and v}
        ).privacy()
    except ValidationError as exc:
        raise HTTPException(422, validation_errors(exc)) from None
    limit = state.runtime.settings.max_upload_mb * 1024 * 1024
    if upload.size is not None and upload.size > limit:
        raise HTTPException(413, f"CSV larger than {state.runtime.settings.max_upload_mb} MB")
    source = _upload_name(upload.filename)
    scene = await run_in_threadpool(_scene, state, fields.scene)
    spec = scene.spec
    try:
        await run_in_threadpool(check_row_count, upload.file, state.runtime.settings.max_rows, source=source)
    except DataError as exc:
        raise HTTPException(422, str(exc)) from None
    columns, rows = iter_csv(csv_text(upload.file), source=source)
    check_columns(spec, columns, source=source)
    submission = CampaignRequest(
        spec=spec,
        rows=rows,
        source=source,
        name=fields.name,
        webhook_url=await checked_webhook(state, fields.webhook_url),
        metadata=parsed_metadata(fields.metadata),
        render_mode=_choice("render", form.get("render"), RenderMode),
        outputs=_choice("outputs", form.get("outputs"), Outputs),
        idempotency_key=idempotency_key,
        scene_version_id=scene.version_id,
        privacy=privacy,
    )
    return submission, _column_warnings(spec, columns)


def _upload_name(filename: str | None) -> str:
    """The uploaded file's name for messages: its last part, printable, at most 100 characters."""
    name = "".join(c for c in (filename or "").replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    return name[:100] or "upload.csv"


def _column_warnings(spec: SceneSpec, columns: Iterable[str]) -> list[str]:
    return [f"column {c!r} is not used by scene {spec.name!r}" for c in unused_columns(spec, columns)[:50]]


def _choice(field: str, value: object, choices: type[_Choice]) -> _Choice:
    """A multipart form choice; absent means the first (default) one."""
    allowed = list(choices)
    if value in (None, ""):
        return allowed[0]
    if not isinstance(value, str) or value not in allowed:
        raise HTTPException(422, f"{field} must be one of {', '.join(allowed)}")
    return choices(value)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignSubmitted,
    openapi_extra=_SUBMIT_BODY,
    responses={
        200: {"description": "replayed (same Idempotency-Key)"},
        202: {"description": "stored, not started yet: the queue is unreachable; it starts once it is back"},
    },
)
async def submit_campaign(
    request: Request,
    state: StateDep,
    key: CampaignsKeyDep,
    idempotency_key: Annotated[str | None, Header(max_length=200, include_in_schema=False)] = None,
) -> Response:
    """Submit a scene + customers. Good rows are queued; each bad row is reported with its reason."""
    submitted, warnings = await _read_submission(request, state, idempotency_key)
    submitted = replace(submitted, submitted_by=audit.key_actor(key), submitter_role="campaigns")
    runtime = state.runtime

    def store() -> campaigns.Submission:
        with runtime.db.session() as session:
            return campaigns.submit(session, submitted, settings=runtime.settings, tokens=state.tokens)

    try:
        submission = await run_in_threadpool(store)  # 100k rows: keep the event loop free
    except DataError as exc:
        raise HTTPException(422, str(exc)) from None
    # The fan-out was committed with the campaign (an outbox entry): if Redis is unreachable
    # now, the answer is 202 and the reconciler sends it once Redis is back.
    dispatched = await run_in_threadpool(state.queue.dispatch, submission.fan_out)
    body = CampaignSubmitted(
        id=submission.campaign.id,
        queued=submission.queued_count,
        rejected=[RowError(row=r, error=e) for r, e in submission.rejected],
        rejected_count=submission.rejected_count,
        replayed=submission.replayed,
        warnings=warnings,
    )
    code = 200 if submission.replayed else 201 if dispatched else 202
    return JSONResponse(body.model_dump(), status_code=code)


@router.get("/{campaign_id}", response_model=CampaignPublic)
def get_campaign(campaign_id: str, session: SessionDep, state: StateDep, _: CampaignsKeyDep) -> CampaignPublic:
    """Counts by status, the finish rate over the recent window, and an ETA."""
    campaign = campaigns.get_campaign(session, campaign_id)
    progress = campaigns.progress(session, campaign_id, window_seconds=state.runtime.settings.eta_window_seconds)
    return CampaignPublic(
        id=campaign.id,
        name=campaign.name,
        scene=campaign.scene_name,
        status=campaign.status,
        created_at=campaign.created_at,
        total=progress.total,
        counts=progress.counts,
        finished=progress.finished,
        rate_per_minute=progress.rate_per_minute,
        eta_seconds=progress.eta_seconds,
        completed_at=campaign.completed_at,
        metadata=campaign.meta,
    )


@router.post("/{campaign_id}/cancel")
def cancel_campaign(campaign_id: str, session: SessionDep, key: CampaignsKeyDep) -> dict[str, int]:
    """Rows not started are cancelled; rows rendering now finish."""
    cancelled = campaigns.cancel_campaign(session, campaign_id)
    audit.record(
        session, actor=audit.key_actor(key), role="campaigns", action=audit.Action.CAMPAIGN_CANCEL,
        target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"cancelled": cancelled},
    )  # fmt: skip
    return {"cancelled": cancelled}


@router.post("/{campaign_id}/retry")
def retry_campaign(campaign_id: str, state: StateDep, key: CampaignsKeyDep) -> dict[str, int]:
    """Queue again the rows that failed while rendering, cancelled rows, and stranded rows."""
    runtime = state.runtime
    with runtime.db.session() as session:
        ids = campaigns.retry_failed(session, campaign_id, stranded_after=runtime.settings.reconcile_grace_seconds)
        audit.record(
            session, actor=audit.key_actor(key), role="campaigns", action=audit.Action.CAMPAIGN_RETRY,
            target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"queued": len(ids)},
        )  # fmt: skip
    try:
        state.queue.enqueue(ids)
    except Exception as exc:  # the rows are queued in the database: the reconciler sends them
        log.warning("campaign %s: retry not sent now (%s); the reconciler will", campaign_id, exc)
    return {"queued": len(ids)}


def render_public(render: Render, base_url: str) -> RenderPublic:
    return RenderPublic(
        id=render.id,
        row=render.row_number,
        customer_id=render.customer_id,
        status=render.status,
        error=render.error,
        **render_links(render, base_url),
    )


@router.get("/{campaign_id}/renders", response_model=list[RenderPublic])
def list_renders(
    campaign_id: str,
    session: SessionDep,
    state: StateDep,
    _: CampaignsKeyDep,
    offset: int = Query(0, ge=0, le=MAX_ROW_NUMBER),
    limit: int = Query(1000, ge=1, le=10_000),
) -> list[RenderPublic]:
    campaigns.get_campaign(session, campaign_id)
    base = state.runtime.settings.public_base_url
    return [render_public(r, base) for r in campaigns.list_renders(session, campaign_id, offset=offset, limit=limit)]


@router.get(
    "/{campaign_id}/manifest",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def manifest(
    campaign_id: str, state: StateDep, key: CampaignsKeyDep, format: str = Query("csv", pattern="^(csv|json)$")
) -> StreamingResponse:
    """customer id, landing/video/poster/thumbnail URLs, status, error: one row per customer, streamed."""
    db, base = state.runtime.db, state.runtime.settings.public_base_url
    with db.session() as session:
        campaigns.get_campaign(session, campaign_id)
        audit.record(
            session, actor=audit.key_actor(key), role="campaigns", action=audit.Action.MANIFEST_DOWNLOAD,
            target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"format": format},
        )  # fmt: skip

    def chunks() -> Iterator[str]:
        with db.session() as session:
            rows = iter_manifest(session, campaign_id, base)
            yield from (csv_chunks(rows) if format == "csv" else json_chunks(rows))

    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    filename = f"campaign-{campaign_id}-links.{format}"
    return StreamingResponse(
        chunks(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
