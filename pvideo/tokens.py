"""Signed viewer tokens: the only thing a landing-page URL carries.

A token is the render id signed with the secret key (HMAC via itsdangerous);
it holds no personal data. A tampered token does not verify and is treated
exactly like an unknown one.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "pvideo.viewer.v1"


class ViewerTokens:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=_SALT)

    def issue(self, render_id: str) -> str:
        return self._serializer.dumps(render_id)

    def verify(self, token: str) -> str | None:
        """The render id, or ``None`` for anything forged, altered or malformed."""
        if not token or len(token) > 200:
            return None
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None
