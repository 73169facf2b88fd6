"""A campaign's interactions in the studio: per-interaction results, the branches and their path
diagram, the form submissions, and the answers' exports.

Anyone signed in may look; personal data (email, phone, free text) is shown only to the roles
that may see it (``pvideo.tracking.interaction_stats.PII_ROLES``: admins and analysts), masked
for the others, in the page and in the exports alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import SessionDep, StateDep
from api.routes.studio.signed_in import ViewerUser, page
from api.state import AppState
from pvideo.access import audit
from pvideo.db.models import User
from pvideo.jobs import campaigns
from pvideo.tracking.charts import funnel_bars
from pvideo.tracking.interaction_stats import (
    csv_chunks,
    form_field_names,
    form_fields,
    interaction_table,
    iter_responses,
    may_see_pii,
    ndjson_chunks,
    scene_interactions,
)

router = APIRouter()

SUBMISSIONS_PER_PAGE = 50
NO_STORE = {"Cache-Control": "no-store"}


def _bars(rows: list[tuple[str, int]]) -> list[Any]:
    """Horizontal bars (the funnel's geometry), one per (label, count)."""
    return funnel_bars([{"step": label, "viewers": count} for label, count in rows], label_width=150)


def _charts(item: dict[str, Any]) -> list[Any]:
    if "choices" in item:
        return _bars([(c["label"], c["count"]) for c in item["choices"]])
    if "nps" in item:
        return _bars([(str(d["score"]), d["count"]) for d in item["nps"]["distribution"]])
    if "rating" in item:
        return _bars([(f"{d['stars']} ★", d["count"]) for d in item["rating"]["distribution"]])
    return []


@router.get("/campaigns/{campaign_id}/interactions")
def interactions_page(
    campaign_id: str,
    request: Request,
    session: SessionDep,
    user: ViewerUser,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    start: date | None = None,
    end: date | None = None,
) -> Response:
    campaign = campaigns.get_campaign(session, campaign_id)
    items, _ = scene_interactions(campaign)
    stats = interaction_table(session.connection(), campaign, start, end)
    see_pii = may_see_pii(user.role)
    offset = (page_number - 1) * SUBMISSIONS_PER_PAGE
    submissions = list(
        iter_responses(
            session,
            campaign,
            see_pii=see_pii,
            types=("form", "gate"),
            newest_first=True,
            limit=SUBMISSIONS_PER_PAGE + 1,
            offset=offset,
        )
    )
    forms = {iid: {f.name: f.label for f in fields} for iid, fields in form_fields(items).items()}
    context = {
        "nav": "campaigns",
        "campaign": campaign,
        "stats": stats,
        "charts": {item["interaction_id"]: _charts(item) for item in stats},
        "submissions": submissions[:SUBMISSIONS_PER_PAGE],
        "more": len(submissions) > SUBMISSIONS_PER_PAGE,
        "page": page_number,
        "forms": forms,
        "see_pii": see_pii,
        "start": start,
        "end": end,
    }
    return page(request, "studio/campaign_interactions.html", context, user=user)


def _export(state: AppState, campaign_id: str, user: User, extension: str) -> StreamingResponse:
    see_pii = may_see_pii(user.role)
    with state.runtime.db.session() as session:
        names = form_field_names(campaigns.get_campaign(session, campaign_id))  # 404 before anything is sent
        audit.record(
            session, actor=user.email, role=user.role, action=audit.Action.ANSWERS_EXPORT,
            target_type=audit.Target.CAMPAIGN, target_id=campaign_id,
            detail={"format": extension, "masked": not see_pii},
        )  # fmt: skip
    db = state.runtime.db

    def chunks() -> Iterator[str]:
        with db.session() as session:
            rows = iter_responses(session, campaigns.get_campaign(session, campaign_id), see_pii=see_pii)
            yield from (csv_chunks(rows, names) if extension == "csv" else ndjson_chunks(rows))

    media = "text/csv; charset=utf-8" if extension == "csv" else "application/x-ndjson"
    disposition = f'attachment; filename="campaign-{campaign_id}-responses.{extension}"'
    return StreamingResponse(chunks(), media_type=media, headers={**NO_STORE, "Content-Disposition": disposition})


@router.get("/campaigns/{campaign_id}/responses.csv")
def responses_csv(campaign_id: str, state: StateDep, user: ViewerUser) -> StreamingResponse:
    return _export(state, campaign_id, user, "csv")


@router.get("/campaigns/{campaign_id}/responses.ndjson")
def responses_ndjson(campaign_id: str, state: StateDep, user: ViewerUser) -> StreamingResponse:
    return _export(state, campaign_id, user, "ndjson")
