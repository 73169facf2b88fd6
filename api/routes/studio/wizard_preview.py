"""The new-campaign wizard, step 5: one row as a still frame at any time, and as a real sample video.

Frames (and the scene cards' posters) go through the scene preview's sandbox
(``api.routes.scenes``): a child process with memory and CPU limits, at most
``AppState.previews`` at once. A sample video is the production engine on one row
(``pvideo.jobs.samplevideo``): one at a time per user, and it takes a preview slot too.
Both are written under the upload's folder and served only to the upload's owner.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.deps import StateDep
from api.routes.scenes import finish_preview, preview_sandbox
from api.routes.studio.signed_in import CsrfChecked, SubmitterUser
from api.routes.studio.wizard_steps import Upload, load_upload, missing, scene_spec, wizard_page
from api.state import AppState
from pvideo.db.models import User
from pvideo.errors import DataError, PvideoError
from pvideo.jobs.samplevideo import render_sample
from pvideo.jobs.uploads import report_key
from pvideo.plan.assets import resolve_asset
from pvideo.plan.uploads import asset_root
from pvideo.render.probe import VideoInfo, probe
from pvideo.render.sandboxed import PreviewJob
from pvideo.scene.customers import CustomerRow, coerce_row
from pvideo.scene.samples import sample_row
from pvideo.scene.spec import SceneSpec

router = APIRouter()
SLOT_WAIT_SECONDS = 10.0  # a page of scene cards asks for several posters at once: they queue, briefly
PNG_HEADERS = {"Cache-Control": "private, max-age=300"}


class _Busy(Exception):
    """No preview slot came free in time, or the user's previous sample is still rendering."""


@contextmanager
def _preview_slot(state: AppState) -> Iterator[None]:
    """One of the app's preview slots, waited for briefly (``_Busy`` when they stay taken)."""
    if not state.previews.acquire(timeout=SLOT_WAIT_SECONDS):
        raise _Busy("too many previews are running; try again shortly")
    try:
        yield
    finally:
        state.previews.release()


async def _still(request: Request, state: AppState, spec: SceneSpec, row: dict[str, Any], at: float) -> Response:
    """The frame at ``at`` of ``spec`` for ``row``, from the sandbox; its error as text (422)."""
    settings = state.runtime.settings
    if not await anyio.to_thread.run_sync(lambda: state.previews.acquire(timeout=SLOT_WAIT_SECONDS)):
        return Response(
            "too many previews are running; try again shortly", status_code=429, headers={"Retry-After": "2"}
        )
    try:
        running = preview_sandbox(request.app).start(PreviewJob.for_settings(settings, spec.to_json(), row, at))
        png = await finish_preview(running, request, settings.preview_timeout_seconds)
    except TimeoutError:
        return Response(f"the frame took longer than {settings.preview_timeout_seconds:g} s", status_code=504)
    except PvideoError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain")
    finally:
        state.previews.release()  # the child is done or dead by now
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


@router.get("/scenes/{name}/poster.png")
async def poster(
    request: Request, state: StateDep, user: SubmitterUser, name: str, version: int | None = Query(None, ge=1)
) -> Response:
    """A scene card's poster: its frame at ``poster_at`` with sample values, made once per scene version
    (``version``: that version of the library's scene, else the scene a new campaign would use)."""
    spec = await run_in_threadpool(scene_spec, request, state, user, name, version)
    return await poster_of(request, state, spec)


async def poster_of(request: Request, state: AppState, spec: SceneSpec) -> Response:
    """The poster of ``spec``, from the cache of posters or made now in the preview sandbox."""
    settings = state.runtime.settings
    try:
        template = resolve_asset(asset_root(settings, state.runtime.storage), spec.video).stat()
    except (PvideoError, OSError):
        return Response("the scene's template video is missing", status_code=422)
    key = report_key(spec.to_json(), template.st_mtime_ns, template.st_size)
    cached = settings.data_dir / "studio-posters" / f"{key}.png"
    if cached.is_file():
        return FileResponse(cached, media_type="image/png", headers=PNG_HEADERS)
    response = await _still(request, state, spec, _jsonable(sample_row(spec)), spec.poster_at)
    if response.status_code == 200:
        cached.parent.mkdir(parents=True, exist_ok=True)
        part = cached.with_suffix(f".{threading.get_ident()}.part")
        part.write_bytes(response.body)
        part.replace(cached)
    return response


def _jsonable(data: Any) -> dict[str, Any]:
    """A row as the sandbox's JSON job carries it (a date default as its ISO text)."""
    return dict(json.loads(json.dumps(dict(data), default=str)))


def _find_row(upload: Upload, pick: str, number: int | None, customer: str) -> CustomerRow | None:
    """The first row, a random one (one pass, reservoir of one), row ``number``, or the one whose
    customer id is ``customer``; ``None`` when there is no such row. Cached for ``frame.png``."""
    found: CustomerRow | None = None
    id_field = upload.spec.id_field
    for count, row in enumerate(upload.rows(), start=1):
        if pick == "random":
            if random.randrange(count) == 0:
                found = row
            continue
        if (
            pick == "first"
            or (pick == "row" and row.number == number)
            or (pick == "customer" and str(row.data.get(id_field, "")).strip() == customer.strip())
        ):
            found = row
        if found is not None:
            break
    if found is not None:
        found = CustomerRow(found.number, _jsonable(found.data))
        _row_file(upload, found.number).write_text(json.dumps(found.data), encoding="utf-8")
    return found


def _row_file(upload: Upload, number: int) -> Path:
    """Where the row found for the preview page is kept for its frames (per mapping: a new one reads anew)."""
    return upload.path.parent / f"row-{report_key(upload.mapping, upload.row.sheet)}-{number}.json"


