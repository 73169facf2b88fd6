"""Marketing: revoke a customer's personal link (optionally issuing a new one)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import LinksKeyDep, SessionDep, StateDep
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
    _: LinksKeyDep,
    reissue: bool = Query(False, description="issue a new link in place of the old one"),
    reason: str | None = Query(None, max_length=200),
) -> LinkRevoked:
    """The old link stops working at once (landing page, media, events, clicks)."""
    token = revoke_viewer_token(session, state.tokens, render_id, reissue=reissue, reason=reason)
    base = state.runtime.settings.public_base_url
    return LinkRevoked(render_id=render_id, landing_url=f"{base}/v/{token}" if token else None)
