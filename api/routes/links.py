"""Marketing: revoke a customer's personal link (optionally issuing a new one)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import LinksKeyDep, SessionDep, StateDep
from pvideo.access import audit
from pvideo.access.apikeys import key_scopes
from pvideo.access.revocation import revoke_viewer_token

router = APIRouter(prefix="/api/renders", tags=["campaigns"])


class LinkRevoked(BaseModel):
    render_id: str
    landing_url: str | None


@router.post("/{render_id}/revoke-link", response_model=LinkRevoked)
def revoke_link(
    render_id: str,
    session: SessionDep,
    state: StateDep,
    key: LinksKeyDep,
    reissue: bool = Query(False, description="issue a new link in place of the old one"),
    reason: str | None = Query(None, max_length=200),
) -> LinkRevoked:
    """The old link stops working at once (landing page, media, events, clicks)."""
    token = revoke_viewer_token(session, state.tokens, render_id, reissue=reissue, reason=reason)
    scopes = key_scopes(session, key, state.runtime.settings.effective_api_keys) or frozenset()
    # not the reason: free text, it may name the customer
    audit.record(
        session, actor=audit.key_actor(key), role="campaigns" if "campaigns" in scopes else "admin",
        action=audit.Action.LINK_REVOKE, target_type=audit.Target.RENDER, target_id=render_id,
        detail={"reissued": reissue},
    )  # fmt: skip
    base = state.runtime.settings.public_base_url
    return LinkRevoked(render_id=render_id, landing_url=f"{base}/v/{token}" if token else None)
