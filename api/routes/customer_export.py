"""A customer's data export (right of access): ``GET /api/customers/{customer_id}/export``.

For admins only: an API key with the ``admin`` or ``privacy`` scope, or a studio user whose
role is admin. The studio's session cookie is scoped to ``/studio``, so the same export is
also served at ``/studio/customers/{customer_id}/export`` for a signed-in admin's browser.
The audit entry names who asked, the format and the counts, never the customer id.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from api.deps import StateDep, optional_key_scopes
from api.routes.studio.signed_in import SESSION_COOKIE, current_user
from pvideo.access import audit
from pvideo.access.users import Role
from pvideo.privacy.archive import json_bytes, write_zip
from pvideo.privacy.export import customer_export, record_export

router = APIRouter(tags=["privacy"])

PRIVACY_SCOPES = frozenset({"admin", "privacy"})
NO_STORE = {"Cache-Control": "no-store"}
CustomerId = Annotated[str, PathParam(min_length=1, max_length=200, description="the id from the customer file")]


@dataclass(frozen=True)
class Requester:
    """Who asked, as the audit log names them."""

    actor: str
    role: str


def privacy_requester(
    request: Request, state: StateDep, scopes: Annotated[frozenset[str] | None, Depends(optional_key_scopes)]
) -> Requester:
    """An API key with the ``admin`` or ``privacy`` scope, else a signed-in admin (401, 403 otherwise)."""
    if scopes is not None:
        held = scopes & PRIVACY_SCOPES
        if not held:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key lacks the scope admin or privacy")
        return Requester(
            audit.key_actor(request.headers.get("x-api-key", "")), "admin" if "admin" in held else "privacy"
        )
    user = current_user(request, state, request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send an API key with the admin or privacy scope, or sign in to the studio as an admin",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    if user.role != Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins may export a customer's data")
    return Requester(user.email, user.role)


RequesterDep = Annotated[Requester, Depends(privacy_requester)]


@router.get(
    "/api/customers/{customer_id}/export",
    responses={
        200: {"content": {"application/json": {}, "application/zip": {}}, "description": "the export"},
        404: {"description": "no customer with that id (in that campaign)"},
    },
)
@router.get("/studio/customers/{customer_id}/export", include_in_schema=False)
def export_customer(
    customer_id: CustomerId,
    state: StateDep,
    who: RequesterDep,
    format: Literal["json", "zip"] = "json",
    campaign_id: str | None = Query(None, min_length=1, max_length=32, description="only this campaign"),
) -> Response:
    """Everything pvideo holds about one customer: their rows, events, answers, webhook
    deliveries, revoked links and stored media, as one JSON document, or (``format=zip``) a ZIP
    of that document and the media files. ``docs/privacy.md`` describes every field."""
    runtime = state.runtime
    export = customer_export(runtime, customer_id, campaign_id=campaign_id)  # 404 when unknown
    filename = f"customer-export-{export.generated_at:%Y%m%d-%H%M%S}.{format}"
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'}
    if format == "json":
        body = json_bytes(export)
        record_export(runtime, export, actor=who.actor, role=who.role, format=format)
        return Response(body, media_type="application/json", headers=headers)
    folder = Path(tempfile.mkdtemp(prefix="pvideo-export-"))
    try:
        path = write_zip(export, runtime.storage, folder / "export.zip")
        record_export(runtime, export, actor=who.actor, role=who.role, format=format)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    remove = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    return FileResponse(path, media_type="application/zip", headers=headers, background=remove)
