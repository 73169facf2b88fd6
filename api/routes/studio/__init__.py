"""The studio: marketing runs campaigns in the browser, analysts read them, admins manage users.

Server-rendered Jinja2 pages with htmx and small vanilla modules (``api/static/studio``),
under the strict CSP; every route checks the signed-in user's role on the server
(``api.routes.studio.signed_in``).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.studio import (
    assets,
    audit,
    auth,
    campaigns,
    editor,
    editor_api,
    editor_render,
    interactions,
    keys,
    library,
    scene_new,
    users,
    webhooks,
    wizard,
)

router = APIRouter(prefix="/studio", include_in_schema=False)
router.add_api_route("", auth.studio_home, methods=["GET"])  # a sub-router may not hold the bare prefix
for module in (
    wizard,  # before campaigns: its /campaigns/new would otherwise be taken for /campaigns/{id}
    interactions,
    campaigns,
    webhooks,
    scene_new,  # before library: its /scenes/new would otherwise be taken for /scenes/{name}
    editor_api,  # the editor's /scenes/{name}/editor/... (before library, whatever it adds)
    editor_render,
    library,
    editor,
    assets,
    auth,
    users,
    keys,
    audit,
):
    router.include_router(module.router)