def _sample_file(upload: Upload, number: int) -> Path:
    return upload.path.parent / f"sample-{report_key(upload.mapping, upload.row.sheet)}-{number}.mp4"


def _row(upload: Upload, number: int) -> CustomerRow | None:
    """Row ``number`` as the preview page found it (cached), else read again."""
    try:
        return CustomerRow(number, json.loads(_row_file(upload, number).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return _find_row(upload, "row", number, "")


def _template(state: AppState, spec: SceneSpec) -> VideoInfo | None:
    try:
        return probe(
            resolve_asset(asset_root(state.runtime.settings, state.runtime.storage), spec.video), count_frames=False
        )
    except PvideoError:
        return None


def _preview_page(
    request: Request, state: AppState, user: User, upload: Upload, row: CustomerRow | None, **context: Any
) -> Response:
    template = _template(state, upload.spec)
    problem = None
    if row is not None:
        try:
            coerce_row(upload.spec, row.data, row=row.number, source=upload.row.filename)
        except DataError as exc:
            problem = str(exc)
    context = {
        "upload": upload.row,
        "spec": upload.spec,
        "row": row,
        "problem": problem,
        "fields": list(upload.spec.fields),
        "duration": template.duration if template else 0,
        "has_sample": row is not None and _sample_file(upload, row.number).is_file(),
        **context,
    }
    code = 422 if context.get("error") else 200
    return wizard_page(request, "studio/wizard_preview.html", context, user=user, step=5, status_code=code)


@router.get("/uploads/{upload_id}/preview")
async def preview_page(
    request: Request,
    state: StateDep,
    user: SubmitterUser,
    upload_id: str,
    pick: str = Query("first", pattern="^(first|random|row|customer)$"),
    row: int | None = Query(None, ge=1, le=2**31 - 1),
    customer: str = Query("", max_length=200),
    t: float = Query(-1, ge=-1, le=86_400),
) -> Response:
    """Step 5: pick a row (first, random, by number or customer id), see it at any time, render a sample."""
    upload = await run_in_threadpool(load_upload, request, state, user, upload_id)
    if upload.row.mapping is None:
        return RedirectResponse(f"/studio/uploads/{upload.id}/columns", status_code=303)
    if pick == "row" and row is None:
        pick = "first"
    try:
        found = await run_in_threadpool(_find_row, upload, pick, row, customer)
    except DataError as exc:
        return _preview_page(request, state, user, upload, None, pick=pick, t=0, error=str(exc))
    error = None
    if found is None:
        error = f"No row with customer id {customer!r}." if pick == "customer" else f"There is no row {row}."
    at = t if t >= 0 else upload.spec.poster_at
    return _preview_page(request, state, user, upload, found, pick=pick, t=at, customer=customer, error=error)


@router.get("/uploads/{upload_id}/frame.png")
async def frame(
    request: Request,
    state: StateDep,
    user: SubmitterUser,
    upload_id: str,
    row: int = Query(1, ge=1, le=2**31 - 1),
    t: float = Query(0, ge=0, le=86_400),
) -> Response:
    """Row ``row``'s frame at ``t`` seconds as a PNG (its error as text, 422, for a bad row)."""
    upload = await run_in_threadpool(load_upload, request, state, user, upload_id)
    found = await run_in_threadpool(_row, upload, row)
    if found is None:
        return Response(f"there is no row {row}", status_code=404, media_type="text/plain")
    return await _still(request, state, upload.spec, dict(found.data), t)


@router.post("/uploads/{upload_id}/sample", dependencies=[CsrfChecked])
async def sample(request: Request, state: StateDep, user: SubmitterUser, upload_id: str) -> Response:
    """Render the chosen row with the production engine; the preview page then plays it."""
    upload = await run_in_threadpool(load_upload, request, state, user, upload_id)
    form = await request.form()
    number = str(form.get("row", ""))
    found = await run_in_threadpool(_row, upload, int(number)) if number.isdigit() and len(number) < 10 else None
    if found is None:
        return _preview_page(request, state, user, upload, None, pick="row", t=0, error="Pick a row first.")
    runtime = state.runtime

    def render() -> None:
        with state.sample_renders.one_for(user.id) as free:
            if not free:
                raise _Busy("a sample of yours is rendering already; wait for it")
            with _preview_slot(state):
                render_sample(
                    upload.spec,
                    found.data,
                    number=found.number,
                    out=_sample_file(upload, found.number),
                    settings=runtime.settings,
                    storage=runtime.storage,
                    db=runtime.db,
                    source=upload.row.filename,
                )

    try:
        await run_in_threadpool(render)
    except (_Busy, PvideoError) as exc:
        message = f"The sample could not be rendered: {exc}"
        return _preview_page(request, state, user, upload, found, pick="row", t=0, error=message)
    at = str(form.get("t", "0"))
    return RedirectResponse(
        f"/studio/uploads/{upload.id}/preview?pick=row&row={found.number}&t={at if _number(at) else 0}#sample",
        status_code=303,
    )


def _number(text: str) -> bool:
    try:
        return 0 <= float(text) <= 86_400
    except ValueError:
        return False


@router.get("/uploads/{upload_id}/sample.mp4")
def sample_video(
    request: Request, state: StateDep, user: SubmitterUser, upload_id: str, row: int = Query(1, ge=1)
) -> Response:
    """The sample of row ``row``, for its owner only."""
    upload = load_upload(request, state, user, upload_id)
    path = _sample_file(upload, row)
    if not path.is_file():
        raise missing(request, user, "No sample of this row yet: render one from the preview step.")
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, no-cache"})
