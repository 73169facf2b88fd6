"""Sign-in cookies: a studio user's session, or one that names an API key without containing it.

The cookie holds a digest of the key, signed with the secret key (itsdangerous);
it is accepted only while that key is still configured, so removing a key from
``PVIDEO_API_KEYS`` signs its sessions out. CSRF tokens for the sign-in and
sign-out forms are random values signed the same way (double-submit: cookie
and form field must match and verify).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_MAX_AGE = 12 * 3600
CSRF_MAX_AGE = 2 * 3600


def key_digest(api_key: str) -> str:
    return hashlib.sha256(b"pvideo.dashboard:" + api_key.encode()).hexdigest()


class DashboardSignin:
    def __init__(self, secret_key: str) -> None:
        self._sessions = URLSafeTimedSerializer(secret_key, salt="pvideo.dashboard.session.v1")
        self._csrf = URLSafeTimedSerializer(secret_key, salt="pvideo.dashboard.csrf.v1")

    @staticmethod
    def valid_key(api_key: str, valid_keys: list[str]) -> bool:
        return bool(api_key) and any(hmac.compare_digest(api_key.encode(), k.encode()) for k in valid_keys)

    def session_cookie(self, api_key: str) -> str:
        return self._sessions.dumps(key_digest(api_key))

    def signed_in(self, cookie: str | None, valid_keys: list[str]) -> bool:
        if not cookie or len(cookie) > 500:
            return False
        try:
            digest = self._sessions.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(digest, str) and any(hmac.compare_digest(digest, key_digest(k)) for k in valid_keys)

    def stored_key_cookie(self, key_id: str) -> str:
        """A session of a stored (``pvideo apikey``) key: its id, checked against the database on use."""
        return self._sessions.dumps({"key_id": key_id})

    def stored_key_session(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 500:
            return None
        try:
            value = self._sessions.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        key_id = value.get("key_id") if isinstance(value, dict) else None
        return key_id if isinstance(key_id, str) else None

    def user_cookie(self, user_id: str, generation: int) -> str:
        """A studio user's session: their id and session generation (bumped to sign out everywhere)."""
        return self._sessions.dumps({"user": user_id, "gen": generation})

    def user_session(self, cookie: str | None) -> tuple[str, int] | None:
        if not cookie or len(cookie) > 500:
            return None
        try:
            value = self._sessions.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(value, dict):
            return None
        user, generation = value.get("user"), value.get("gen")
        return (user, generation) if isinstance(user, str) and isinstance(generation, int) else None

    def new_csrf(self) -> str:
        return self._csrf.dumps(secrets.token_urlsafe(16))

    def csrf_ok(self, cookie: str | None, form_value: str | None) -> bool:
        if not cookie or not form_value or not hmac.compare_digest(cookie.encode(), form_value.encode()):
            return False
        try:
            self._csrf.loads(cookie, max_age=CSRF_MAX_AGE)
        except BadSignature:
            return False
        return True
