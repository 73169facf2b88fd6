"""Admins manage the stored API keys (for machines): list, create (the key is shown once), revoke.

Keys from ``PVIDEO_API_KEYS`` or the embedded ``api.key`` live in the server's settings, not
here; only the keys ``pvideo apikey create`` or this page stored can be listed and revoked.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import StateDep
from api.routes.studio.signed_in import AdminUser, CsrfChecked, page
from pvideo.access import audit
from pvideo.access.apikeys import SCOPES, create_key, list_keys, revoke_key
from pvideo.db.models import ApiKey, User
from pvideo.errors import DataError

router = APIRouter()


def _keys_page(
    request: Request, session: Session, admin: User, context: dict | None = None, status_code: int = 200
) -> Response:
    context = {"nav": "keys", "keys": list_keys(session), "scopes": SCOPES, "form": {}, **(context or {})}
    return page(request, "studio/keys.html", context, user=admin, status_code=status_code)


@router.get("/keys")
def keys(request: Request, state: StateDep, admin: AdminUser, done: str | None = None) -> Response:
    flash = "Key revoked: requests with it now get 401." if done == "revoked" else None
    with state.runtime.db.session() as session:
        return _keys_page(request, session, admin, {"flash": flash})


@router.post("/keys", dependencies=[CsrfChecked])
async def keys_create(request: Request, state: StateDep, admin: AdminUser) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    name = form.get("name")
    name = name.strip()[:200] if isinstance(name, str) else ""
    scopes = [s for s in form.getlist("scope") if isinstance(s, str)]
    with state.runtime.db.session() as session:
        try:
            row, key = create_key(session, scopes, name=name or None)
        except DataError:
            context = {"form": {"name": name, "scopes": scopes}, "error": "Tick at least one scope."}
            return _keys_page(request, session, admin, context, 400)
        audit.record(
            session, actor=admin.email, role=admin.role, action=audit.Action.APIKEY_CREATE,
            target_type=audit.Target.API_KEY, target_id=row.id,
            detail={"name": row.name, "prefix": row.prefix, "scopes": row.scopes},
        )  # fmt: skip
        created = {"name": row.name, "scopes": ", ".join(row.scopes), "key": key}
        return _keys_page(request, session, admin, {"created": created})


@router.post("/keys/{key_id}/revoke", dependencies=[CsrfChecked])
def keys_revoke(key_id: str, request: Request, state: StateDep, admin: AdminUser) -> Response:
    with state.runtime.db.session() as session:
        if session.get(ApiKey, key_id) is None:
            return _keys_page(request, session, admin, {"error": "There is no such key."}, 404)
        row = revoke_key(session, key_id)
        audit.record(
            session, actor=admin.email, role=admin.role, action=audit.Action.APIKEY_REVOKE,
            target_type=audit.Target.API_KEY, target_id=key_id, detail={"name": row.name, "prefix": row.prefix},
        )  # fmt: skip
    return RedirectResponse("/studio/keys?done=revoked", status_code=303)
