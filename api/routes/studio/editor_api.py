"""The scene editor's JSON API: parse, apply edits, save a version, diff, schema, sample rows.

The editor page (``api.routes.studio.editor``) sends the whole YAML text with each call; the
server keeps no draft. Parsing and saving run the checks ``pvideo validate`` runs on a scene
(``pvideo.jobs.sceneedit``), so nothing the editor sends takes a weaker path than a file.
Edits keep the rest of the text (comments, quoting, order: ``pvideo.scene.document``).
Frames and sample videos are in ``api.routes.studio.editor_render``.

POSTs take the user's CSRF token in ``X-CSRF-Token`` and need marketing or admin; bodies
over ``MAX_BODY_BYTES`` are refused (413) before they are parsed.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from api.deps import StateDep
from api.routes.scenes import MAX_SCENE_CHARS
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser, ViewerUser, page
from api.state import AppState
from pvideo.db.models import Campaign, Render
from pvideo.errors import NotFound, PvideoError
from pvideo.jobs import scenelibrary as library
from pvideo.jobs.sceneedit import apply_edits, check_scene_text, outline, template_of
from pvideo.plan.assets import resolve_asset
from pvideo.plan.geometry import Frame, frame_size
from pvideo.plan.uploads import asset_root
from pvideo.scene.document import BOX_FIELDS, EditError
from pvideo.scene.problems import Problem, spec_problems
from pvideo.scene.spec import SceneSpec

router = APIRouter(prefix="/scenes/{name}/editor")
MAX_BODY_BYTES = 4 * MAX_SCENE_CHARS + 64_000  # the YAML (up to 4 bytes a character in JSON) and a row
MAX_EDITS = 500
ROWS_SHOWN = 20
JSON_HEADERS = {"Cache-Control": "no-store"}


class BodyError(Exception):
    """The request body is too large (413) or not the JSON object expected (422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def answer(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers=JSON_HEADERS)


def problems_answer(problems: list[Problem], status_code: int = 422) -> JSONResponse:
    return answer({"problems": [p.to_json() for p in problems]}, status_code)


def refusal(exc: BodyError) -> JSONResponse:
    return problems_answer([Problem(str(exc))], exc.status)


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object sent, read no further than ``MAX_BODY_BYTES``; its ``yaml`` checked for size."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyError(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyError(413, f"the request is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        raise BodyError(422, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise BodyError(422, "the body is a JSON object")
    text = body.get("yaml")
    if not isinstance(text, str):
        raise BodyError(422, 'field "yaml": the scene\'s YAML text is required')
    if len(text) > MAX_SCENE_CHARS:
        raise BodyError(413, f'field "yaml": more than {MAX_SCENE_CHARS} characters')
    return body


def known_name(name: str) -> str:
    """``name`` when it can name a scene; ``BodyError`` 404 otherwise."""
    if not library.SCENE_NAME.fullmatch(name):
        raise BodyError(404, "unknown scene (a name is letters, digits, - and _)")
    return name


def parsed(state: AppState, text: str) -> dict[str, Any]:
    """What ``parse`` answers: problems, and the outline the editor draws."""
    settings = state.runtime.settings
    checked = check_scene_text(text, settings, state.runtime.storage)
    result: dict[str, Any] = {
        "problems": [p.to_json() for p in checked.problems],
        "frame": None,
        "duration": None,
        "fps": None,
        "layers": [],
        "fields": [],
    }
    spec = checked.spec
    if spec is None:
        return result
    template = template_of(spec, settings, state.runtime.storage)
    if template is not None:
        result["frame"] = {"width": template.frame.width, "height": template.frame.height}
        result.update(duration=template.duration, fps=template.fps)
    result["layers"] = outline(spec, template)
    result["fields"] = [_field(name, spec) for name in spec.fields]
    return result


def _field(name: str, spec: SceneSpec) -> dict[str, Any]:
    field = spec.fields[name]
    return {"name": name, "type": field.type, "required": field.required, "default": field.default}


@router.post("/parse", dependencies=[CsrfChecked])
async def parse(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """The text's problems (each with layer, field, line), frame, duration and layers in pixels."""
    try:
        known_name(name)
        body = await read_body(request)
    except BodyError as exc:
        return refusal(exc)
    return answer(await run_in_threadpool(parsed, state, body["yaml"]))


def _frame(state: AppState, text: str) -> Frame | None:
    """The template's frame, for writing dragged pixels back in a box's units (``None``: unknown)."""
    _, _, data, _ = spec_problems(text)
    video = data.get("video") if isinstance(data, dict) else None
    if not isinstance(video, str):
        return None
    try:
        return frame_size(resolve_asset(asset_root(state.runtime.settings, state.runtime.storage), video))
    except (PvideoError, OSError):
        return None


def edited(state: AppState, text: str, edits: list[Any]) -> tuple[str | None, list[Problem]]:
    """The text with ``edits`` made, or the problems of the edits that cannot be made: no such
    layer, a field the layer lacks, or a value its field refuses."""
    needs_frame = any(isinstance(e, dict) and isinstance(e.get("set"), dict) and set(e["set"]) & set(BOX_FIELDS)
                      for e in edits)  # fmt: skip
    try:
        new = apply_edits(text, edits, _frame(state, text) if needs_frame else None)
    except EditError as exc:
        return None, [Problem(str(exc), layer=exc.layer, field=exc.field)]
    except PvideoError as exc:  # the text itself does not load
        return None, [Problem(str(exc))]
    touched = {
        (edit["layer"], key if key not in BOX_FIELDS else f"box.{key}")
        for edit in edits
        if isinstance(edit, dict) and isinstance(edit.get("set"), dict)
        for key in edit["set"]
    }
    _, problems, _, _ = spec_problems(new)
    refused = [p for p in problems if p.field and any(
        p.layer == layer and (p.field == key or p.field.startswith(f"{key}.")) for layer, key in touched
    )]  # fmt: skip
    return (None, refused) if refused else (new, [])


@router.post("/apply", dependencies=[CsrfChecked])
async def apply(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """The YAML with the edits made, everything else kept; 422 with problems for an edit that cannot be made."""
    try:
        known_name(name)
        body = await read_body(request)
    except BodyError as exc:
        return refusal(exc)
    edits = body.get("edits")
    if not isinstance(edits, list) or len(edits) > MAX_EDITS:
        return problems_answer([Problem(f'field "edits": a list of at most {MAX_EDITS} edits')])
    text, problems = await run_in_threadpool(edited, state, body["yaml"], edits)
    return problems_answer(problems) if text is None else answer({"yaml": text})


@router.post("/save", dependencies=[CsrfChecked])
async def save(request: Request, state: StateDep, user: SubmitterUser, name: str) -> Response:
    """Save the text as the scene's next version when it passes every check; a warning when
    ``base`` (the version the editor opened) is no longer the latest."""
    try:
        known_name(name)
        body = await read_body(request)
    except BodyError as exc:
        return refusal(exc)
    text, note, base = body["yaml"], body.get("note"), body.get("base")
    if not isinstance(note, (str, type(None))) or not (base is None or (isinstance(base, int) and base >= 0)):
        return problems_answer([Problem('fields "note" (text) and "base" (a version number or null)')])
    checked = await run_in_threadpool(check_scene_text, text, state.runtime.settings, state.runtime.storage)
    if checked.problems:
        return problems_answer(checked.problems)

    def store() -> tuple[int, int | None, bool]:
        with state.runtime.db.session() as session:
            scene = library.find_scene(session, name)
            latest = library.latest_version(session, scene) if scene is not None else None
            saved = library.save_version(session, name, text, author=user.email, note=note)
            number = saved.version.number
            session.commit()
            return number, latest.number if latest else None, saved.created

    try:
        number, latest, created = await run_in_threadpool(store)
    except PvideoError as exc:
        return problems_answer([Problem(str(exc))])
    result: dict[str, Any] = {"version": number, "url": f"/studio/scenes/{name}", "created": created}
    if base != latest:
        was = f"version {latest}" if latest else "no version"
        result["warning"] = f"you edited version {base}, but the latest was {was}: your text is saved as {number}"
    elif not created:
        result["warning"] = f"nothing changed: version {number} already has this text"
    return answer(result)


@router.get("/schema.json")
def schema(user: ViewerUser, name: str) -> Response:
    """The scene language's JSON Schema, for the editor's completion and lint."""
    return answer(SceneSpec.model_json_schema())


@router.get("/versions/{a}/diff/{b}")
def diff(request: Request, state: StateDep, user: ViewerUser, name: str, a: int, b: int) -> Response:
    """Version ``a`` against version ``b`` of the scene, line by line."""
    try:
        with state.runtime.db.session() as session:
            old, new = library.get_version(session, name, a), library.get_version(session, name, b)
            old_text, new_text = old.yaml_text, new.yaml_text
    except NotFound as exc:
        missing = {"nav": "scenes", "message": str(exc)}
        return page(request, "studio/wizard_missing.html", missing, user=user, status_code=404)
    lines = list(
        difflib.unified_diff(
            old_text.splitlines(), new_text.splitlines(), f"{name} v{a}", f"{name} v{b}", lineterm="", n=3
        )
    )
    rows = [(_kind(line), line) for line in lines[2:]]
    context = {"nav": "scenes", "name": name, "a": a, "b": b, "rows": rows, "same": old_text == new_text}
    return page(request, "studio/scene_diff.html", context, user=user)


def _kind(line: str) -> str:
    return {"+": "added", "-": "removed", "@": "hunk"}.get(line[:1], "same")


@router.get("/rows")
def rows(state: StateDep, user: SubmitterUser, name: str) -> Response:
    """Up to ``ROWS_SHOWN`` customer rows of the latest campaigns on this scene (their field values)."""
    found: list[dict[str, Any]] = []
    with state.runtime.db.session() as session:
        campaigns = session.execute(
            select(Campaign.id, Campaign.name)
            .where(Campaign.scene_name == name)
            .order_by(Campaign.created_at.desc())
            .limit(ROWS_SHOWN)
        ).all()
        for campaign_id, campaign_name in campaigns:
            query = (
                select(Render.row_number, Render.data)
                .where(Render.campaign_id == campaign_id, Render.data.is_not(None))
                .order_by(Render.row_number)
                .limit(ROWS_SHOWN - len(found))
            )
            for number, data in session.execute(query):
                found.append({"campaign": campaign_id, "campaign_name": campaign_name, "row": number, "values": data})
            if len(found) >= ROWS_SHOWN:
                break
    return answer({"rows": found})
