"""Signed viewer tokens: the only thing a landing-page URL carries.

A token is the render id and its issue time, signed with the secret key (HMAC
via itsdangerous); it holds no personal data. A token older than ``max_age``
seconds, tampered with, or signed with another key does not verify and is
treated exactly like an unknown one. Revocation is a database matter (see
``pvideo.access.revocation``): a render only answers to the token stored on it.

A landing page sends its token with every event batch, so a verified token is remembered
(its render id and signing time, in a bounded table): the next check of it is a lookup and
the age test, not an HMAC and three base64 decodings. Only tokens that verified are kept, and
the age is tested on every check, so an expiring token stops opening its render on time.
"""

from __future__ import annotations

import contextlib
import math
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

_SALT = "pvideo.viewer.v2"
MAX_TOKEN_LENGTH = 200
DEFAULT_MAX_AGE = 365 * 24 * 3600
CACHE_SIZE = 20_000  # verified tokens remembered per process (~5 MB)


class ViewerTokens:
    def __init__(self, secret_key: str, *, max_age: float = DEFAULT_MAX_AGE, cache_size: int = CACHE_SIZE) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        # token ages are whole seconds, so "older than max_age" is "older than floor(max_age)"
        self.max_age = math.floor(max_age)
        self.cache_size = cache_size
        self._verified: dict[str, tuple[str, int]] = {}  # token -> (render id, signed at), oldest first

    def issue(self, render_id: str) -> str:
        return self._serializer.dumps(render_id)

    def verify(self, token: str) -> str | None:
        """The render id, or ``None`` for anything forged, altered, expired or malformed."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        known = self._verified.get(token)
        if known is not None:
            age = int(time.time()) - known[1]  # as itsdangerous counts it
            return known[0] if 0 <= age <= self.max_age else None
        try:
            value, signed = self._serializer.loads(token, max_age=self.max_age, return_timestamp=True)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(value, str):
            return None
        if len(self._verified) >= self.cache_size:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread got there first
                del self._verified[next(iter(self._verified))]
        self._verified[token] = (value, int(signed.timestamp()))
        return value
