"""Revoking a viewer link: the render stops answering to its token.

``render_by_token`` only accepts the token stored on the render, so revoking is
replacing (or clearing) that token. A digest of the old token is kept in
``revoked_tokens`` for the audit trail; the token itself is not stored twice. That digest
is also how a revoked link is told from an unknown one: the first is gone (410), the second
never was (404); so is a link whose customer was erased or whose outputs expired.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy.orm import Session

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render, RevokedToken
from pvideo.errors import LinkGone, NotFound


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoke_viewer_token(
    session: Session, tokens: ViewerTokens, render_id: str, *, reissue: bool = False, reason: str | None = None
) -> str | None:
    """Revoke the render's current link; return its new token if ``reissue``, else ``None``."""
    render = session.get(Render, render_id)
    if render is None:
        raise NotFound(f"render {render_id!r} not found")
    if render.viewer_token and session.get(RevokedToken, token_digest(render.viewer_token)) is None:
        session.add(
            RevokedToken(
                token_digest=token_digest(render.viewer_token), render_id=render.id, reason=(reason or "")[:200] or None
            )
        )
    render.viewer_token = None
    session.flush()
    if reissue:
        token = tokens.issue(render.id)
        while is_revoked(session, token):  # tokens carry a one-second timestamp
            time.sleep(0.05)
            token = tokens.issue(render.id)
        render.viewer_token = token
        session.flush()
    return render.viewer_token


def is_revoked(session: Session, token: str) -> bool:
    return session.get(RevokedToken, token_digest(token)) is not None


def link_gone(session: Session, token: str, render: Render | None) -> bool:
    """Whether ``token`` (one that verified, naming ``render``) was a real link that is gone: its
    render erased, its outputs expired, or the token revoked. A gone link answers 410, an unknown
    one 404; only asked once the token failed to open its render, so the open path pays nothing."""
    if render is None:
        return False  # the render itself was deleted (its revoked tokens with it): unknown
    if render.erased_at is not None:
        return True
    if render.viewer_token == token:
        return render.outputs_expired_at is not None
    return is_revoked(session, token)


def render_by_token(session: Session, tokens: ViewerTokens, token: str) -> Render | None:
    """The render a viewer token opens, or ``None`` for a forged, altered or unknown token;
    ``LinkGone`` for a revoked one, or one whose customer was erased or outputs expired."""
    render_id = tokens.verify(token)
    render = session.get(Render, render_id) if render_id else None
    if render is not None and render.viewer_token == token and render.outputs_expired_at is None:
        return render
    if render_id and link_gone(session, token, render):
        raise LinkGone("this video is no longer available")
    return None
