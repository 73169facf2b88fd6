"""Signed viewer tokens: the only thing a landing-page URL carries.

A token is the render id and its issue time, signed with the secret key (HMAC
via itsdangerous); it holds no personal data. A token older than ``max_age``
seconds, tampered with, or signed with another key does not verify and is
treated exactly like an unknown one. Revocation is a database matter (see
``pvideo.access.revocation``): a render only answers to the token stored on it.
"""

from __future__ import annotations

import math

from itsdangerous import BadSignature, URLSafeTimedSerializer

_SALT = "pvideo.viewer.v2"
MAX_TOKEN_LENGTH = 200
DEFAULT_MAX_AGE = 365 * 24 * 3600


class ViewerTokens:
    def __init__(self, secret_key: str, *, max_age: float = DEFAULT_MAX_AGE) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        # token ages are whole seconds, so "older than max_age" is "older than floor(max_age)"
        self.max_age = math.floor(max_age)

    def issue(self, render_id: str) -> str:
        return self._serializer.dumps(render_id)

    def verify(self, token: str) -> str | None:
        """The render id, or ``None`` for anything forged, altered, expired or malformed."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            value = self._serializer.loads(token, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        return value if isinstance(value, str) else None
