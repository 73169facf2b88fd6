"""Revoking a viewer link: the render stops answering to its token.

``render_by_token`` only accepts the token stored on the render, so revoking is
replacing (or clearing) that token. A digest of the old token is kept in
``revoked_tokens`` for the audit trail; the token itself is not stored twice.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy.orm import Session

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render, RevokedToken
from pvideo.errors import NotFound


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
