"""Admins read the audit log: who did what and when, newest first, filtered, exported.

A plain GET form (works without JavaScript): action, actor (any part of it), a range of UTC
days. Older entries are keyset pages (``cursor``), so entries added meanwhile never shift a
page. The CSV and NDJSON exports stream every matching entry and are themselves on record.
Others get the 403 page: ``AdminUser`` checks the role on the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import StateDep
from api.routes.audit import audit_export
from api.routes.studio.signed_in import AdminUser, page
from api.state import AppState
from pvideo.access import audit
from pvideo.access.audit_query import (
    AuditFilter,
    audit_page,
    entry_public,
)
from pvideo.db.models import User

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}
_FIELDS = ("action", "actor", "start", "end")


def _asked(request: Request) -> tuple[dict[str, str], AuditFilter | str]:
    """The form's fields as sent (to show them back) and the filter, or why it is not one."""
    sent = {name: request.query_params.get(name, "")[:400] for name in _FIELDS}
    try:
        return sent, AuditFilter.parse(**sent)
    except ValueError as exc:
        return sent, str(exc)


@router.get("/audit")
def audit_log(request: Request, state: StateDep, admin: AdminUser) -> Response:
    sent, which = _asked(request)
    cursor = request.query_params.get("cursor", "")[:40]
    context: dict[str, Any] = {"nav": "audit", "actions": list(audit.Action), "sent": sent, "cursor": cursor}
    if isinstance(which, str):
        return page(request, "studio/audit.html", {**context, "error": which}, user=admin, status_code=400)
    with state.runtime.db.session() as session:
        try:
            found = audit_page(session, which, cursor=cursor or None)
        except ValueError as exc:
            return page(request, "studio/audit.html", {**context, "error": str(exc)}, user=admin, status_code=400)
        query = urlencode(which.query())
        context.update(
            entries=[entry_public(e) for e in found.entries],
            query=query,
            older=f"?{urlencode({**which.query(), 'cursor': found.next_cursor})}" if found.next_cursor else None,
            filtered=bool(which.query()),
        )
        return page(request, "studio/audit.html", context, user=admin)


def _export(request: Request, state: AppState, admin: User, extension: str) -> Response:
    sent, which = _asked(request)
    if isinstance(which, str):
        context = {"nav": "audit", "actions": list(audit.Action), "sent": sent, "error": which}
        return page(request, "studio/audit.html", context, user=admin, status_code=400)
    return audit_export(state.runtime.db, which, extension, actor=admin.email, role=admin.role, headers=NO_STORE)


@router.get("/audit.csv")
def audit_csv(request: Request, state: StateDep, admin: AdminUser) -> Response:
    return _export(request, state, admin, "csv")


@router.get("/audit.ndjson")
def audit_ndjson(request: Request, state: StateDep, admin: AdminUser) -> Response:
    return _export(request, state, admin, "ndjson")
