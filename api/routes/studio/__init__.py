"""The studio: marketing runs campaigns in the browser, analysts read them, admins manage users.

Server-rendered Jinja2 pages with htmx and small vanilla modules (``api/static/studio``),
under the strict CSP; every route checks the signed-in user's role on the server
(``api.routes.studio.signed_in``).
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/studio", include_in_schema=False)
