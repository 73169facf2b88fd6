"""Analytics: a campaign's engagement numbers (defined in ``pvideo.tracking.analytics``) and its
viewers' answers (``pvideo.tracking.interaction_stats``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from api.deps import AnalyticsKeyDep, SessionDep, StateDep
from pvideo.access import audit
from pvideo.jobs.campaigns import get_campaign
from pvideo.tracking.analytics import campaign_analytics
from pvideo.tracking.interaction_stats import csv_chunks, form_field_names, iter_responses, ndjson_chunks

router = APIRouter(prefix="/api/campaigns", tags=["analytics"])


@router.get("/{campaign_id}/analytics")
def get_analytics(
    campaign_id: str,
    session: SessionDep,
    _: AnalyticsKeyDep,
    start: date | None = Query(None, description="first day (UTC) of sessions to count"),
    end: date | None = Query(None, description="last day (UTC), inclusive"),
) -> dict[str, Any]:
    """Rendered, opened, viewers, play rate, % watched, completion, funnel, drop-off, CTAs,
    interactions (answers, NPS, branches), by day and by device. Every metric is defined in the
    pvideo.tracking.analytics docstring, and in docs/analytics.md."""
    if start and end and end < start:
        raise HTTPException(422, "end is before start")
    get_campaign(session, campaign_id)
    return campaign_analytics(session, campaign_id, start=start, end=end)


@router.get(
    "/{campaign_id}/responses",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "one answer per line"}},
)
def export_responses(
    campaign_id: str,
    state: StateDep,
    session: SessionDep,
    key: AnalyticsKeyDep,
    format: Literal["ndjson", "csv"] = "ndjson",
    masked: bool = Query(False, description="mask personal data (emails, phones, free text) as the studio does"),
) -> StreamingResponse:
    """Every viewer answer of the campaign, by id: NDJSON (the answer as an object) or CSV (the
    answer as JSON and a ``field.<name>`` column per form field; formula-safe)."""
    campaign = get_campaign(session, campaign_id)
    names = form_field_names(campaign)
    audit.record(
        session, actor=audit.key_actor(key), role="analytics", action=audit.Action.ANSWERS_EXPORT,
        target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"format": format, "masked": masked},
    )  # fmt: skip
    session.commit()  # before the stream starts: the export is on record even if the download breaks off
    db = state.runtime.db

    def chunks() -> Iterator[str]:
        with db.session() as reading:
            found = get_campaign(reading, campaign_id)
            rows = iter_responses(reading, found, see_pii=not masked)
            yield from (csv_chunks(rows, names) if format == "csv" else ndjson_chunks(rows))

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    disposition = f'attachment; filename="campaign-{campaign_id}-responses.{format}"'
    return StreamingResponse(chunks(), media_type=media, headers={"Content-Disposition": disposition})
