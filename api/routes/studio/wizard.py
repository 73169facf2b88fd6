"""The new-campaign wizard, steps 1-3: pick a scene, upload its customers, map columns to fields.

Step 2 streams the file to disk (``pvideo.jobs.uploads``) and reads its header at once, so a
wrong encoding, a duplicate header or binary garbage is named on the upload page and nothing
is kept. An XLSX with several sheets asks which one first. Step 3 proposes a column for each
field (by name, then as last time for this scene) and remembers what was saved.
The later steps are in ``wizard_check``, ``wizard_preview`` and ``wizard_options``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import StateDep
from api.routes.studio import wizard_check, wizard_options, wizard_preview
from api.routes.studio.library import library_cards
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser
from api.routes.studio.wizard_steps import (
    Upload,
    current,
    field_rows,
    load_upload,
    scene_spec,
    wizard_page,
)
from api.state import AppState
from pvideo.db.models import StudioUpload, User
from pvideo.errors import DataError
from pvideo.jobs.mappings import remember_mapping, remembered_mapping
from pvideo.jobs.scenelibrary import CurrentScene
from pvideo.jobs.uploads import discard_upload, store_upload, table_path
from pvideo.scene.customers import limit_rows
from pvideo.scene.mapping import auto_mapping, mapping_problems
from pvideo.scene.spec import SceneSpec
from pvideo.scene.tables import read_table, sheet_names
from pvideo.settings import Settings

router = APIRouter()
NOT_IN_FILE = ""  # the select's value for "— not in the file —"


@router.get("/campaigns/new")
def pick_scene(request: Request, state: StateDep, user: SubmitterUser) -> Response:
    """Step 1: every scene offered for campaigns as a card (its latest version, else its file in
    scenes/; archived scenes are left out); a broken one shows its error instead."""
    cards = library_cards(state, archived=False)
    return wizard_page(request, "studio/wizard_scenes.html", {"cards": cards}, user=user, step=1)


def _upload_page(
    request: Request, user: User, spec: SceneSpec, scene: str, *, error: str | None = None, status_code: int = 200
) -> Response:
    context = {"scene": scene, "spec": spec, "fields": field_rows(spec), "error": error}
    return wizard_page(request, "studio/wizard_upload.html", context, user=user, step=2, status_code=status_code)


@router.get("/campaigns/new/upload")
def upload_form(request: Request, state: StateDep, user: SubmitterUser, scene: str = Query("")) -> Response:
    """Step 2: the file input in a drop zone (``upload.js`` adds drag and drop and a progress bar)."""
    spec = scene_spec(request, state, user, scene)
    return _upload_page(request, user, spec, scene)


def _read_through(settings: Settings, upload: StudioUpload, sheet: str | None) -> None:
    """Read the whole table once, so a problem of the file itself (an encoding that changes
    halfway, an oversized cell, too many rows) is named now, on the upload page."""
    rows = read_table(table_path(settings, upload), upload.kind, sheet=sheet, source=upload.filename)[1]
    for _ in limit_rows(rows, settings.max_rows, source=upload.filename):
        pass


def _accept(state: AppState, user: User, scene: CurrentScene, file: UploadFile) -> tuple[str, bool]:
    """Store the file and read it through (a workbook of several sheets: once one is picked);
    the upload's id, and whether a sheet is to be picked. Any ``DataError`` keeps nothing.
    The upload pins the scene's version: later steps and the campaign use that one."""
    runtime = state.runtime
    with runtime.db.session() as session:
        upload = store_upload(
            session, runtime.settings, file.file, user_id=user.id, scene_name=scene.name, filename=file.filename or ""
        )
        upload.scene_version_id = scene.version_id
        try:
            path = table_path(runtime.settings, upload)
            sheets = sheet_names(path)
            if len(sheets) > 1:
                return upload.id, True
            upload.sheet = sheets[0] if sheets else None
            _read_through(runtime.settings, upload, upload.sheet)
        except BaseException:
            discard_upload(session, runtime.settings, upload)
            raise
        return upload.id, False


@router.post("/campaigns/new/upload", dependencies=[CsrfChecked])
async def upload_file(request: Request, state: StateDep, user: SubmitterUser, scene: str = Query("")) -> Response:
    """Store the file (streamed to disk); its kind, encoding, header and cells are checked at once."""
    chosen = await run_in_threadpool(current, request, state, user, scene)
    spec = chosen.spec
    form = await request.form(max_files=1, max_fields=5)  # parts past 1 MB spool to disk
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return _upload_page(request, user, spec, scene, error="Choose a CSV or XLSX file.", status_code=422)
    try:
        upload_id, pick_sheet = await run_in_threadpool(_accept, state, user, chosen, file)
    except DataError as exc:
        return _upload_page(request, user, spec, scene, error=str(exc), status_code=422)
    finally:
        await form.close()
    target = f"/studio/uploads/{upload_id}/sheet" if pick_sheet else f"/studio/uploads/{upload_id}/columns"
    return RedirectResponse(target, status_code=303)


