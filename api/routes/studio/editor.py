"""The scene editor's page: one scene's YAML with its frame, layer boxes, timeline and preview.

The page is a shell: the text it opens (the scene's latest version, else its file), the
version that text is (``base``: a save names it, so a version saved meanwhile by someone
else is noticed), and the scene's versions for the diff links. Everything it does after
loading goes through the editor's JSON API (``api.routes.studio.editor_api``), which
validates and previews with the production code; ``api/static/studio/editor.js`` drives it.
Marketing and admins only: an analyst gets the 403 page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import StateDep
from api.routes.studio.signed_in import StudioRedirect, SubmitterUser, page
from pvideo.errors import NotFound
from pvideo.jobs import scenelibrary as library

router = APIRouter()


@router.get("/scenes/{name}/edit")
def edit(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """The editor on the text scene ``name`` stands for now (archived scenes too: saving makes a
    version, it does not unarchive)."""
    runtime = state.runtime
    try:
        with runtime.db.session() as session:
            text, latest = library.current_text(session, runtime.settings.scenes_dir, name)
            in_library = library.find_scene(session, name) is not None
            versions = library.versions_of(session, name) if in_library else []
    except NotFound:
        raise StudioRedirect(
            page(request, "studio/wizard_missing.html", {"nav": "scenes", "message": f"There is no scene {name[:100]!r}."},
                 user=user, status_code=404)
        ) from None  # fmt: skip
    context = {
        "nav": "scenes",
        "name": name,
        "quoted": quote(name, safe=""),
        "yaml_text": text,
        "base": latest.number if latest else None,
        "versions": versions,
    }
    return page(request, "studio/editor.html", context, user=user)
