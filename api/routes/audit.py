"""Admins: the audit log over the API (``admin`` keys): a page at a time, or exported whole.

The same filters and order as the studio's page (``pvideo.access.audit_query``): newest first,
``next_cursor`` for older entries. An export is itself on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import SessionDep, StateDep, require_scope
from pvideo.access import audit
from pvideo.access.audit_query import (
    MAX_ACTOR_FILTER,
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    AuditFilter,
    audit_page,
    csv_chunks,
    entry_public,
    iter_entries,
    ndjson_chunks,
)
from pvideo.db.engine import Database

router = APIRouter(prefix="/api/audit", tags=["audit"])
AdminKeyDep = Annotated[str, Depends(require_scope("admin"))]


class AuditEntryPublic(BaseModel):
    id: int
    at: str = Field(description="UTC, ISO 8601")
    actor: str = Field(description="a studio user's email, `api key pvk_<prefix>`, `cli <os user>` or `system`")
    role: str | None = Field(description="the user's role, or the key scope the action used")
    action: str
    target_type: str | None
    target_id: str | None = Field(description="a campaign, render, user, key or job id; never a customer id")
    detail: dict[str, Any] = Field(description="counts and choices; never row data")


class AuditLogPage(BaseModel):
    entries: list[AuditEntryPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for older entries; null on the last page")


def audit_filter(
    action: Annotated[str, Query(max_length=48, description="one action, e.g. campaign.submit")] = "",
    actor: Annotated[str, Query(max_length=MAX_ACTOR_FILTER, description="any part of the actor, any case")] = "",
    start: Annotated[str, Query(max_length=10, description="first day, UTC (YYYY-MM-DD)")] = "",
    end: Annotated[str, Query(max_length=10, description="last day, UTC, inclusive")] = "",
) -> AuditFilter:
    try:
        return AuditFilter.parse(action=action, actor=actor, start=start, end=end)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


FilterDep = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("", response_model=AuditLogPage)
def list_audit(
    session: SessionDep,
    _: AdminKeyDep,
    which: FilterDep,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> AuditLogPage:
    """Who did what and when, newest first."""
    try:
        found = audit_page(session, which, cursor=cursor, limit=limit)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    entries = [AuditEntryPublic.model_validate(entry_public(e)) for e in found.entries]
    return AuditLogPage(entries=entries, next_cursor=found.next_cursor)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "newest first"}},
)
def export_audit(
    state: StateDep, key: AdminKeyDep, which: FilterDep, format: Literal["ndjson", "csv"] = "ndjson"
) -> StreamingResponse:
    """Every matching entry, streamed (CSV: ``detail`` as JSON, formula-safe cells)."""
    return audit_export(state.runtime.db, which, format, actor=audit.key_actor(key), role="admin")


def audit_export(
    db: Database,
    which: AuditFilter,
    format: str,
    *,
    actor: str,
    role: str | None,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """The export itself, recorded before it streams (also the studio's download)."""
    with db.session() as session:
        audit.record(
            session,
            actor=actor,
            role=role,
            action=audit.Action.AUDIT_EXPORT,
            detail={"format": format, **which.query()},
        )

    def chunks() -> Iterator[str]:
        with db.session() as reading:
            entries = iter_entries(reading, which)
            yield from (csv_chunks(entries) if format == "csv" else ndjson_chunks(entries))

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    disposition = f'attachment; filename="pvideo-audit.{format}"'
    return StreamingResponse(
        chunks(), media_type=media, headers={**(headers or {}), "Content-Disposition": disposition}
    )
