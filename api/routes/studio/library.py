"""The scene library: every scene as a card, one page per scene with its versions.

Anyone signed in may look (and download a version's YAML, byte for byte as saved);
marketing and admins may duplicate a scene and archive or unarchive it. A scene that so far
is only a file in scenes/ is listed too; archiving one imports the file as version 1 first.
The versions themselves are made by ``pvideo scene push`` (and, later, the editor).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api.deps import StateDep
from api.routes.studio.signed_in import CsrfChecked, StudioRedirect, SubmitterUser, ViewerUser, page
from api.routes.studio.wizard_preview import poster_of
from api.routes.studio.wizard_steps import field_rows
from api.state import AppState
from pvideo.db.models import User
from pvideo.errors import NotFound, PvideoError
from pvideo.jobs import scenelibrary as library
from pvideo.plan.assets import resolve_asset
from pvideo.plan.uploads import asset_root
from pvideo.render.probe import probe
from pvideo.scene.spec import SceneSpec, load_scene, scene_from_text
from pvideo.settings import Settings

router = APIRouter()
YAML_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def scene_card(state: AppState, summary: library.SceneSummary) -> dict[str, Any]:
    """What a card shows of a scene (its latest version, else its file): its facts, or the error
    that makes it unusable."""
    settings, name = state.runtime.settings, summary.name
    card: dict[str, Any] = {
        "name": name,
        "version": summary.latest.number if summary.latest else None,
        "versions": summary.versions,
        "archived": summary.archived_at is not None,
        "campaigns": sorted(summary.campaigns.items(), reverse=True),
    }
    try:
        spec = _spec(settings, summary)
        template = probe(resolve_asset(asset_root(settings, state.runtime.storage), spec.video), count_frames=False)
    except PvideoError as exc:
        return {**card, "error": str(exc)}
    return {
        **card,
        "title": spec.name,
        "duration": template.duration,
        "width": template.width,
        "height": template.height,
        "fields": field_rows(spec),
        "poster_at": spec.poster_at,
    }


def _spec(settings: Settings, summary: library.SceneSummary) -> SceneSpec:
    if summary.latest is not None:
        return library.version_spec(summary.name, summary.latest)
    return load_scene(settings.scenes_dir / f"{summary.name}.yaml")


def library_cards(state: AppState, *, archived: bool) -> list[dict[str, Any]]:
    """The cards of every scene (``archived``: those too, else only the ones offered for campaigns)."""
    settings = state.runtime.settings
    with state.runtime.db.session() as session:
        summaries = library.list_scenes(session, settings.scenes_dir)
    return [scene_card(state, s) for s in summaries if archived or s.archived_at is None]


@router.get("/scenes")
def scenes(request: Request, state: StateDep, user: ViewerUser) -> Response:
    """Every scene as a card; archived scenes after the others."""
    cards = library_cards(state, archived=True)
    context = {
        "nav": "scenes",
        "cards": [c for c in cards if not c["archived"]],
        "archived": [c for c in cards if c["archived"]],
    }
    return page(request, "studio/library.html", context, user=user)


def _scene_page(
    request: Request, state: AppState, user: User, name: str, *, error: str | None = None, new_name: str = ""
) -> Response:
    settings = state.runtime.settings
    with state.runtime.db.session() as session:
        scene = library.find_scene(session, name)
        versions = library.versions_of(session, name) if scene is not None else []
        pinned = library.campaigns_by_version(session, versions)
        counts = library.campaign_counts(session, versions)
        summary = next((s for s in library.list_scenes(session, settings.scenes_dir) if s.name == name), None)
    if summary is None:
        raise StudioRedirect(
            page(request, "studio/wizard_missing.html", {"nav": "scenes", "message": f"There is no scene {name[:100]!r}."},
                 user=user, status_code=404)
        )  # fmt: skip
    context = {
        "nav": "scenes",
        "card": scene_card(state, summary),
        "in_library": scene is not None,
        "versions": versions,
        "pinned": pinned,
        "counts": counts,
        "error": error,
        "new_name": new_name,
    }
    return page(request, "studio/library_scene.html", context, user=user, status_code=422 if error else 200)


@router.get("/scenes/{name}")
def scene(request: Request, state: StateDep, user: ViewerUser, name: str) -> Response:
    """One scene: its facts, every version (author, time, note, hash, the campaigns pinned to it)."""
    return _scene_page(request, state, user, name)


@router.get("/scenes/{name}/card.png")
async def card_poster(
    request: Request, state: StateDep, user: ViewerUser, name: str, version: int | None = Query(None, ge=1)
) -> Response:
    """A library card's poster, for anyone signed in: version ``version`` of the scene (archived
    too), else the text it stands for now (its latest version, else its file)."""

    def spec() -> SceneSpec:
        with state.runtime.db.session() as session:
            if version is not None:
                return library.version_spec(name, library.get_version(session, name, version))
            text, found = library.current_text(session, state.runtime.settings.scenes_dir, name)
        return library.version_spec(name, found) if found else scene_from_text(text, source=f"{name}.yaml")

    try:
        chosen = await run_in_threadpool(spec)
    except NotFound as exc:
        return Response(str(exc), status_code=404, media_type="text/plain")
    except PvideoError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain")
    return await poster_of(request, state, chosen)


@router.get("/scenes/{name}/versions/{number}.yaml")
def version_yaml(state: StateDep, user: ViewerUser, name: str, number: int) -> Response:
    """Version ``number``'s text exactly as it was saved (comments, order and line ends kept)."""
    with state.runtime.db.session() as session:
        try:
            version = library.get_version(session, name, number)
        except NotFound as exc:
            return Response(str(exc), status_code=404, media_type="text/plain")
    headers = {
        **YAML_HEADERS,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'{name}-v{number}.yaml')}",
        "X-Scene-SHA256": version.sha256,
    }
    return Response(version.yaml_text.encode("utf-8"), media_type="application/yaml; charset=utf-8", headers=headers)


@router.post("/scenes/{name}/duplicate", dependencies=[CsrfChecked])
async def duplicate(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """A new scene (the name given) whose version 1 is this scene's latest text."""
    new_name = str((await request.form()).get("new_name", "")).strip()

    def copy() -> None:
        with state.runtime.db.session() as session:
            library.duplicate_scene(
                session, name, new_name, author=user.email, scenes_dir=state.runtime.settings.scenes_dir
            )

    try:
        await run_in_threadpool(copy)
    except PvideoError as exc:
        return await run_in_threadpool(_scene_page, request, state, user, name, error=str(exc), new_name=new_name)
    return RedirectResponse(f"/studio/scenes/{quote(new_name)}", status_code=303)


@router.post("/scenes/{name}/archive", dependencies=[CsrfChecked])
def archive(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """Offer the scene for no new campaign; its versions and the campaigns pinned to them stay."""
    try:
        with state.runtime.db.session() as session:
            library.archive_scene(session, name, author=user.email, scenes_dir=state.runtime.settings.scenes_dir)
    except PvideoError as exc:
        return _scene_page(request, state, user, name, error=str(exc))
    return RedirectResponse(f"/studio/scenes/{quote(name)}", status_code=303)


@router.post("/scenes/{name}/unarchive", dependencies=[CsrfChecked])
def unarchive(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    try:
        with state.runtime.db.session() as session:
            library.unarchive_scene(session, name)
    except PvideoError as exc:
        return _scene_page(request, state, user, name, error=str(exc))
    return RedirectResponse(f"/studio/scenes/{quote(name)}", status_code=303)
