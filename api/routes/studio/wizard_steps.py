"""What every step of the new-campaign wizard shares: its pages, its scene, its upload, its rows.

The wizard is six plain GET pages and POST forms (``wizard``, ``wizard_check``,
``wizard_preview``, ``wizard_options``); between steps the choices live on the
``StudioUpload`` row, so any step can be reloaded, bookmarked or reached without
JavaScript. An upload is its sender's only: another user's id is a 404 page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.routes.studio.signed_in import StudioRedirect, page
from api.state import AppState
from pvideo.db.models import SceneVersion, StudioUpload, User
from pvideo.errors import NotFound, PvideoError
from pvideo.jobs.scenelibrary import CurrentScene, SceneArchived, current_scene, get_version, version_spec
from pvideo.jobs.uploads import get_upload, table_path
from pvideo.scene.customers import CustomerRow
from pvideo.scene.mapping import mapped_rows
from pvideo.scene.spec import SceneSpec
from pvideo.scene.tables import read_table

STEPS = ("Scene", "File", "Columns", "Check", "Preview", "Options")


@dataclass
class Upload:
    """An upload of the signed-in user with its scene, loaded for one request."""

    row: StudioUpload
    spec: SceneSpec
    path: Path

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def mapping(self) -> dict[str, str | None]:
        return dict(self.row.mapping or {})

    def table(self) -> tuple[list[str], Iterator[CustomerRow]]:
        """The file's columns and its rows as read (raw, unmapped)."""
        return read_table(self.path, self.row.kind, sheet=self.row.sheet, source=self.row.filename)

    def rows(self) -> Iterator[CustomerRow]:
        """The rows under the saved mapping: scene field -> value, as a campaign would read them."""
        return mapped_rows(self.table()[1], self.mapping)


def wizard_page(
    request: Request, name: str, context: dict[str, Any], *, user: User, step: int, status_code: int = 200
) -> Response:
    """A wizard step's page: the studio layout with the list of steps, step ``step`` (1-6) current."""
    return page(
        request,
        name,
        {"nav": "new", "steps": STEPS, "step": step, **context},
        user=user,
        status_code=status_code,
    )


def missing(request: Request, user: User, message: str) -> StudioRedirect:
    """The wizard's 404 page (another user's upload is as missing as one that never was)."""
    return StudioRedirect(
        page(request, "studio/wizard_missing.html", {"nav": "new", "message": message}, user=user, status_code=404)
    )


def current(request: Request, state: AppState, user: User, name: str) -> CurrentScene:
    """The scene ``name`` stands for now (its latest version, else its file in scenes/), else
    the 404 page (an archived scene too); a broken scene's page names its error."""
    runtime = state.runtime
    try:
        with runtime.db.session() as session:
            return current_scene(session, runtime.settings.scenes_dir, name)
    except NotFound as exc:
        message = f"There is no scene {name[:100]!r}. Pick one from the list."
        raise missing(request, user, str(exc) if isinstance(exc, SceneArchived) else message) from None
    except PvideoError as exc:
        raise missing(request, user, f"Scene {name!r} cannot be used: {exc}") from None


def scene_spec(request: Request, state: AppState, user: User, name: str, version: int | None = None) -> SceneSpec:
    """The spec of ``current``; with ``version``, that version of the library's scene (archived too)."""
    if version is None:
        return current(request, state, user, name).spec
    try:
        with state.runtime.db.session() as session:
            return version_spec(name, get_version(session, name, version))
    except PvideoError as exc:
        raise missing(request, user, str(exc)) from None


def _pinned_spec(request: Request, state: AppState, user: User, row: StudioUpload) -> SceneSpec:
    """The scene version the upload pinned (a scene file's upload pins none: the file now)."""
    if row.scene_version_id is None:
        return scene_spec(request, state, user, row.scene_name)
    with state.runtime.db.session() as session:
        version = session.get(SceneVersion, row.scene_version_id)
    if version is None:
        raise missing(request, user, f"The version of scene {row.scene_name!r} this upload used is gone.")
    try:
        return version_spec(row.scene_name, version)
    except PvideoError as exc:
        raise missing(request, user, f"Scene {row.scene_name!r} cannot be used: {exc}") from None


def load_upload(request: Request, state: AppState, user: User, upload_id: str) -> Upload:
    """The signed-in user's upload ``upload_id`` with the scene version it pinned, else the 404 page."""
    runtime = state.runtime
    with runtime.db.session() as session:
        try:
            row = get_upload(session, upload_id, user.id)
        except NotFound as exc:
            raise missing(request, user, str(exc)) from None
        session.expunge(row)
    path = table_path(runtime.settings, row)
    if not path.is_file():
        raise missing(request, user, "This upload has expired (files are kept for a day). Upload it again.")
    return Upload(row, _pinned_spec(request, state, user, row), path)


def field_rows(spec: SceneSpec) -> list[dict[str, Any]]:
    """The scene's fields for a table: name, type, required, default."""
    return [
        {"name": name, "type": field.type, "required": field.required, "default": field.default}
        for name, field in spec.fields.items()
    ]
