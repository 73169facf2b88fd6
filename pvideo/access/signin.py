"""Sign-in cookies: a studio user's session, and CSRF tokens for forms sent before there is one.

The session cookie holds the user's id and session generation, signed with the secret key
(itsdangerous); bumping the generation signs the user out everywhere. CSRF tokens for the
sign-in and invite forms are random values signed the same way (double-submit: cookie and
form field must match and verify). API keys no longer sign in to pages: they are for machines.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_MAX_AGE = 12 * 3600
CSRF_MAX_AGE = 2 * 3600


class DashboardSignin:
    def __init__(self, secret_key: str) -> None:
        self._sessions = URLSafeTimedSerializer(secret_key, salt="pvideo.dashboard.session.v1")
        self._csrf = URLSafeTimedSerializer(secret_key, salt="pvideo.dashboard.csrf.v1")

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
