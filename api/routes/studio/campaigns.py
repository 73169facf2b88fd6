"""The studio's campaigns: the live list (filters, cancel, retry) and each campaign's page.

Anyone signed in sees every campaign, its failures, personal links, manifest and analytics;
only marketing and admins may cancel or retry (``SubmitterUser``, checked on the POST).
The list's table body is a partial that htmx polls every 2 s; the campaign page follows
the campaign through ``api.routes.studio.campaign_live`` (Server-Sent Events).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep, StateDep
from api.routes.studio import campaign_live
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser, ViewerUser, page
from api.state import AppState
from pvideo.access import audit
from pvideo.db.models import SceneVersion
from pvideo.jobs import campaigns
from pvideo.jobs.live import FAILURES_PER_UPDATE, live_update
from pvideo.jobs.manifest import render_links
from pvideo.privacy.counts import gone_counts
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.charts import funnel_bars, retention_points
from pvideo.tracking.overview import STATUSES, campaign_progress, scene_names, shown_status

log = logging.getLogger(__name__)
router = APIRouter()
router.include_router(campaign_live.router)

LINKS_PER_PAGE = 50
NOTICES = {
    "cancelled": "Campaign cancelled: rows not started will not render; rows rendering now finish.",
    "retried": "The failed and cancelled rows are queued again.",
    "nothing": "There was nothing to retry.",
}
Status = Annotated[str | None, Query(max_length=16)]
Scene = Annotated[str | None, Query(max_length=200)]


def _filters(status: str | None, scene: str | None) -> dict[str, str]:
    return {"status": status if status in STATUSES else "", "scene": (scene or "").strip()}


def _rows_context(state: AppState, status: str | None, scene: str | None) -> dict[str, object]:
    filters = _filters(status, scene)
    with state.runtime.db.session() as session:
        rows = campaign_progress(session, status=filters["status"] or None, scene=filters["scene"] or None)
    query = urlencode({k: v for k, v in filters.items() if v})
    return {
        "campaigns": rows,
        "filters": filters,
        "rows_url": "/studio/campaigns/rows" + (f"?{query}" if query else ""),
        "back": "/studio/campaigns" + (f"?{query}" if query else ""),
    }


@router.get("/campaigns")
def campaign_list(
    request: Request, state: StateDep, user: ViewerUser, status: Status = None, scene: Scene = None
) -> Response:
    context = _rows_context(state, status, scene)
    with state.runtime.db.session() as session:
        context["scenes"] = scene_names(session)
    return page(request, "studio/campaigns.html", {**context, "nav": "campaigns", "statuses": STATUSES}, user=user)


@router.get("/campaigns/rows")
def campaign_rows(
    request: Request, state: StateDep, user: ViewerUser, status: Status = None, scene: Scene = None
) -> Response:
    """The list's ``<tbody>`` alone: what htmx polls."""
    return page(request, "studio/campaigns_rows.html", _rows_context(state, status, scene), user=user)


def _back(value: object, campaign_id: str, notice: str) -> str:
    """Where a cancel or retry form goes back to: a studio campaigns page, with the notice."""
    target = value if isinstance(value, str) and len(value) < 600 else ""
    parts = urlsplit(target)
    if not parts.path.startswith("/studio/campaigns") or parts.scheme or parts.netloc or not target.isprintable():
        parts = urlsplit(f"/studio/campaigns/{campaign_id}")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "notice"] + [("notice", notice)]
    return f"{parts.path}?{urlencode(query)}"


def _done(request: Request, back: object, campaign_id: str, notice: str) -> Response:
    if request.headers.get("hx-request"):  # the list refreshes its rows at once
        return Response(headers={"HX-Trigger": "campaigns-changed", "Cache-Control": "no-store"})
    return RedirectResponse(_back(back, campaign_id, notice), status_code=303, headers={"Cache-Control": "no-store"})


@router.post("/campaigns/{campaign_id}/cancel", dependencies=[CsrfChecked])
async def cancel(
    campaign_id: str, request: Request, state: StateDep, user: SubmitterUser, back: Annotated[str, Form()] = ""
) -> Response:
    def store() -> int:
        with state.runtime.db.session() as session:
            cancelled = campaigns.cancel_campaign(session, campaign_id)
            audit.record(
                session, actor=user.email, role=user.role, action=audit.Action.CAMPAIGN_CANCEL,
                target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"cancelled": cancelled},
            )  # fmt: skip
            return cancelled

    cancelled = await run_in_threadpool(store)
    log.info("campaign %s cancelled by %s (%d rows)", campaign_id, user.email, cancelled)
    return _done(request, back, campaign_id, "cancelled")


@router.post("/campaigns/{campaign_id}/retry", dependencies=[CsrfChecked])
async def retry(
    campaign_id: str, request: Request, state: StateDep, user: SubmitterUser, back: Annotated[str, Form()] = ""
) -> Response:
    """As ``POST /api/campaigns/{id}/retry``: the rows are queued in the database, then sent."""
    runtime = state.runtime

    def store() -> list[str]:
        with runtime.db.session() as session:
            ids = campaigns.retry_failed(session, campaign_id, stranded_after=runtime.settings.reconcile_grace_seconds)
            audit.record(
                session, actor=user.email, role=user.role, action=audit.Action.CAMPAIGN_RETRY,
                target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"queued": len(ids)},
            )  # fmt: skip
            return ids

    ids = await run_in_threadpool(store)
    try:
        await run_in_threadpool(state.queue.enqueue, ids)
    except Exception as exc:  # queued in the database: the reconciler sends them
        log.warning("campaign %s: retry not sent now (%s); the reconciler will", campaign_id, exc)
    log.info("campaign %s: %d rows retried by %s", campaign_id, len(ids), user.email)
    return _done(request, back, campaign_id, "retried" if ids else "nothing")


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    campaign_id: str,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: ViewerUser,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    start: date | None = None,
    end: date | None = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    settings = state.runtime.settings
    campaign = campaigns.get_campaign(session, campaign_id)
    live = live_update(
        session, campaign_id, None, window_seconds=settings.eta_window_seconds, limit=2 * FAILURES_PER_UPDATE
    )
    offset = (page_number - 1) * LINKS_PER_PAGE
    renders = campaigns.list_renders(session, campaign_id, offset=offset, limit=LINKS_PER_PAGE + 1)
    stats = campaign_analytics(session, campaign_id, start=start, end=end)
    context = {
        "nav": "campaigns",
        "flash": NOTICES.get(notice or ""),
        "campaign": campaign,
        "version": session.get(SceneVersion, campaign.scene_version_id) if campaign.scene_version_id else None,
        "status": shown_status(campaign.status, campaign.completed_at),
        "live": live,
        "renders": [(r, render_links(r, settings.public_base_url)) for r in renders[:LINKS_PER_PAGE]],
        "page": page_number,
        "more": len(renders) > LINKS_PER_PAGE,
        "stats": stats,
        "gone": gone_counts(session, campaign_id),
        "funnel": funnel_bars(stats["funnel"]),
        "curve": retention_points(stats["drop_off"]),
        "start": start,
        "end": end,
    }
    return page(request, "studio/campaign.html", context, user=user)