def _sheet_page(request: Request, user: User, upload: Upload, sheets: list[str], error: str | None = None) -> Response:
    context = {"upload": upload.row, "sheets": sheets, "error": error}
    code = 422 if error else 200
    return wizard_page(request, "studio/wizard_sheet.html", context, user=user, step=2, status_code=code)


@router.get("/uploads/{upload_id}/sheet")
def sheet_form(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Step 2, for a workbook of several sheets: which one holds the customers."""
    upload = load_upload(request, state, user, upload_id)
    return _sheet_page(request, user, upload, sheet_names(upload.path))


@router.post("/uploads/{upload_id}/sheet", dependencies=[CsrfChecked])
async def choose_sheet(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    upload = await run_in_threadpool(load_upload, request, state, user, upload_id)
    sheets = await run_in_threadpool(sheet_names, upload.path)
    chosen = (await request.form()).get("sheet")
    if chosen not in sheets:
        return _sheet_page(request, user, upload, sheets, error="Pick one of the workbook's sheets.")
    try:
        await run_in_threadpool(_read_through, state.runtime.settings, upload.row, chosen)
    except DataError as exc:
        return _sheet_page(request, user, upload, sheets, error=str(exc))
    await run_in_threadpool(_save, state, upload.id, sheet=chosen, mapping=None)
    return RedirectResponse(f"/studio/uploads/{upload.id}/columns", status_code=303)


def _save(state: AppState, upload_id: str, **changes: Any) -> None:
    with state.runtime.db.session() as session:
        row = session.get(StudioUpload, upload_id)
        if row is not None:
            for key, value in changes.items():
                setattr(row, key, value)


def _columns_page(
    request: Request,
    user: User,
    upload: Upload,
    columns: list[str],
    mapping: dict[str, str | None],
    *,
    problems: list[str],
    error: str | None = None,
) -> Response:
    context = {
        "upload": upload.row,
        "fields": field_rows(upload.spec),
        "columns": columns,
        "mapping": mapping,
        "problems": problems,
        "error": error,
        "not_in_file": NOT_IN_FILE,
    }
    code = 422 if error else 200
    return wizard_page(request, "studio/wizard_columns.html", context, user=user, step=3, status_code=code)


def _columns(state: AppState, upload: Upload) -> tuple[list[str], dict[str, str | None]]:
    """The file's columns and the mapping to propose: the saved one, else matched by name and
    by what was used last time with this scene."""
    columns = upload.table()[0]
    if upload.row.mapping is not None:
        return columns, upload.mapping
    with state.runtime.db.session() as session:
        remembered = remembered_mapping(session, upload.row.scene_name)
    return columns, auto_mapping(list(upload.spec.fields), columns, remembered)


@router.get("/uploads/{upload_id}/columns")
def columns_form(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Step 3: one select per scene field, auto-matched; the field's type and default shown."""
    upload = load_upload(request, state, user, upload_id)
    try:
        columns, mapping = _columns(state, upload)
    except DataError as exc:
        return _columns_page(request, user, upload, [], {}, problems=[], error=str(exc))
    problems = mapping_problems(upload.spec, columns, mapping)
    return _columns_page(request, user, upload, columns, mapping, problems=problems)


@router.post("/uploads/{upload_id}/columns", dependencies=[CsrfChecked])
async def save_columns(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Save the mapping on the upload and remember it for the scene, then check the rows."""
    upload = await run_in_threadpool(load_upload, request, state, user, upload_id)
    form = await request.form()
    try:
        columns = (await run_in_threadpool(upload.table))[0]
    except DataError as exc:
        return _columns_page(request, user, upload, [], {}, problems=[], error=str(exc))
    mapping: dict[str, str | None] = {}
    for field in upload.spec.fields:
        chosen = form.get(f"field-{field}")
        mapping[field] = chosen if isinstance(chosen, str) and chosen in columns else None
    problems = mapping_problems(upload.spec, columns, mapping)
    if problems:
        error = "Fix the mapping first: " + " ".join(problems)
        return _columns_page(request, user, upload, columns, mapping, problems=problems, error=error)

    def save() -> None:
        _save(state, upload.id, mapping=mapping)
        with state.runtime.db.session() as session:
            remember_mapping(session, upload.row.scene_name, mapping)

    await run_in_threadpool(save)
    return RedirectResponse(f"/studio/uploads/{upload.id}/check", status_code=303)


for _step in (wizard_check, wizard_preview, wizard_options):
    router.include_router(_step.router)
