"""Create a scene: a name and a template video make its version 1, opened in the editor.

The template is an uploaded video (``uploads/<sha256>/<name>``, see ``pvideo.plan.uploads``)
or a bundled one under ``assets/templates/``. The starter text is small on purpose: a
comment, the template, one field and one text layer bound to it, for the editor to build on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import StateDep
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser, page
from api.state import AppState
from pvideo.db.models import AssetKind, User
from pvideo.errors import PvideoError
from pvideo.jobs import assetlibrary, scenelibrary
from pvideo.plan.uploads import VIDEO_SUFFIXES

router = APIRouter()


def starter_yaml(name: str, video: str) -> str:
    """Version 1 of a new scene: the template and one text layer showing ``first_name``."""
    return (
        f"# {name}: made in the studio. Edit the layers here or drag them on the frame.\n"
        f"name: {name}\n"
        f"video: {json.dumps(video)}\n"
        "fields:\n"
        "  first_name: {type: str}\n"
        "layers:\n"
        "  - type: text\n"
        "    id: greeting\n"
        '    text: "Hello {{ first_name }}!"\n'
        "    start: 0\n"
        "    end: 3\n"
        "    box: {x: 5%, y: 70%, w: 60%, h: 15%}\n"
    )


def template_choices(state: AppState) -> list[dict[str, Any]]:
    """Uploaded videos first (newest first), then the bundled templates."""
    with state.runtime.db.session() as session:
        uploaded = [
            {"path": assetlibrary.asset_path(a), "label": f"{a.name} (uploaded)"}
            for a in assetlibrary.list_assets(session, AssetKind.VIDEO)
        ]
    folder = Path(state.runtime.settings.assets_dir) / "templates"
    bundled = sorted(p for p in folder.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES) if folder.is_dir() else []
    return uploaded + [{"path": f"templates/{p.name}", "label": f"{p.name} (bundled)"} for p in bundled]


def _form(
    request: Request, state: AppState, user: User, *, error: str | None = None, name: str = "", video: str = ""
) -> Response:
    context = {"nav": "scenes", "choices": template_choices(state), "error": error, "name": name, "video": video}
    return page(request, "studio/scene_new.html", context, user=user, status_code=422 if error else 200)


@router.get("/scenes/new")
def new_scene_form(request: Request, state: StateDep, user: SubmitterUser) -> Response:
    """The name and template form (templates: uploaded videos and the bundled ones)."""
    return _form(request, state, user, video=request.query_params.get("video", ""))


def _create(state: AppState, user: User, name: str, video: str) -> None:
    runtime = state.runtime
    if video not in {c["path"] for c in template_choices(state)}:
        raise PvideoError(f"template {video[:200]!r}: choose one of the listed videos")
    with runtime.db.session() as session:
        scenelibrary.check_name(name)
        if scenelibrary.find_scene(session, name) or scenelibrary.scene_file(runtime.settings.scenes_dir, name):
            raise PvideoError(f"a scene named {name!r} exists already: choose another name")
        scenelibrary.save_version(session, name, starter_yaml(name, video), author=user.email, note="created")


@router.post("/scenes/new", dependencies=[CsrfChecked])
async def create_scene(request: Request, state: StateDep, user: SubmitterUser) -> Response:
    """Save version 1 and open the editor on it; a bad name or template is named on the form."""
    form = await request.form(max_files=0, max_fields=5)
    name, video = str(form.get("name", "")).strip(), str(form.get("video", ""))
    try:
        await run_in_threadpool(_create, state, user, name, video)
    except PvideoError as exc:
        return _form(request, state, user, error=str(exc), name=name, video=video)
    return RedirectResponse(f"/studio/scenes/{name}/edit", status_code=303)
